"""Cost of one Spatial-BCE Q update against one training phase of the toy config.

Run from the repository root::

    python benchmarks/bench_q_update.py                     # writes a 800/200 toy set
    python benchmarks/bench_q_update.py --data-root data/toy_voc --threads 2

Builds ``configs/spatial_bce/spatial_bce_r18_toy.py`` on the toy set with a Q file counted
from the GT masks, trains one phase (``phase_iters`` iterations, 80/20 alternation, no Q
update inside it) and times it from the first to the last iteration, then times one
:meth:`QUpdateHook.update` (single-scale Eq. 9 labels of every training image, no dCRF, as
the toy config) with the trained network, and prints both with their ratio. Both run in
the same process on the same data; dataloader start-up is outside the timed window.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / 'tools/dataset_converters'))  # the toy generator

from make_toy_voc import ToyVOCConfig, make_toy_voc  # noqa: E402, I001
from mmengine.config import Config  # noqa: E402
from mmengine.hooks import Hook  # noqa: E402
from mmengine.runner import Runner  # noqa: E402

from mmhfpl.engine import QUpdateHook  # noqa: E402
from mmhfpl.pseudo_labels import ratios_from_label_dir, save_q_file  # noqa: E402
from mmhfpl.utils import merge_cfg_options  # noqa: E402


class PhaseTimer(Hook):
    """Wall time from the start of the first to the end of the last training iteration."""

    priority = 'VERY_LOW'

    def __init__(self) -> None:
        self.start = self.end = None

    def before_train_iter(self, runner, batch_idx, data_batch=None) -> None:
        if self.start is None:
            self.start = time.perf_counter()

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        self.end = time.perf_counter()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--data-root', help='existing toy set (default: write one)')
    parser.add_argument('--threads', type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    with tempfile.TemporaryDirectory() as tmp:
        root = args.data_root
        if root is None:
            root = os.path.join(tmp, 'toy_voc')
            make_toy_voc(root, ToyVOCConfig())
        ids = open(os.path.join(root, 'ImageSets/Segmentation/train.txt')).read().split()
        q_file = os.path.join(tmp, 'q.npz')
        save_q_file(q_file, ratios_from_label_dir(os.path.join(root, 'SegmentationClass'),
                                                  ids, 6))
        cfg = Config.fromfile(str(REPO / 'configs/spatial_bce/spatial_bce_r18_toy.py'))
        phase_iters = cfg.phase_iters
        merge_cfg_options(cfg, {
            **{f'{loader}.dataset.data_root': root
               for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader')},
            'train_cfg.max_iters': phase_iters,
            'model.backbone.init_cfg': None,  # timing only: no baseline checkpoint needed
            'custom_hooks.QUpdateHook.q_file': q_file,
            'custom_hooks.QUpdateHook.interval': 10 * phase_iters,  # no update inside the phase
            'default_hooks.checkpoint.interval': 10 * phase_iters,
        })
        cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None
        cfg.train_cfg.pop('val_interval')
        cfg.work_dir = os.path.join(tmp, 'work')
        runner = Runner.from_cfg(cfg)
        timer = PhaseTimer()
        runner.register_hook(timer)
        runner.train()
        phase = timer.end - timer.start
        hook = next(h for h in runner.hooks if isinstance(h, QUpdateHook))
        start = time.perf_counter()
        hook.update(runner)
        update = time.perf_counter() - start

    batch = cfg.train_dataloader.batch_size
    print(f'\ntoy set: {len(ids)} training images, {args.threads} threads')
    print(f'one phase ({phase_iters} iterations, batch {batch}): {phase:8.2f} s')
    print(f'one Q update ({len(ids)} images, 1 scale) : {update:8.2f} s')
    print(f'Q update / phase                          : {update / phase:8.3f}')


if __name__ == '__main__':
    main()
