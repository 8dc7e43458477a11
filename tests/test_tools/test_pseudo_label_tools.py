"""Stage-2 tools as a user runs them: generate_cams.py on 2 ranks, labels, evaluation."""

import json
import os
import sys
from dataclasses import replace

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope
from mmengine.runner import Runner
from PIL import Image

from mmhfpl.pseudo_labels import BackgroundRule, cam_tta_pipeline, load_cam_file, tta_record
from mmhfpl.pseudo_labels.dataset_access import build_split
from mmhfpl.pseudo_labels.make_labels import record_to_label
from mmhfpl.pseudo_labels.proportional_masks import PMM_CRF
from mmhfpl.registry import MODELS
from mmhfpl.structures import load_label_png
from tests.conftest import REPO, free_port, run_tool, tiny_options

CAM_CONFIG = str(REPO / 'configs/cam/cam_r18_toy.py')


@pytest.fixture(scope='module')
def cam_checkpoint(tmp_path_factory, toy_root):
    """A CAM model trained for two iterations on the toy fixture."""
    work_dir = tmp_path_factory.mktemp('cam_model')
    cfg = Config.fromfile(CAM_CONFIG)
    cfg.merge_from_dict(tiny_options(toy_root, max_iters=2, interval=2))
    cfg.work_dir = str(work_dir)
    cfg.experiment_name = 'pseudo_label_tools'
    Runner.from_cfg(cfg).train()
    return str(work_dir / 'iter_2.pth')


def test_cam_generation_on_two_ranks_then_labels_and_evaluation(tmp_path, toy_root,
                                                                cam_checkpoint):
    options = ['--cfg-options', f'test_dataloader.dataset.data_root={toy_root}']
    cams = tmp_path / 'cams'
    result = run_tool([sys.executable, '-m', 'torch.distributed.run', '--nproc_per_node', '2',
                       '--master_port', str(free_port()), 'tools/generate_cams.py', CAM_CONFIG,
                       cam_checkpoint, '--out-dir', str(cams), '--scales', '1.0', '0.5',
                       '--launcher', 'pytorch', *options])
    assert sorted(os.listdir(cams)) == [f'toy_{i:06d}.npz' for i in range(32, 40)]
    assert result.stdout.count('written') == 2, 'each rank reports its own shard'

    labels = tmp_path / 'labels'
    run_tool([sys.executable, 'tools/make_pseudo_labels.py', CAM_CONFIG, '--cams', str(cams),
              '--out-dir', str(labels), '--bg-threshold', '0.3', '--crf', '--workers', '2',
              *options])
    first = load_label_png(labels / 'toy_000032.png')
    assert first.shape == (128, 128) and first.max() <= 6
    # Two gloo ranks (each every second image) write the same labels as one process.
    sharded = tmp_path / 'labels_2ranks'
    result = run_tool([sys.executable, '-m', 'torch.distributed.run', '--nproc_per_node', '2',
                       '--master_port', str(free_port()), 'tools/make_pseudo_labels.py',
                       CAM_CONFIG, '--cams', str(cams), '--out-dir', str(sharded),
                       '--bg-threshold', '0.3', '--crf', '--launcher', 'pytorch', *options])
    assert result.stdout.count('4 written, 0 already present (this rank)') == 2
    for name in os.listdir(labels):
        assert (load_label_png(sharded / name) == load_label_png(labels / name)).all()

    # PMM's masks with the dCRF widths divided by 4 (the toy's) equal the library's.
    ppg = tmp_path / 'ppg'
    run_tool([sys.executable, 'tools/make_pseudo_labels.py', CAM_CONFIG, '--cams', str(cams),
              '--out-dir', str(ppg), '--ppg-alpha', '11', '--crf-scale-factor', '4', *options])
    image = np.asarray(Image.open(f'{toy_root}/JPEGImages/toy_000032.jpg').convert('RGB'))
    expected = record_to_label(load_cam_file(str(cams / 'toy_000032.npz')),
                               BackgroundRule(ppg_alpha=11.0), image,
                               replace(PMM_CRF, scale_factor=4.0))
    assert (load_label_png(ppg / 'toy_000032.png') == expected).all()

    report = tmp_path / 'sweep.json'
    out = run_tool([sys.executable, 'tools/eval_pseudo_labels.py', CAM_CONFIG, '--cams',
                    str(cams), '--bg-thresholds', '0.2', '0.4', '--json', str(report),
                    *options])
    rows = json.loads(report.read_text())
    assert [row['name'] for row in rows] == ['bg_thr=0.2', 'bg_thr=0.4']
    assert all(0 <= row['J'] <= 100 and 0 <= row['F'] <= 100 for row in rows)
    assert 'best J' in out.stdout

    out = run_tool([sys.executable, 'tools/eval_pseudo_labels.py', CAM_CONFIG, '--labels',
                    str(labels), *options])
    assert '8 images, 7 classes' in out.stdout


