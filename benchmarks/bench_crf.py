"""Dense-CRF throughput (mmhfpl.pseudo_labels.crf.dense_crf) with 1 and 2 worker processes.

Generates synthetic VOC-sized inputs (default 375x500 images, 21 classes): a smooth
background with two coloured elliptical objects plus noise, and CAM-like scores where only
background and the two object classes are non-negligible (blurred, displaced object masks;
background ``(1 - max CAM) ** 4``; the 18 absent classes get scores below 1e-3). Two modes:

* ``full``: all K channels go to the CRF (cost grows with K);
* ``compact``: only background + present classes (K=3), as SEAM/IRN-style pipelines do
  before mapping the result back to class ids.

Each mode runs the SEAM/AffinityNet default CRF (``CRFConfig()``) over all images through
``crf_map`` with 1 worker (inline) and 2 workers (``fork`` pool; the inputs are generated
once in the parent and inherited, jobs are indices, each job returns a uint8 argmax map as a
pseudo-label writer would), checks both give identical maps, and prints images/s and the
speed-up. Input generation is not timed.

Usage: ``python benchmarks/bench_crf.py [--num-images 8] [--size 375 500] [--classes 21]
[--mode both|full|compact]``
"""

from __future__ import annotations

import argparse
import os
import time
from dataclasses import asdict

import numpy as np
from scipy import ndimage

from mmhfpl.pseudo_labels.crf import CRFConfig, crf_map, dense_crf

PRESENT = 2  # object classes with non-negligible scores per image
_INPUTS: list[tuple[np.ndarray, np.ndarray]] = []  # filled in the parent, inherited by fork
_CFG = asdict(CRFConfig())


def make_inputs(seed: int, height: int, width: int, classes: int,
                compact: bool) -> tuple[np.ndarray, np.ndarray]:
    """One synthetic (image uint8 (H, W, 3), scores float32 (K, H, W)) pair."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[:height, :width].astype(np.float32)
    base = rng.uniform(60, 200, 3)
    image = base + 30 * (y / height)[..., None] * rng.uniform(-1, 1, 3)
    cams = []
    for _ in range(PRESENT):
        cy, cx = rng.uniform(0.25, 0.75) * height, rng.uniform(0.25, 0.75) * width
        ry, rx = rng.uniform(0.1, 0.25) * height, rng.uniform(0.1, 0.25) * width
        mask = ((y - cy) / ry) ** 2 + ((x - cx) / rx) ** 2 <= 1
        image[mask] = rng.uniform(0, 255, 3)
        # A CAM is blurry and misplaced: shift the mask, blur it, add noise.
        shifted = np.roll(mask, (int(rng.integers(-8, 9)), int(rng.integers(-8, 9))), (0, 1))
        cam = ndimage.gaussian_filter(shifted.astype(np.float32), sigma=6)
        cam = np.clip(cam / max(cam.max(), 1e-6) + rng.normal(0, 0.05, cam.shape), 0, 1)
        cams.append(cam.astype(np.float32))
    image = np.clip(image + rng.normal(0, 8, image.shape), 0, 255).astype(np.uint8)
    background = (1 - np.max(cams, axis=0)) ** 4
    if compact:
        probs = np.stack([background, *cams])
    else:
        probs = rng.uniform(0, 1e-3, (classes, height, width)).astype(np.float32)
        present = rng.choice(np.arange(1, classes), PRESENT, replace=False)
        probs[0] = background
        probs[present] = cams
    return image, np.ascontiguousarray(probs, dtype=np.float32)


def crf_job(index: int) -> np.ndarray:
    image, probs = _INPUTS[index]
    return dense_crf(image, probs, **_CFG).argmax(axis=0).astype(np.uint8)


def run_mode(mode: str, args: argparse.Namespace) -> None:
    height, width = args.size
    _INPUTS.clear()
    _INPUTS.extend(make_inputs(seed, height, width, args.classes, mode == 'compact')
                   for seed in range(args.num_images))
    num_classes = _INPUTS[0][1].shape[0]
    jobs = list(range(args.num_images))
    rates, outputs = {}, {}
    for workers in (1, 2):
        start = time.perf_counter()
        outputs[workers] = crf_map(crf_job, jobs, workers, start_method='fork')
        rates[workers] = args.num_images / (time.perf_counter() - start)
    identical = all(np.array_equal(a, b) for a, b in zip(outputs[1], outputs[2], strict=True))
    print(f'{mode:8s} K={num_classes:2d}  1 worker: {rates[1]:6.2f} img/s '
          f'({1000 / rates[1]:6.0f} ms/img)  2 workers: {rates[2]:6.2f} img/s  '
          f'speed-up x{rates[2] / rates[1]:.2f}  identical maps: {identical}')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--num-images', type=int, default=8)
    parser.add_argument('--size', type=int, nargs=2, default=(375, 500), metavar=('H', 'W'))
    parser.add_argument('--classes', type=int, default=21)
    parser.add_argument('--mode', choices=('both', 'full', 'compact'), default='both')
    args = parser.parse_args()
    if args.classes < PRESENT + 1:
        parser.error(f'--classes must be >= {PRESENT + 1}')
    print(f'{args.num_images} images of {args.size[0]}x{args.size[1]}, CRF {CRFConfig()}, '
          f'{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}')
    for mode in (('full', 'compact') if args.mode == 'both' else (args.mode,)):
        run_mode(mode, args)


if __name__ == '__main__':
    main()
