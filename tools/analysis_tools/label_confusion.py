"""Diagnostic: where pseudo-labels put each GT class's pixels (row-normalised confusion, %).

Void GT pixels are left out. Useful to see whether a method loses pixels to background (masks
too small), to a look-alike class (e.g. two classes of similar colour that co-occur), or
takes background. With ``--fractions`` it prints instead how large each class's masks are:
the mean share of the (non-void) image a class's label takes, over the images whose GT has
the class, with the GT's own shares as the first row (Spatial-BCE's q, seed 003 Eq. 6).

Example:
    python tools/analysis_tools/label_confusion.py --data-root data/toy_voc_v2 \\
        --labels work_dirs/benchmark_toy_v2/seed0/cam/pl_crf \\
                 work_dirs/benchmark_toy_v2/seed0/cam_hfpl/pl_crf --names CAM CAM+ISL/FSL
"""

import argparse
import os.path as osp

import numpy as np

from mmhfpl.structures import VOID, load_label_png


def _pairs(label_dir: str, gt_dir: str, ids: list[str]):
    """Yield ``(id, GT, label)`` as int64 maps of one size (an error names the file)."""
    for sample_id in ids:
        gt = load_label_png(osp.join(gt_dir, f'{sample_id}.png')).astype(np.int64)
        pred = load_label_png(osp.join(label_dir, f'{sample_id}.png')).astype(np.int64)
        if pred.shape != gt.shape:
            raise ValueError(f'{label_dir}/{sample_id}.png: size {pred.shape} differs from the '
                             f'GT size {gt.shape}')
        yield sample_id, gt, pred


def confusion(label_dir: str, gt_dir: str, ids: list[str], num_classes: int) -> np.ndarray:
    """(K, K) pixel counts: row = GT class, column = label class; void GT pixels left out."""
    counts = np.zeros((num_classes, num_classes), dtype=np.int64)
    for sample_id, gt, pred in _pairs(label_dir, gt_dir, ids):
        keep = gt != VOID
        if (pred[keep] >= num_classes).any():
            raise ValueError(f'{label_dir}/{sample_id}.png: labels beyond {num_classes - 1}')
        counts += np.bincount(gt[keep] * num_classes + pred[keep],
                              minlength=num_classes ** 2).reshape(num_classes, num_classes)
    return counts


def class_fractions(label_dir: str, gt_dir: str, ids: list[str],
                    num_classes: int) -> np.ndarray:
    """(K - 1,) mean share of the non-void pixels labelled with each foreground class, over
    the images whose GT contains that class (NaN for a class no GT contains)."""
    sums = np.zeros(num_classes - 1)
    counts = np.zeros(num_classes - 1)
    for _, gt, label in _pairs(label_dir, gt_dir, ids):
        keep = gt != VOID
        area = max(int(keep.sum()), 1)
        for cls in range(1, num_classes):
            if (gt[keep] == cls).any():
                sums[cls - 1] += (label[keep] == cls).sum() / area
                counts[cls - 1] += 1
    with np.errstate(invalid='ignore'):
        return sums / counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--labels', nargs='+', required=True, help='label directories')
    parser.add_argument('--names', nargs='+', required=True, help='one name per directory')
    parser.add_argument('--data-root', default='data/toy_voc_v2')
    parser.add_argument('--split', default='ImageSets/Segmentation/train.txt')
    parser.add_argument('--num-classes', type=int, default=7, help='classes incl. background')
    parser.add_argument('--fractions', action='store_true',
                        help='print each class\'s mean mask share instead of the confusion')
    args = parser.parse_args()
    if len(args.names) != len(args.labels):
        parser.error('give one --names entry per --labels directory')
    with open(osp.join(args.data_root, args.split)) as handle:
        ids = handle.read().split()
    gt_dir = osp.join(args.data_root, 'SegmentationClass')
    if args.fractions:
        print('| labels | ' + ' | '.join(f'class {c}' for c in range(1, args.num_classes))
              + ' | mean |')
        print('|---|' + '---|' * args.num_classes)
        for name, label_dir in [('GT', gt_dir), *zip(args.names, args.labels, strict=True)]:
            shares = class_fractions(label_dir, gt_dir, ids, args.num_classes)
            print(f'| {name} | ' + ' | '.join(f'{v:.3f}' for v in shares)
                  + f' | {np.nanmean(shares):.3f} |')
        return
    for name, label_dir in zip(args.names, args.labels, strict=True):
        counts = confusion(label_dir, gt_dir, ids, args.num_classes)
        rates = 100 * counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
        print(f'\n{name} ({label_dir}): % of each GT class (rows) per label (columns)')
        print('| GT \\ label | ' + ' | '.join(str(c) for c in range(args.num_classes)) + ' |')
        print('|---|' + '---|' * args.num_classes)
        for row in range(args.num_classes):
            print(f'| {row} | ' + ' | '.join(f'{v:.1f}' for v in rates[row]) + ' |')


if __name__ == '__main__':
    main()
