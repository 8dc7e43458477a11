"""Spatial-BCE training on the toy set: phases, Q updates, resume, and Q gathered over ranks."""

import os
import socket
from types import SimpleNamespace

import numpy as np
import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from mmengine.config import Config
from mmengine.logging import MMLogger
from mmengine.registry import init_default_scope
from mmengine.runner import Runner

from mmhfpl.engine import QUpdateHook
from mmhfpl.pseudo_labels import (
    BackgroundRule,
    load_q_file,
    ratios_from_label_dir,
    record_to_label,
    save_q_file,
    tnt_ratio,
    tta_record,
)
from mmhfpl.registry import MODELS
from mmhfpl.structures import image_id
from tests.conftest import REPO, as_cli, run_tool, tiny_options

CONFIG = 'configs/spatial_bce/spatial_bce_r18_toy.py'


def _gt_q_file(toy_root: str, path: str, num_classes: int = 6) -> str:
    """A Q file from the GT masks (void counted as background) of the toy train split."""
    ids = open(os.path.join(toy_root, 'ImageSets/Segmentation/train.txt')).read().split()
    ratios = ratios_from_label_dir(os.path.join(toy_root, 'SegmentationClass'), ids,
                                   num_classes)
    save_q_file(path, ratios)
    return path


def _options(toy_root: str, q_file: str, max_iters: int) -> dict:
    options = tiny_options(toy_root, max_iters=max_iters, interval=2)
    del options['param_scheduler.0.end']
    options.update({
        'model.backbone.init_cfg': None,
        'param_scheduler.0.phase_iters': 2,
        'custom_hooks.0.period': 2,
        'custom_hooks.0.prob_iters': 1,
        'custom_hooks.1.interval': 2,
        'custom_hooks.1.q_file': q_file,
    })
    return options


@pytest.mark.slow
def test_three_phases_update_q_and_resume_restores_it(tmp_path, toy_root):
    work = tmp_path / 'work'
    q_init = _gt_q_file(toy_root, str(tmp_path / 'q_init.npz'))
    run_tool(['python', 'tools/train.py', CONFIG, '--work-dir', str(work),
              *as_cli(_options(toy_root, q_init, max_iters=4))])
    first = load_q_file(work / 'q' / 'q_iter_2.npz', 6)
    second = load_q_file(work / 'q' / 'q_iter_4.npz', 6)
    initial = load_q_file(q_init, 6)
    assert sorted(first) == sorted(initial)
    assert any(not np.allclose(first[i], initial[i]) for i in initial), 'Q was re-estimated'
    assert any(not np.allclose(first[i], second[i]) for i in initial), 'each phase updates Q'
    # The checkpoint of the phase end carries the updated Q and loads with weights_only.
    state = torch.load(work / 'iter_4.pth', map_location='cpu', weights_only=True)['tnt_ratio']
    for sample_id, row in zip(state['ids'], state['ratios'].numpy(), strict=True):
        np.testing.assert_array_equal(row, second[sample_id])

    # Resume with a Q file that does not exist: the run must take Q from the checkpoint.
    result = run_tool(['python', 'tools/train.py', CONFIG, '--work-dir', str(work), '--resume',
                       *as_cli(_options(toy_root, str(tmp_path / 'absent.npz'), max_iters=6))])
    log = result.stdout + result.stderr
    assert 'restored from the checkpoint' in log and 'initial Q' not in log
    assert 'Iter(train) [5/6]' in log and 'Iter(train) [1/6]' not in log
    assert (work / 'q' / 'q_iter_6.npz').exists()


@pytest.mark.parametrize('keep_missing,normalize', [(True, False), (False, True)])
def test_eq9_labels_of_the_update_match_the_q_it_stores(tmp_path, toy_root, keep_missing,
                                                         normalize):
    """One update by hand: Eq. 9 labels of the current network give exactly the new Q."""
    q_file = _gt_q_file(toy_root, str(tmp_path / 'q.npz'))
    initial = load_q_file(q_file, 6)
    runner, hook = _runner_and_hook(toy_root, tmp_path, q_file)
    hook.keep_missing, hook.normalize = keep_missing, normalize
    hook.update(runner)
    updated = load_q_file(tmp_path / 'q' / 'q_iter_2.npz', 6)
    assert runner.model.training, 'the update restores training mode'
    runner.model.eval()
    dataset = hook._dataset
    kept = 0
    for index in range(len(dataset)):
        info = dataset.get_data_info(index)
        sample_id = image_id(info['img_path'])
        record = tta_record(runner.model, dataset[index], 6, info['gt_label'])
        label = record_to_label(record, BackgroundRule(adaptive=True, normalize=normalize))
        present = set(np.unique(label).tolist()) - {0}
        assert present <= {int(c) + 1 for c in info['gt_label']}
        expected = tnt_ratio(label, 6)
        for c in info['gt_label'].tolist():
            if keep_missing and expected[c] == 0:  # a labelled class without pixels
                expected[c] = initial[sample_id][c]
                kept += 1
        np.testing.assert_array_equal(updated[sample_id], expected)
    if keep_missing:  # raw probabilities of the untrained network miss some classes
        assert kept > 0, 'the untrained network misses some labelled classes'


