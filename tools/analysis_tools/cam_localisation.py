"""Diagnostic: does a CAM sit on its object? Mean CAM inside vs outside each labelled class's
GT mask, per CAM directory.

For every CAM file and every labelled class with GT pixels, the mean of the class's CAM over
its GT pixels and over the other non-void pixels; the table gives their means over all such
(image, class) pairs and the share of pairs whose CAM is higher inside. A CAM that localises
its object has inside >> outside; inside < outside means the map sits on the background.

Example:
    python tools/analysis_tools/cam_localisation.py --data-root data/toy_voc_v2 \\
        --cams work_dirs/benchmark_toy_v2/seed0/cam/cams D2 --names CAM MCTformer
"""

import argparse
import os.path as osp

import numpy as np

from mmhfpl.structures import VOID, load_cam_file, load_label_png


def inside_outside(cam_dir: str, gt_dir: str, ids: list[str]) -> dict:
    """Mean CAM inside / outside the GT mask of each labelled class, over (image, class)."""
    inside, outside = [], []
    for sample_id in ids:
        record = load_cam_file(osp.join(cam_dir, f'{sample_id}.npz'))
        gt = load_label_png(osp.join(gt_dir, f'{sample_id}.png'))
        if record.image_size != gt.shape:
            raise ValueError(f'{cam_dir}/{sample_id}.npz: CAM size {record.image_size} differs '
                             f'from the GT size {gt.shape}')
        for cam, label in zip(record.cams, record.labels, strict=True):
            mask = gt == label + 1
            rest = ~mask & (gt != VOID)
            if mask.any() and rest.any():
                inside.append(float(cam[mask].mean()))
                outside.append(float(cam[rest].mean()))
    if not inside:
        raise ValueError(f'{cam_dir}: no labelled class with GT pixels among {len(ids)} images')
    inside, outside = np.array(inside), np.array(outside)
    return dict(pairs=len(inside), inside=inside.mean(), outside=outside.mean(),
                higher_inside=float((inside > outside).mean()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--cams', nargs='+', required=True, help='CAM directories')
    parser.add_argument('--names', nargs='+', required=True, help='one name per directory')
    parser.add_argument('--data-root', default='data/toy_voc_v2')
    parser.add_argument('--split', default='ImageSets/Segmentation/train.txt')
    parser.add_argument('--num-images', type=int, help='only the first N ids of the split')
    args = parser.parse_args()
    if len(args.names) != len(args.cams):
        parser.error('give one --names entry per --cams directory')
    with open(osp.join(args.data_root, args.split)) as handle:
        ids = handle.read().split()[:args.num_images]
    gt_dir = osp.join(args.data_root, 'SegmentationClass')
    print('| CAMs | (image, class) pairs | mean inside GT | mean outside | higher inside |\n'
          '|---|---|---|---|---|')
    for name, cam_dir in zip(args.names, args.cams, strict=True):
        row = inside_outside(cam_dir, gt_dir, ids)
        print(f'| {name} | {row["pairs"]} | {row["inside"]:.3f} | {row["outside"]:.3f} | '
              f'{100 * row["higher_inside"]:.1f}% |')


if __name__ == '__main__':
    main()
