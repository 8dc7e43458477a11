"""Stage-2 throughput and peak memory at VOC image size: CAMs, dCRF labels, random walk.

Issue #17, item 3 and the stage-2 part of item 5, on CPU, side by side in one run:

* ``cams``: ``tools/generate_cams.py`` as a user runs it, for each ``--configs`` entry
  (default: the ResNet-50 CAM baseline and SEAM's ResNet-38d, at real width), with the
  ``--scales`` (default 1.0 0.5 1.5 2.0) and flip, once as 1 process with 2 torch threads
  and once as 2 ``torch.distributed.run`` ranks with 1 thread each (``--launcher pytorch``).
  No pretrained file is read: the benchmark saves each model's weights as PyTorch initialises
  them at construction and passes ``model.backbone.init_cfg=None``; throughput does not
  depend on the weights.
* ``crf``: ``tools/make_pseudo_labels.py --crf`` (background threshold 0.3, the default
  SEAM/AffinityNet dCRF) on the CAMs of the first config's 1-process run, with 1 and 2
  ``--workers`` and as 2 ranks of 1 worker each, all with ``OMP_NUM_THREADS=1``. The three
  settings must write the same labels; the run says whether they did.
* ``walk``: :func:`mmhfpl.models.refine.random_walk.random_walk` in this process (2 torch
  threads) on random affinities and score maps of the real feature grid of an image of
  ``--image-size``: AffinityNet's stride-8 grid (padded to 8, background + 2 class maps) and
  IRN's stride-4 grid (padded to 16, 2 class maps), with radius, beta and walk length read
  from ``configs/refine/affinitynet_r38_voc.py`` and ``irn_r50_voc.py`` (beta 8 over 2^6
  steps; beta 10 over 2^8 steps). The median of ``--walk-repeats`` walks is reported.

Tool runs are timed end to end as subprocesses (interpreter start-up, dataset build and model
load included), so images/s depends on ``--num-images``. The split is built once before
them, so that none pays the dataset's first file scan (cached next to the list file,
:mod:`mmhfpl.datasets.scan_cache`) and the files are in the page cache. Their peak RSS
is that of the run's largest single process (``os.wait4``: the tool, or its largest rank
or dCRF worker); a 2-rank run holds about twice that in total. The walk's peak RSS is this
process's high-water mark over the walks (reset before them via ``/proc/self/clear_refs``),
with its increase over the resident size before.

The images come from ``--root``, a VOC-layout tree (``JPEGImages/<id>.jpg``, masks in
``--mask-dir``, the id list ``--ann-file``; the first ``--num-images`` ids are used), or,
without ``--root``, from a synthetic VOC-shaped tree of ``--num-images`` images of
``--image-size`` (``benchmarks/make_shaped_tree.py``) written to a temporary directory,
which is removed with every output at the end.

Full size (from the repository root, on an idle machine)::

    python benchmarks/bench_stage2_throughput.py --num-images 20

A tiny smoke run: ``--num-images 2 --image-size 64 48 --configs configs/cam/cam_r50_voc.py
--scales 1.0``.
"""

from __future__ import annotations

import argparse
import math
import os
import shlex
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from make_shaped_tree import make_shaped_tree
from mmengine.config import Config
from mmengine.registry import init_default_scope

from mmhfpl.models.refine.affinitynet import DEFAULT_TEST_CFG as AFFINITYNET_TEST_CFG
from mmhfpl.models.refine.base import BaseAffinityRefiner
from mmhfpl.models.refine.irn import DEFAULT_TEST_CFG as IRN_TEST_CFG
from mmhfpl.models.refine.random_walk import neighbour_offsets, random_walk
from mmhfpl.pseudo_labels import DEFAULT_SCALES
from mmhfpl.pseudo_labels.dataset_access import build_split
from mmhfpl.registry import MODELS
from mmhfpl.structures import load_label_png
from mmhfpl.utils import merge_cfg_options

REPO = Path(__file__).resolve().parents[1]
CAM_CONFIGS = ('configs/cam/cam_r50_voc.py', 'configs/seam/seam_r38_voc.py')
AFFINITYNET_CONFIG = 'configs/refine/affinitynet_r38_voc.py'
IRN_CONFIG = 'configs/refine/irn_r50_voc.py'
#: (ranks, OpenMP threads per rank, row label) of the CAM runs: both use the 2 cores.
CAM_SETTINGS = ((1, 2, '1 process, 2 threads'), (2, 1, '2 ranks, 1 thread each'))
#: (ranks, dCRF worker processes per rank, row label) of the pseudo-label runs.
CRF_SETTINGS = ((1, 1, '1 worker'), (1, 2, '2 workers'), (2, 1, '2 ranks, 1 worker each'))
BG_THRESHOLD = 0.3
WALK_CLASSES = 2  # labelled classes of the walked image (a VOC image has one to three)
WALK_THREADS = 2


