"""Benchmark contour F (DAVIS boundary F-measure) against a straightforward reference.

Generates synthetic VOC-sized label maps (375x500, 21 classes, a few blobs per image,
void bands along GT object edges), computes per-image, per-class counts with

* a reference that dilates full-image boundary maps of every class with
  ``skimage.morphology.disk(r)`` (``scipy.ndimage.binary_dilation``, the function that
  the deprecated ``skimage.morphology.binary_dilation`` wraps), and
* ``mmhfpl.evaluation.functional.contour_f.contour_f_counts``,

checks the counts agree exactly, and prints images/s for both and the speed ratio.

Usage: ``python benchmarks/bench_contour_f.py [--num-images 50]``
"""

import argparse
import math
import time

import numpy as np
from scipy import ndimage
from skimage.morphology import disk

from mmhfpl.evaluation.functional.contour_f import (
    contour_f_counts,
    contour_f_from_counts,
    seg2bmap,
)

HEIGHT, WIDTH, NUM_CLASSES, VOID = 375, 500, 21, 255


def make_pair(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A GT with 1-4 elliptical objects and void edge bands, and a perturbed prediction."""
    yy, xx = np.mgrid[:HEIGHT, :WIDTH]
    gt = np.zeros((HEIGHT, WIDTH), dtype=np.uint8)
    pred = np.zeros_like(gt)
    for _ in range(rng.integers(1, 5)):
        cls = rng.integers(1, NUM_CLASSES)
        cy, cx = rng.uniform(0, HEIGHT), rng.uniform(0, WIDTH)
        ry, rx = rng.uniform(20, 150), rng.uniform(20, 200)
        gt[((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 <= 1] = cls
        # Prediction: the same object, displaced and resized, sometimes the wrong class.
        cy, cx = cy + rng.normal(0, 6), cx + rng.normal(0, 6)
        ry, rx = ry * rng.uniform(0.85, 1.15), rx * rng.uniform(0.85, 1.15)
        pred_cls = cls if rng.random() < 0.8 else rng.integers(1, NUM_CLASSES)
        pred[((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 <= 1] = pred_cls
    if rng.random() < 0.5:  # a spurious predicted blob
        cy, cx, r = rng.integers(0, HEIGHT), rng.integers(0, WIDTH), rng.integers(5, 30)
        pred[(yy - cy) ** 2 + (xx - cx) ** 2 <= r * r] = rng.integers(1, NUM_CLASSES)
    edges = np.zeros(gt.shape, dtype=bool)
    edges[:, :-1] |= gt[:, :-1] != gt[:, 1:]
    edges[:-1, :] |= gt[:-1, :] != gt[1:, :]
    gt[ndimage.binary_dilation(edges, iterations=2)] = VOID  # ~5-pixel void band
    return pred, gt


def reference_counts(pred: np.ndarray, gt: np.ndarray, bound_th: float,
                     void_as_background: bool) -> np.ndarray:
    """Per-image, per-class counts with full-image disk dilations for every class."""
    void = gt == VOID
    if void_as_background:
        gt = np.where(void, 0, gt)
        void = np.zeros_like(void)
    keep = ~void
    radius = bound_th if bound_th >= 1 else math.ceil(bound_th * np.linalg.norm(gt.shape))
    footprint = disk(int(radius))
    counts = np.zeros((NUM_CLASSES, 4), dtype=np.int64)
    for c in range(NUM_CLASSES):
        pred_b = seg2bmap(pred == c)
        gt_b = seg2bmap(gt == c)
        pred_dil = ndimage.binary_dilation(pred_b, structure=footprint)
        gt_dil = ndimage.binary_dilation(gt_b, structure=footprint)
        counts[c] = [(pred_b & gt_dil & keep).sum(), (pred_b & keep).sum(),
                     (gt_b & pred_dil & keep).sum(), (gt_b & keep).sum()]
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--num-images', type=int, default=50)
    parser.add_argument('--bound-th', type=float, default=0.008)
    parser.add_argument('--seed', type=int, default=0)
    args = parser.parse_args()

    rng = np.random.default_rng(args.seed)
    pairs = [make_pair(rng) for _ in range(args.num_images)]
    void_fraction = np.mean([(gt == VOID).mean() for _, gt in pairs])
    radius = (args.bound_th if args.bound_th >= 1
              else math.ceil(args.bound_th * math.hypot(HEIGHT, WIDTH)))
    print(f'{args.num_images} images {WIDTH}x{HEIGHT}, {NUM_CLASSES} classes, '
          f'bound_th={args.bound_th} (radius {radius} px), void {100 * void_fraction:.1f}%')

    for void_as_background in (True, False):
        start = time.perf_counter()
        ref = [reference_counts(p, g, args.bound_th, void_as_background) for p, g in pairs]
        ref_time = time.perf_counter() - start
        start = time.perf_counter()
        fast = [contour_f_counts(p, g, NUM_CLASSES, args.bound_th, void_as_background)
                for p, g in pairs]
        fast_time = time.perf_counter() - start
        mismatches = sum(not np.array_equal(a, b) for a, b in zip(ref, fast, strict=True))
        if mismatches:
            raise SystemExit(f'void_as_background={void_as_background}: '
                             f'{mismatches} images differ from the reference')
        f_score = contour_f_from_counts(np.sum(fast, axis=0))['F']
        print(f'void_as_background={void_as_background}: counts identical on all images, '
              f'F={f_score:.4f}')
        print(f'  reference: {args.num_images / ref_time:8.2f} images/s')
        print(f'  fast:      {args.num_images / fast_time:8.2f} images/s')
        print(f'  speed-up:  {ref_time / fast_time:8.1f}x')


if __name__ == '__main__':
    main()
