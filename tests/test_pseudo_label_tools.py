"""Stage-2 tools as a user runs them: generate_cams.py on 2 ranks, labels, evaluation."""

import json
import os
import sys

import pytest
from mmengine.config import Config
from mmengine.runner import Runner

from mmhfpl.datasets.label_io import load_label_png

from .conftest import REPO, run_tool, tiny_options
from .test_tools import _free_port

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
                       '--master_port', str(_free_port()), 'tools/generate_cams.py', CAM_CONFIG,
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
