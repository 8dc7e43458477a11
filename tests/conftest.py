"""Shared fixtures: a small generated toy set and helpers to run the tools."""

import os

# OpenMP threads that wait spin only briefly before they sleep, in this process and the tools
# the tests launch: with GNU OpenMP's default (300,000 spins) two or three torch processes on
# 2 cores ran up to 10x slower each instead of 2-3x (benchmarks/bench_oversubscription.py);
# alone it costs about 3 %. Set before torch is imported, which reads it once.
os.environ.setdefault('GOMP_SPINCOUNT', '10000')

import importlib.util  # noqa: E402
import socket  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402
from types import ModuleType  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from mmhfpl.structures import CAMRecord, load_label_png, save_cam_file  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
TOY_CONFIG = str(REPO / 'configs/toy/multilabel_r18_toy.py')


@pytest.fixture(scope='session')
def toy_root(tmp_path_factory) -> str:
    """A 40-image toy set (32 train / 8 val, 128x128) shared by the whole session."""
    root = tmp_path_factory.mktemp('toy_voc')
    toy = load_tool('tools/dataset_converters/make_toy_voc.py')
    toy.make_toy_voc(str(root), toy.ToyVOCConfig(num_train=32, num_val=8, empty_fraction=0.2))
    return str(root)


def tiny_options(toy_root: str, max_iters: int = 4, interval: int = 2) -> dict:
    """Config overrides that shrink the toy config to a few CPU iterations."""
    options = {
        'train_dataloader.dataset.data_root': toy_root,
        'val_dataloader.dataset.data_root': toy_root,
        'test_dataloader.dataset.data_root': toy_root,
        'train_dataloader.batch_size': 4,
        'val_dataloader.batch_size': 8,
        'train_cfg.max_iters': max_iters,
        'train_cfg.val_interval': max_iters,
        'param_scheduler.0.end': max_iters,
        'default_hooks.checkpoint.interval': interval,
        'default_hooks.checkpoint.max_keep_ckpts': 10,
        'default_hooks.logger.interval': 1,
    }
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        options[f'{loader}.num_workers'] = 0
        options[f'{loader}.persistent_workers'] = False
    return options


def as_cli(options: dict) -> list[str]:
    """``--cfg-options`` arguments for a dict of overrides."""
    return ['--cfg-options', *(f'{key}={value}' for key, value in options.items())]


def run_tool(args: list[str], timeout: float = 600, **env: str) -> subprocess.CompletedProcess:
    """Run a repository command with this interpreter; fail with its output."""
    full_env = {**os.environ, 'PYTHON': sys.executable, **env}
    full_env['PATH'] = f'{Path(sys.executable).parent}:{full_env["PATH"]}'
    result = subprocess.run(args, cwd=REPO, env=full_env, capture_output=True, text=True,
                            timeout=timeout)
    if result.returncode != 0:
        raise AssertionError(
            f'{" ".join(args)} exited {result.returncode}\n--- stdout ---\n'
            f'{result.stdout[-6000:]}\n--- stderr ---\n{result.stderr[-6000:]}')
    return result


def load_tool(relative: str) -> ModuleType:
    """Import a script under ``tools/`` as a module (tools are scripts, not a package)."""
    name = 'mmhfpl_tool_' + Path(relative).stem
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, REPO / relative)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses and multiprocessing look modules up by name
    spec.loader.exec_module(module)
    return module


def free_port() -> int:
    """A TCP port that is free now (for a torchrun rendezvous)."""
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def write_gt_cams(toy_root: str, cam_dir: Path, split: str = 'train') -> list[str]:
    """CAM files of a toy split: 0.9 inside each GT object, 0 elsewhere; returns the ids."""
    ids = Path(toy_root, f'ImageSets/Segmentation/{split}.txt').read_text().split()
    for sample_id in ids:
        gt = load_label_png(Path(toy_root, 'SegmentationClass', f'{sample_id}.png'))
        classes = np.unique(gt[(gt > 0) & (gt < 255)]).astype(np.int64)
        cams = np.stack([0.9 * (gt == c) for c in classes]) if len(classes) else np.zeros(
            (0, *gt.shape))
        save_cam_file(cam_dir / f'{sample_id}.npz',
                      CAMRecord(cams=cams.astype(np.float32), labels=classes - 1))
    return ids


def build_model(config: str) -> tuple:
    """``(cfg, model)`` of a repository config, weights initialised, no pretrained file.

    Call inside the ``mmhfpl`` default scope.
    """
    from mmengine.config import Config

    from mmhfpl.registry import MODELS

    cfg = Config.fromfile(str(REPO / config))
    cfg.model.backbone.pop('init_cfg', None)  # the backbone's own initialisation
    model = MODELS.build(cfg.model)
    model.init_weights()
    return cfg, model


def assert_resumes_like_a_straight_run(config: str, toy_root: str, tmp_path: Path,
                                       **overrides) -> None:
    """Train 2 iterations, resume to 4, and compare with 4 uninterrupted iterations.

    ``overrides`` are merged into the config (e.g. switch off drop path, whose draws from
    torch's RNG checkpoints do not keep).
    """
    import torch
    from mmengine.config import Config
    from mmengine.runner import Runner

    def runner(work_dir: Path, max_iters: int, resume: bool = False) -> Runner:
        cfg = Config.fromfile(str(REPO / config))
        cfg.merge_from_dict(tiny_options(toy_root, max_iters=4, interval=2))
        cfg.merge_from_dict(overrides)
        cfg.train_cfg.max_iters = max_iters
        cfg.work_dir = str(work_dir)
        cfg.resume = resume
        cfg.randomness = dict(seed=0)
        cfg.experiment_name = f'{Path(config).stem}_{max_iters}_{resume}_{abs(hash(work_dir))}'
        return Runner.from_cfg(cfg)

    runner(tmp_path / 'run', 2).train()  # stops at iteration 2, checkpoint iter_2.pth
    resumed = runner(tmp_path / 'run', 4, resume=True)
    resumed.train()
    assert resumed.iter == 4
    straight = runner(tmp_path / 'straight', 4)
    straight.train()
    final = resumed.model.state_dict()
    for name, value in straight.model.state_dict().items():
        torch.testing.assert_close(final[name], value, rtol=1e-5, atol=1e-6,
                                   msg=f'{name} differs after resume')