@dataclass(frozen=True)
class Row:
    """One line of the result table.

    Args:
        stage: What ran (the group of rows a ratio refers to).
        setting: How it ran.
        images: Images processed.
        seconds: Wall time for all of them.
        peak_rss: Peak resident set size, formatted.
        reference: Images/s of the row the ratio is taken against (None: no ratio).
    """

    stage: str
    setting: str
    images: int
    seconds: float
    peak_rss: str
    reference: float | None = None

    @property
    def rate(self) -> float:
        """Images per second."""
        return self.images / self.seconds

    def markdown(self) -> str:
        """The row as a line of a markdown table."""
        ratio = '' if self.reference is None else f'{self.rate / self.reference:.2f}x'
        return (f'| {self.stage} | {self.setting} | {self.images} | '
                f'{self.seconds / self.images:.3f} | {self.rate:.3f} | {ratio} | '
                f'{self.peak_rss} |')


@dataclass(frozen=True)
class WalkSpec:
    """A random walk as a refinement model runs it on one image.

    Args:
        name: Model name.
        grid: Feature grid (h, w).
        maps: Score maps walked (channels).
        radius: Pair radius of the affinities.
        beta: Affinity power.
        steps: Walk length.
    """

    name: str
    grid: tuple[int, int]
    maps: int
    radius: int
    beta: float
    steps: int


def free_port() -> int:
    """A TCP port that is free now (for a torchrun rendezvous)."""
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def launch(tool: str, arguments: list[str], ranks: int) -> list[str]:
    """The command running ``tool`` as one process or as ``ranks`` torchrun ranks."""
    if ranks == 1:
        return [sys.executable, tool, *arguments]
    return [sys.executable, '-m', 'torch.distributed.run', '--nproc_per_node', str(ranks),
            '--master_port', str(free_port()), tool, *arguments, '--launcher', 'pytorch']


