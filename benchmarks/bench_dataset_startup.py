"""Dataset start-up at VOC/COCO shape: building without, writing and reading the scan cache.

Run from the repository root on a tree of ``benchmarks/make_shaped_tree.py``::

    python benchmarks/make_shaped_tree.py --layout voc --out data/shaped_voc
    python benchmarks/bench_dataset_startup.py --root data/shaped_voc --layout voc
    python benchmarks/bench_dataset_startup.py --root data/shaped_voc --threads 1 2 8

Builds the training dataset of the stage-1 configs through mmhfpl's registry, as a runner
does (``VOCWSSSDataset`` of ``configs/_base_/datasets/voc_cls.py``, ``COCOWSSSDataset`` of
``configs/sipe/sipe_r50_coco.py``, with their pipelines, only ``data_root`` changed), three
times for each ``--threads`` value (the dataset's ``scan_threads``):

* **no cache** (``scan_cache=False``): every image decoded in full and every mask read for
  the image-level labels, nothing written: what every build cost before the scan cache;
* **cold** (``scan_cache=True``, its cache file deleted first): the same work, plus writing
  the JSON cache;
* **warm** (``scan_cache=True`` again): the labels from the cache, a ``stat`` per file.

It prints seconds and images/s of each whole build and of its file scan (the dataset's
``load_data_list``: list, file checks or cache look-ups, labels), the ratios no cache / warm
and cold / warm, the size of the cache file, and whether the three builds gave every image
the same labels. The rest of a build is mmengine's and independent of the scan: building the
pipeline and serialising the data list, whose ``gc.collect()`` costs a fixed ~0.1 s in a
process that has imported torch.
Before the builds every listed file is read once (untimed, but its time is printed), so the
builds find the files in the page cache and their times are CPU work, comparable across
settings; on a cold page cache (first start on a network file system) the uncached builds
also wait for the disk.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from unittest import mock

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from mmengine.config import Config  # noqa: E402
from mmengine.logging import MMLogger  # noqa: E402

from mmhfpl.datasets.scan_cache import ScanCache  # noqa: E402
from mmhfpl.registry import DATASETS  # noqa: E402
from mmhfpl.utils import register_all_modules  # noqa: E402

#: The config whose training dataset is built, per layout.
CONFIGS = {'voc': 'configs/_base_/datasets/voc_cls.py', 'coco': 'configs/sipe/sipe_r50_coco.py'}
BUILDS = ('no cache', 'cold', 'warm')


def dataset_cfg(layout: str, root: str) -> dict:
    """The training dataset config of ``layout``'s stage-1 config, over ``root``."""
    cfg = Config.fromfile(str(REPO / CONFIGS[layout])).train_dataloader.dataset.to_dict()
    cfg['data_root'] = root
    return cfg


def timed_build(cfg: dict, **overrides: object) -> tuple[float, float, object]:
    """Build the dataset of ``cfg`` with ``overrides``.

    Returns:
        Seconds of the whole build, seconds of its file scan (``load_data_list``: the list,
        the file checks or the scan cache, the labels) and the dataset.
    """
    cls = DATASETS.get(cfg['type'])
    load_data_list = cls.load_data_list
    scan_s = []

    def timed_load(self: object) -> list[dict]:
        start = time.perf_counter()
        try:
            return load_data_list(self)
        finally:
            scan_s.append(time.perf_counter() - start)

    start = time.perf_counter()
    with mock.patch.object(cls, 'load_data_list', timed_load):
        dataset = DATASETS.build({**cfg, **overrides})
    return time.perf_counter() - start, scan_s[0], dataset


def labels_of(dataset: object) -> list[list[int]]:
    """Every entry's image-level labels, in list order."""
    return [dataset.get_data_info(i)['gt_label'].tolist() for i in range(len(dataset))]


def read_all_files(dataset: object) -> tuple[float, int]:
    """Read every image and mask of ``dataset`` once; return ``(seconds, bytes)``."""
    start, total = time.perf_counter(), 0
    for i in range(len(dataset)):
        info = dataset.get_data_info(i)
        for path in (info['img_path'], info['seg_map_path']):
            with open(path, 'rb') as handle:
                total += len(handle.read())
    return time.perf_counter() - start, total


def cache_path(dataset: object) -> str:
    """The scan cache file the dataset's settings map to."""
    return ScanCache(dataset.ann_file, dataset._scan_settings()).path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--root', required=True, help='data_root (a make_shaped_tree.py tree)')
    parser.add_argument('--layout', choices=sorted(CONFIGS), default='voc')
    parser.add_argument('--threads', type=int, nargs='+', default=[8],
                        help="scan_threads values to compare (default: the dataset's 8)")
    args = parser.parse_args()

    register_all_modules()
    MMLogger.get_instance('bench_dataset_startup', log_level='WARNING')  # quiet builds
    cfg = dataset_cfg(args.layout, os.path.abspath(args.root))
    seconds, _, dataset = timed_build(cfg, scan_cache=False, scan_threads=max(args.threads))
    num = len(dataset)
    read_s, read_bytes = read_all_files(dataset)
    print(f'{cfg["type"]} over {args.root}: {num} images ({CONFIGS[args.layout]}); '
          f'{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}')
    print(f'read every image and mask once: {read_s:.1f} s, {read_bytes / 2**20:.0f} MiB '
          f'(untimed set-up build: {seconds:.1f} s)\n')
    cache = cache_path(dataset)
    expected = labels_of(dataset)

    header = (f'{"threads":>7}  {"build":<9} {"total s":>8} {"img/s":>8} {"scan s":>8} '
              f'{"img/s":>8}  same labels')
    print(header)
    print('-' * len(header))
    summary = []
    for threads in args.threads:
        times = {}
        for build in BUILDS:
            if build == 'cold' and os.path.exists(cache):
                os.remove(cache)
            total_s, scan_s, built = timed_build(cfg, scan_cache=build != 'no cache',
                                                 scan_threads=threads)
            times[build] = total_s, scan_s
            print(f'{threads:>7}  {build:<9} {total_s:>8.3f} {num / total_s:>8.0f} '
                  f'{scan_s:>8.3f} {num / scan_s:>8.0f}  {labels_of(built) == expected}')
        (none_s, none_scan), (cold_s, cold_scan), (warm_s, warm_scan) = times.values()
        summary.append(
            f'{threads} threads: no cache / warm {none_s / warm_s:.1f}x (scan '
            f'{none_scan / warm_scan:.1f}x), cold / warm {cold_s / warm_s:.1f}x (scan '
            f'{cold_scan / warm_scan:.1f}x); warm build {warm_s:.2f} s for {num} images, its '
            f'scan {warm_scan:.3f} s = {warm_scan / num * 10_000:.2f} s per 10k images')
    size = os.path.getsize(cache)
    print(f'\nscan cache {cache}: {size / 2**20:.2f} MiB ({size / num:.0f} bytes per image)')
    print('\n'.join(summary))


if __name__ == '__main__':
    main()