def test_cam_key_saves_seams_cam_before_the_pcm(tmp_path, toy_root):
    """--cam-key cam_cls writes SEAM's pre-PCM CAM; an unknown key fails naming the key."""
    config = str(REPO / 'configs/seam/seam_r18_toy.py')
    cfg = Config.fromfile(config)
    with DefaultScope.overwrite_default_scope('mmhfpl'):
        torch.manual_seed(0)
        model = MODELS.build(cfg.model).eval()
    checkpoint = tmp_path / 'seam.pth'
    torch.save({'state_dict': model.state_dict()}, checkpoint)
    options = ['--scales', '1.0', '--no-flip', '--cfg-options',
               f'test_dataloader.dataset.data_root={toy_root}']
    for key in ('cam', 'cam_cls'):
        run_tool([sys.executable, 'tools/generate_cams.py', config, str(checkpoint),
                  '--out-dir', str(tmp_path / key), '--cam-key', key, *options])
    cfg.merge_from_dict({'test_dataloader.dataset.data_root': toy_root})
    dataset = build_split(cfg, None, cam_tta_pipeline((1.0, ), False))
    checked = 0
    for index in range(len(dataset)):
        name = os.path.basename(dataset.get_data_info(index)['img_path'])[:-4] + '.npz'
        cam, cam_cls = (load_cam_file(tmp_path / key / name) for key in ('cam', 'cam_cls'))
        if len(cam.labels) == 0:
            continue
        expected = tta_record(model, dataset[index], 6, cam.labels, 'cam_cls')
        np.testing.assert_allclose(cam_cls.cams, expected.cams, atol=1e-3)
        assert not np.allclose(cam.cams, cam_cls.cams, atol=1e-3)
        checked += 1
    assert checked > 0
    with pytest.raises(AssertionError, match="sets no 'cam_pcm' field"):
        run_tool([sys.executable, 'tools/generate_cams.py', config, str(checkpoint),
                  '--out-dir', str(tmp_path / 'bad'), '--cam-key', 'cam_pcm', *options])


def test_raw_probs_needs_the_adaptive_rule(tmp_path):
    with pytest.raises(AssertionError, match='--raw-probs applies to --adaptive only'):
        run_tool([sys.executable, 'tools/make_pseudo_labels.py', CAM_CONFIG, '--cams',
                  str(tmp_path), '--out-dir', str(tmp_path / 'out'), '--bg-threshold', '0.3',
                  '--raw-probs'])


def test_sipe_cams_keep_their_background_through_the_tools(tmp_path, toy_root):
    """generate_cams.py fuses SIPE's flip pairs and stores the IS-CAM background, which
    make_pseudo_labels.py --bg-scale and eval_pseudo_labels.py --bg-scales use."""
    config = str(REPO / 'configs/sipe/sipe_r18_toy.py')
    cfg = Config.fromfile(config)
    with DefaultScope.overwrite_default_scope('mmhfpl'):
        torch.manual_seed(0)
        model = MODELS.build(cfg.model).eval()
        with torch.no_grad():
            model.head.conv_cls.weight.normal_(0, 0.3)
    checkpoint = tmp_path / 'sipe.pth'
    torch.save({'state_dict': model.state_dict()}, checkpoint)
    options = ['--cfg-options', f'test_dataloader.dataset.data_root={toy_root}']
    cams = tmp_path / 'cams'
    run_tool([sys.executable, 'tools/generate_cams.py', config, str(checkpoint), '--out-dir',
              str(cams), '--scales', '1.0', *options])
    cfg.merge_from_dict({'test_dataloader.dataset.data_root': toy_root})
    dataset = build_split(cfg, None, cam_tta_pipeline((1.0, ), True))
    labelled = 0
    for index in range(len(dataset)):
        name = os.path.basename(dataset.get_data_info(index)['img_path'])[:-4] + '.npz'
        record = load_cam_file(cams / name)
        assert record.background.shape == record.image_size
        expected = tta_record(model, dataset[index], 6, record.labels)
        np.testing.assert_allclose(record.background, expected.background, atol=1e-3)
        np.testing.assert_allclose(record.cams, expected.cams, atol=1e-3)
        labelled += len(record.labels) > 0
    assert labelled > 0
    labels = tmp_path / 'labels'
    run_tool([sys.executable, 'tools/make_pseudo_labels.py', config, '--cams', str(cams),
              '--out-dir', str(labels), '--bg-scale', '1', *options])
    assert len(os.listdir(labels)) == 8
    report = tmp_path / 'sweep.json'
    run_tool([sys.executable, 'tools/eval_pseudo_labels.py', config, '--cams', str(cams),
              '--bg-scales', '1', '0.5', '--json', str(report), *options])
    rows = json.loads(report.read_text())
    assert [row['name'] for row in rows] == ['bg_scale=1', 'bg_scale=0.5']
