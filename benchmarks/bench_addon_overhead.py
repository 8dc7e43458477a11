"""The add-on's training cost: one stage-1 step with and without ISL/FSL, at real width on CPU.

Run from the repository root on an idle machine::

    python benchmarks/bench_addon_overhead.py                          # SEAM 448, CAM R50 512
    python benchmarks/bench_addon_overhead.py --batch-size 2 --steps 10 --warmup 2
    python benchmarks/bench_addon_overhead.py --models cam --crop 64 --steps 1 --warmup 0
    python benchmarks/bench_addon_overhead.py --no-rss     # timing only, no memory children

Two pairs of VOC configs, each a baseline and the same network with ISL/FSL:

* ``seam``: SEAM, ResNet-38d, 448x448 crops (``configs/seam/seam_r38_voc.py`` vs
  ``configs/seam/seam_hfpl_r38_voc.py``);
* ``cam``: the CAM baseline, ResNet-50 OS16, 512x512 crops (``configs/cam/cam_r50_voc.py``
  vs ``configs/cam/cam_hfpl_r50_voc.py``).

Each model is built as the tests' ``build_model`` does (the config's model with the
backbone's own initialisation instead of the ImageNet checkpoint, then ``init_weights``)
from the same torch seed, so both models of a pair start from the same weights, with the
config's optimizer wrapper at learning rate 0 (random weights at real size diverge to NaN at
the configs' rates; the step costs the same). A step is the model's ``train_step`` (data
preprocessing, forward, losses, backward, optimizer step) on a batch of random uint8 crops
with one to three random VOC classes per image (60 / 30 / 10 %); both models of a pair get
the same batches.
Steps alternate between the two models (A B A B ...), so a change of machine load hits both
alike; the first ``--warmup`` steps of each are not timed. It prints the mean and standard
deviation of the seconds per step, the ratio +ISL/FSL / baseline (seed 000 reports +30 %
training compute; mmhfpl's goal is at most +10 %), and the peak resident set size
(``getrusage``'s ``ru_maxrss``) of each model: measured in a child process forked before
anything is built here, which builds that model alone and runs two steps: it holds the
imported libraries' data but no other model (of the libraries' code only the pages the child
touches count, so the figure can be ~0.1 GiB below that of a separate process; both models
of a pair are measured alike). ``--no-rss`` skips these children.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import resource
import statistics
import sys
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from mmengine.config import Config  # noqa: E402
from mmengine.logging import MMLogger  # noqa: E402
from mmengine.optim import OptimWrapper, build_optim_wrapper  # noqa: E402
from mmpretrain.structures import DataSample  # noqa: E402

from mmhfpl.registry import MODELS  # noqa: E402
from mmhfpl.utils import register_all_modules  # noqa: E402

#: Name -> (description, baseline config, +ISL/FSL config).
PAIRS = {
    'seam': ('SEAM ResNet-38d', 'configs/seam/seam_r38_voc.py',
             'configs/seam/seam_hfpl_r38_voc.py'),
    'cam': ('CAM ResNet-50', 'configs/cam/cam_r50_voc.py', 'configs/cam/cam_hfpl_r50_voc.py'),
}
NUM_CLASSES = 20  # VOC
CLASSES_PER_IMAGE = (1, 2, 3)
CLASS_COUNT_PROBS = (0.6, 0.3, 0.1)
RSS_STEPS = 2  # steps of the memory child: the second one runs with gradients allocated


@dataclass
class Trainee:
    """One model ready to train.

    Args:
        config: Repository-relative config path.
        model: The model, in training mode.
        optim_wrapper: Its optimizer wrapper, from the config.
        crop: Side of the square crops it trains on.
    """

    config: str
    model: torch.nn.Module
    optim_wrapper: OptimWrapper
    crop: int

    def step(self, batch: dict) -> tuple[float, list[str]]:
        """One training step on ``batch``; returns its total loss and the loss names."""
        log_vars = self.model.train_step(batch, self.optim_wrapper)
        return float(log_vars['loss'].detach()), sorted(k for k in log_vars if k != 'loss')


def build_trainee(config: str, crop: int | None, seed: int) -> Trainee:
    """The model of ``config`` without pretrained weights, as ``tests/conftest.py`` builds it.

    Args:
        config: Repository-relative config path.
        crop: Crop side (None: the config's ``crop_size``).
        seed: Torch seed before the model is built (the same seed gives the models of a pair
            the same initial weights).
    """
    cfg = Config.fromfile(str(REPO / config))
    cfg.model.backbone.pop('init_cfg', None)  # the backbone's own initialisation
    torch.manual_seed(seed)
    model = MODELS.build(cfg.model)
    model.init_weights()
    model.train()
    optim_wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    # Random weights at real size diverge (NaN) within a few steps at the configs' learning
    # rates; the optimizer still steps, with lr 0, which costs the same.
    for group in optim_wrapper.optimizer.param_groups:
        group['lr'] = 0.0
    return Trainee(config, model, optim_wrapper, crop or cfg.crop_size)


def make_batch(seed: int, step: int, batch_size: int, crop: int) -> dict:
    """Random uint8 crops with plausible VOC image labels, as the dataloader collates them."""
    generator = torch.Generator().manual_seed(seed * 100_003 + step)
    inputs, samples = [], []
    for _ in range(batch_size):
        inputs.append(torch.randint(0, 256, (3, crop, crop), dtype=torch.uint8,
                                    generator=generator))
        count = CLASSES_PER_IMAGE[int(torch.multinomial(
            torch.tensor(CLASS_COUNT_PROBS), 1, generator=generator))]
        labels = torch.randperm(NUM_CLASSES, generator=generator)[:count].sort().values
        samples.append(DataSample().set_gt_label(labels))
    return dict(inputs=inputs, data_samples=samples)


def _rss_child(conn: Connection, config: str, args: argparse.Namespace) -> None:
    torch.set_num_threads(args.threads)
    trainee = build_trainee(config, args.crop, args.seed)
    for step in range(RSS_STEPS):
        trainee.step(make_batch(args.seed, step, args.batch_size, trainee.crop))
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    conn.send_bytes(json.dumps(dict(peak_mib=peak_kib / 1024)).encode())
    conn.close()


def peak_rss_mib(config: str, args: argparse.Namespace) -> float:
    """Peak RSS of a forked child that builds ``config``'s model and trains it two steps.

    Call before this process runs any torch computation: the child is forked, and an OpenMP
    thread pool that exists before ``fork`` does not work in the child.
    """
    context = multiprocessing.get_context('fork')
    receiver, sender = context.Pipe(duplex=False)
    child = context.Process(target=_rss_child, args=(sender, config, args))
    child.start()
    sender.close()
    try:
        payload = receiver.recv_bytes()
    except EOFError:
        payload = None
    child.join()
    if child.exitcode != 0 or payload is None:
        raise RuntimeError(f'the memory measurement of {config} failed (child exit code '
                           f'{child.exitcode}; its traceback is above)')
    return json.loads(payload)['peak_mib']


def time_pair(baseline: Trainee, addon: Trainee, args: argparse.Namespace
              ) -> tuple[dict[str, list[float]], dict[str, list[str]]]:
    """Seconds of each timed step of both models, alternating between them, and the names
    of the losses each model logged (so the add-on's losses are seen to run)."""
    times: dict[str, list[float]] = {'baseline': [], 'addon': []}
    names: dict[str, list[str]] = {}
    for step in range(args.warmup + args.steps):
        for name, trainee in (('baseline', baseline), ('addon', addon)):
            # A fresh copy of the step's batch: the data preprocessor may annotate samples.
            batch = make_batch(args.seed, step, args.batch_size, trainee.crop)
            start = time.perf_counter()
            loss, names[name] = trainee.step(batch)
            elapsed = time.perf_counter() - start
            if not torch.isfinite(torch.tensor(loss)):
                raise FloatingPointError(f'{trainee.config}: loss {loss} at step {step}')
            if step >= args.warmup:
                times[name].append(elapsed)
    return times, names


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--models', nargs='+', choices=sorted(PAIRS), default=['seam', 'cam'])
    parser.add_argument('--crop', type=int,
                        help="crop side for every model (default: each config's, 448 / 512)")
    parser.add_argument('--batch-size', type=int, default=1, choices=(1, 2))
    parser.add_argument('--steps', type=int, default=5, help='timed steps per model')
    parser.add_argument('--warmup', type=int, default=1, help='untimed first steps per model')
    parser.add_argument('--threads', type=int, default=torch.get_num_threads(),
                        help='torch threads (default: %(default)s)')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--no-rss', action='store_true',
                        help='skip the peak-RSS children (each builds its model again and '
                        'runs two steps)')
    args = parser.parse_args()
    if args.steps < 1 or args.warmup < 0:
        parser.error('--steps must be >= 1 and --warmup >= 0')
    return args


def main() -> None:
    args = parse_args()
    register_all_modules()
    # Quiet: no weight-initialisation log, no optimizer warning per frozen parameter.
    MMLogger.get_instance('bench_addon_overhead', log_level='ERROR')
    peaks = {} if args.no_rss else {config: peak_rss_mib(config, args)
                                    for name in args.models for config in PAIRS[name][1:]}

    torch.set_num_threads(args.threads)
    print(f'torch {torch.__version__}, {args.threads} threads, {os.cpu_count()} CPUs, load '
          f'average {os.getloadavg()[0]:.2f}; batch {args.batch_size}; mean of {args.steps} '
          f'timed step(s) after {args.warmup} warm-up step(s), alternating; peak RSS of a '
          f'process with that model alone\n')
    summary = []
    for name in args.models:
        title, base_config, addon_config = PAIRS[name]
        baseline = build_trainee(base_config, args.crop, args.seed)
        addon = build_trainee(addon_config, args.crop, args.seed)
        params = sum(p.numel() for p in baseline.model.parameters()) / 1e6
        print(f'{title} ({params:.1f} M parameters), {baseline.crop}x{baseline.crop} crops')
        times, names = time_pair(baseline, addon, args)
        for label, key, config in (('baseline', 'baseline', base_config),
                                   ('+ISL/FSL', 'addon', addon_config)):
            spread = statistics.stdev(times[key]) if len(times[key]) > 1 else 0.0
            rss = f'{peaks[config]:7.0f} MiB' if peaks else '    n/a'
            print(f'  {label:<9} {statistics.mean(times[key]):8.3f} ± {spread:6.3f} s/step  '
                  f'peak RSS {rss}  {config}')
            print(f'    losses: {", ".join(names[key])}')
        ratio = statistics.mean(times['addon']) / statistics.mean(times['baseline'])
        rss_ratio = (f', peak RSS {peaks[addon_config] / peaks[base_config]:.2f}x'
                     if peaks else '')
        summary.append(f'{title} {baseline.crop}x{baseline.crop}, batch {args.batch_size}: '
                       f'+ISL/FSL / baseline {ratio:.3f}x ({100 * (ratio - 1):+.1f} %)'
                       f'{rss_ratio}')
        del baseline, addon
    print('\n' + '\n'.join(summary))


if __name__ == '__main__':
    main()