def _runner_and_hook(toy_root: str, work_dir, q_file: str, state_path: str | None = None):
    cfg = Config.fromfile(str(REPO / CONFIG))
    cfg.merge_from_dict(_options(toy_root, q_file, max_iters=2))
    init_default_scope('mmhfpl')
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    if state_path is not None:
        model.load_state_dict(torch.load(state_path, weights_only=True))
    runner = SimpleNamespace(model=model, cfg=cfg, iter=1, work_dir=str(work_dir),
                             logger=MMLogger.get_instance('q_update_test'))
    hook = QUpdateHook(q_file=q_file, interval=2)
    hook.before_train(runner)
    return runner, hook


def _gather_worker(rank: int, port: int, toy_root: str, work_dir: str, q_file: str,
                   state_path: str) -> None:
    torch.set_num_threads(1)
    dist.init_process_group('gloo', init_method=f'tcp://127.0.0.1:{port}', rank=rank,
                            world_size=2)
    try:
        runner, hook = _runner_and_hook(toy_root, work_dir, q_file, state_path)
        hook.update(runner)
    finally:
        dist.destroy_process_group()


def test_q_update_gathers_the_shards_of_two_gloo_processes(tmp_path, toy_root):
    q_file = _gt_q_file(toy_root, str(tmp_path / 'q.npz'))
    single_dir, dist_dir = tmp_path / 'single', tmp_path / 'dist'
    runner, hook = _runner_and_hook(toy_root, single_dir, q_file)
    state_path = str(tmp_path / 'model.pth')
    torch.save(runner.model.state_dict(), state_path)
    hook.update(runner)
    expected = load_q_file(single_dir / 'q' / 'q_iter_2.npz', 6)

    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        port = sock.getsockname()[1]
    mp.spawn(_gather_worker, args=(port, toy_root, str(dist_dir), q_file, state_path),
             nprocs=2, join=True)
    gathered = load_q_file(dist_dir / 'q' / 'q_iter_2.npz', 6)
    assert sorted(gathered) == sorted(expected)
    for sample_id, row in expected.items():
        np.testing.assert_allclose(gathered[sample_id], row, rtol=1e-5)


@pytest.mark.parametrize('config', ['spatial_bce_r38_voc.py', 'spatial_bce_hfpl_r38_voc.py'])
def test_real_scale_configs_train_two_iterations_on_tiny_inputs(tmp_path, toy_root, config):
    """The paper-setting configs (ResNet-38, RandAugment, SGD, phases) with the authors' input
    (the whole image resized to a square, 369; 64 here)."""
    cfg = Config.fromfile(str(REPO / 'configs/spatial_bce' / config))
    q_file = _gt_q_file(toy_root, str(tmp_path / 'q.npz'), num_classes=20)
    options = _options(toy_root, q_file, max_iters=2)
    options.update({
        'train_dataloader.batch_size': 2,
        'train_dataloader.dataset.ann_file': 'ImageSets/Segmentation/train.txt',
        'train_dataloader.dataset.data_prefix': dict(img_path='JPEGImages',
                                                     seg_map_path='SegmentationClass'),
        'train_dataloader.dataset.pipeline.1.scale': (64, 64),
        'model.backbone.init_cfg': None,
        'param_scheduler.0.phase_iters': 1,
        'custom_hooks.0.period': 2,
        'custom_hooks.0.prob_iters': 1,
        'custom_hooks.1.interval': 100,
        'val_cfg': None, 'val_dataloader': None, 'val_evaluator': None,
    })
    cfg.merge_from_dict(options)
    cfg.train_cfg.pop('val_interval')
    cfg.work_dir = str(tmp_path / 'work')
    runner = Runner.from_cfg(cfg)
    runner.train()
    head = runner.model.head
    assert head.phase == 'threshold', 'the second iteration ran the threshold sub-phase'
    assert head.conv_threshold.weight.shape == (20, 4096, 1, 1)
    assert len(head.losses) == (2 if 'hfpl' in config else 0)
    assert head.loss_tnt.direction == 'forward', "the paper setting keeps the authors' KL"
    resize = cfg.train_dataloader.dataset.pipeline[1]
    assert resize.type == 'Resize' and resize.keep_ratio is False
    assert Config.fromfile(str(REPO / 'configs/spatial_bce' / config)) \
        .train_dataloader.dataset.pipeline[1].scale == (369, 369), "the authors' input"
    q_hook = next(h for h in runner.hooks if type(h).__name__ == 'QUpdateHook')
    assert not q_hook.keep_missing, 'the authors re-count Q plainly (create_fg.py)'
    if 'hfpl' in config:  # 0.2 x ISL alone, no GAP BCE (docs/fidelity.md, row 9)
        isl = next(loss for loss in head.losses if type(loss).__name__ ==
                   'ImportanceSamplingLoss')
        assert isl.lambda_ == 1.0 and isl.loss_weight == 0.2
    lrs = {group['lr'] for group in runner.optim_wrapper.optimizer.param_groups}
    assert max(lrs) == pytest.approx(10 * min(lrs)), 'new layers learn 10x faster'