def timed_run(command: list[str], threads: int, log: Path) -> tuple[float, float]:
    """Run ``command`` from the repository root with ``threads`` OpenMP threads per process.

    Returns:
        Wall seconds and the peak RSS in MiB of its largest single process (the command or a
        descendant it waited for).

    Raises:
        RuntimeError: The command failed; the message ends with the tail of its output.
    """
    env = {**os.environ, 'OMP_NUM_THREADS': str(threads)}
    env.setdefault('GOMP_SPINCOUNT', '10000')  # as the Makefile and tests (README)
    with log.open('w') as output:
        start = time.perf_counter()
        process = subprocess.Popen(command, cwd=REPO, env=env, stdout=output,
                                   stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - start
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise RuntimeError(f'{shlex.join(command)} exited {process.returncode}; its output '
                           f'ends:\n{log.read_text()[-4000:]}')
    return seconds, usage.ru_maxrss / 1024  # ru_maxrss is in KiB on Linux


def check_outputs(directory: Path, suffix: str, expected: int) -> None:
    """Fail unless ``directory`` holds ``expected`` finished ``*suffix`` files."""
    found = len(list(directory.glob(f'[!.]*{suffix}')))
    if found != expected:
        raise RuntimeError(f'{directory} holds {found} {suffix} files, expected {expected}')


def as_cli(options: dict[str, str]) -> list[str]:
    """``--cfg-options`` arguments of a dict of overrides."""
    return ['--cfg-options', *(f'{key}={value}' for key, value in options.items())]


def warm_scan_cache(config: str, data_options: dict[str, str], list_file: Path) -> None:
    """Build the split once, so that no timed run pays the dataset's first file scan.

    The scan (every image decoded, every mask read for the image labels) is cached next to
    the list file (:mod:`mmhfpl.datasets.scan_cache`); this also puts the files in the page
    cache.
    """
    cfg = Config.fromfile(REPO / config)
    merge_cfg_options(cfg, data_options)
    build_split(cfg, str(list_file))


def random_checkpoint(config: str, path: Path) -> None:
    """Save the weights of ``config``'s model as built (PyTorch's random initialisation).

    ``init_weights`` is not called, so no pretrained file is read.
    """
    model = MODELS.build(Config.fromfile(REPO / config).model)
    torch.save({'state_dict': model.state_dict()}, path)


def bench_cams(config: str, data_options: dict[str, str], list_file: Path, images: int,
               scales: list[float], work: Path) -> tuple[list[Row], Path]:
    """Time ``generate_cams.py`` on ``config`` in the :data:`CAM_SETTINGS`.

    Returns:
        The rows and the CAM directory of the 1-process run.
    """
    name = Path(config).stem
    checkpoint = work / f'{name}_random.pth'
    random_checkpoint(config, checkpoint)
    rows, reference, cam_dirs = [], None, []
    for ranks, threads, setting in CAM_SETTINGS:
        out_dir = work / f'cams_{name}_{ranks}'
        arguments = [config, str(checkpoint), '--out-dir', str(out_dir), '--ann-file',
                     str(list_file), '--scales', *map(str, scales),
                     *as_cli({**data_options, 'model.backbone.init_cfg': 'None'})]
        seconds, rss = timed_run(launch('tools/generate_cams.py', arguments, ranks), threads,
                                 work / f'{out_dir.name}.log')
        check_outputs(out_dir, '.npz', images)
        row = Row(f'CAMs {name}', setting, images, seconds, f'{rss:.0f}', reference)
        reference = reference or row.rate
        rows.append(row)
        cam_dirs.append(out_dir)
    return rows, cam_dirs[0]


def bench_crf(config: str, cam_dir: Path, data_options: dict[str, str], list_file: Path,
              images: int, work: Path) -> tuple[list[Row], bool]:
    """Time ``make_pseudo_labels.py --crf`` in the :data:`CRF_SETTINGS`.

    Returns:
        The rows and whether every setting wrote the same labels.
    """
    rows, reference, label_dirs = [], None, []
    for ranks, workers, setting in CRF_SETTINGS:
        out_dir = work / f'labels_{ranks}x{workers}'
        arguments = [config, '--cams', str(cam_dir), '--out-dir', str(out_dir), '--ann-file',
                     str(list_file), '--bg-threshold', str(BG_THRESHOLD), '--crf',
                     '--workers', str(workers), *as_cli(data_options)]
        seconds, rss = timed_run(launch('tools/make_pseudo_labels.py', arguments, ranks), 1,
                                 work / f'{out_dir.name}.log')
        check_outputs(out_dir, '.png', images)
        row = Row('dCRF pseudo-labels', setting, images, seconds, f'{rss:.0f}', reference)
        reference = reference or row.rate
        rows.append(row)
        label_dirs.append(out_dir)
    first, *others = label_dirs
    identical = all(np.array_equal(load_label_png(path), load_label_png(other / path.name))
                    for path in first.glob('[!.]*.png') for other in others)
    return rows, identical


def walk_specs(width: int, height: int) -> list[WalkSpec]:
    """AffinityNet's and IRN's walks of a ``width`` x ``height`` image, from their configs."""
    specs = []
    for name, config, defaults in (('AffinityNet', AFFINITYNET_CONFIG, AFFINITYNET_TEST_CFG),
                                   ('IRN', IRN_CONFIG, IRN_TEST_CFG)):
        model = Config.fromfile(REPO / config).model
        test_cfg = BaseAffinityRefiner.merge_test_cfg(defaults, model.test_cfg)
        pad = model.data_preprocessor.pad_size_divisor  # the inputs are padded to it
        grid = (math.ceil(height / pad) * pad // model.stride,
                math.ceil(width / pad) * pad // model.stride)
        if name == 'AffinityNet':  # background + classes, 2^logt steps, the model's radius
            spec = WalkSpec(name, grid, WALK_CLASSES + 1, model.radius, test_cfg['beta'],
                            2 ** test_cfg['logt'])
        else:  # classes only over 2^exp_times steps, inference radius
            spec = WalkSpec(name, grid, WALK_CLASSES, test_cfg['radius'], test_cfg['beta'],
                            2 ** test_cfg['exp_times'])
        specs.append(spec)
    return specs


def _status_mib(field: str) -> float:
    """A ``/proc/self/status`` memory field (``VmRSS``, ``VmHWM``) in MiB."""
    for line in Path('/proc/self/status').read_text().splitlines():
        if line.startswith(f'{field}:'):
            return int(line.split()[1]) / 1024
    raise KeyError(f'/proc/self/status has no {field}')


def bench_walk(spec: WalkSpec, repeats: int) -> Row:
    """Time ``repeats`` walks of ``spec`` on random inputs; the median is the row's time."""
    generator = torch.Generator().manual_seed(0)
    offsets = neighbour_offsets(spec.radius)
    maps = torch.rand(1, spec.maps, *spec.grid, generator=generator)
    affinity = torch.rand(1, len(offsets), *spec.grid, generator=generator)
    before = _status_mib('VmRSS')
    Path('/proc/self/clear_refs').write_text('5')  # VmHWM := VmRSS
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        random_walk(maps, affinity, offsets, spec.beta, spec.steps)
        times.append(time.perf_counter() - start)
    peak = _status_mib('VmHWM')
    setting = (f'{spec.grid[0]}x{spec.grid[1]} grid, {spec.maps} maps, radius {spec.radius}, '
               f'beta {spec.beta:g}, {spec.steps} steps, {WALK_THREADS} threads')
    return Row(f'random walk {spec.name}', setting, 1, statistics.median(times),
               f'{peak:.0f} (+{peak - before:.0f})')


def first_ids(list_path: Path, count: int, out: Path) -> None:
    """Write the first ``count`` ids of ``list_path`` to ``out``."""
    ids = list_path.read_text().split()
    if len(ids) < count:
        raise ValueError(f'{list_path} has {len(ids)} ids, fewer than --num-images {count}')
    out.write_text(''.join(f'{sample_id}\n' for sample_id in ids[:count]))


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--root', type=Path,
                        help='VOC-layout tree (default: a synthetic one in a temporary '
                             'directory)')
    parser.add_argument('--ann-file', default='ImageSets/Segmentation/train_aug.txt',
                        help='id list, relative to --root')
    parser.add_argument('--mask-dir', default='SegmentationClassAug',
                        help='mask directory under --root (image labels come from the masks)')
    parser.add_argument('--num-images', type=int, default=20, help='the first N ids are used')
    parser.add_argument('--image-size', type=int, nargs=2, default=(500, 375),
                        metavar=('W', 'H'),
                        help='size of the synthetic images and of the walked image')
    parser.add_argument('--parts', nargs='+', choices=('cams', 'crf', 'walk'),
                        default=['cams', 'crf', 'walk'])
    parser.add_argument('--configs', nargs='+', default=list(CAM_CONFIGS),
                        help='stage-1 configs to generate CAMs with (repository-relative)')
    parser.add_argument('--scales', type=float, nargs='+', default=list(DEFAULT_SCALES),
                        help='CAM scales (each with its flip)')
    parser.add_argument('--walk-repeats', type=int, default=3)
    args = parser.parse_args()
    if 'crf' in args.parts and 'cams' not in args.parts:
        parser.error('--parts crf labels the CAMs of the cams part; add cams')
    if args.num_images < 2:
        parser.error('--num-images must be at least 2 (one image per rank)')
    return args


def bench_tools(args: argparse.Namespace, work: Path) -> tuple[list[Row], list[str]]:
    """The ``cams`` and (if chosen) ``crf`` parts, with every file under ``work``.

    Returns:
        The rows and notes to print under the table.
    """
    root = args.root
    if root is None:
        root = work / 'tree'
        make_shaped_tree(str(root), 'voc', args.num_images, workers=1,
                         size=tuple(args.image_size))
    root = root.resolve()
    list_file = work / 'ids.txt'
    first_ids(root / args.ann_file, args.num_images, list_file)
    data_options = {'test_dataloader.dataset.data_root': str(root),
                    'test_dataloader.dataset.data_prefix.seg_map_path': args.mask_dir}
    warm_scan_cache(args.configs[0], data_options, list_file)
    print(f'{args.num_images} images from {root}; CAM scales '
          f'{" ".join(map(str, args.scales))} with flip', flush=True)
    rows, cam_dirs, notes = [], [], []
    for config in args.configs:
        cam_rows, cam_dir = bench_cams(config, data_options, list_file, args.num_images,
                                       args.scales, work)
        rows += cam_rows
        cam_dirs.append(cam_dir)
    if 'crf' in args.parts:
        crf_rows, identical = bench_crf(args.configs[0], cam_dirs[0], data_options, list_file,
                                        args.num_images, work)
        rows += crf_rows
        notes.append(f'dCRF labels identical in the {len(crf_rows)} settings: '
                     f'{"yes" if identical else "NO"}')
    return rows, notes


def main() -> None:
    args = parse_args()
    init_default_scope('mmhfpl')
    torch.set_num_threads(WALK_THREADS)
    print(f'{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}', flush=True)
    rows, notes = [], []
    if 'cams' in args.parts:
        with tempfile.TemporaryDirectory(prefix='bench_stage2_') as temp:
            rows, notes = bench_tools(args, Path(temp))
    if 'walk' in args.parts:
        rows += [bench_walk(spec, args.walk_repeats) for spec in walk_specs(*args.image_size)]
    print('\n| stage | setting | images | s/image | images/s | ratio | peak RSS (MiB) |')
    print('|---|---|---|---|---|---|---|')
    for row in rows:
        print(row.markdown())
    print('\nratio: images/s against the first row of the stage; peak RSS: the largest single '
          'process of a tool run (one rank, or the tool with its dCRF workers), for the walk '
          'this process (increase during the walks in parentheses)')
    for note in notes:
        print(note)
    print(f'load average at the end: {os.getloadavg()[0]:.2f}')


if __name__ == '__main__':
    main()
