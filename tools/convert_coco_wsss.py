"""Convert COCO 2014 instance annotations to the label-map layout of COCOWSSSDataset.

Example:
    python tools/convert_coco_wsss.py data/coco2014 --split train2014 --nproc 8

Reads ``ROOT/annotations/instances_<split>.json`` and writes
``ROOT/SegmentationClass/<split>/<id>.png`` (0 background, 1..80 classes in COCO
category order, 255 crowd) and ``ROOT/ImageSets/<split>.txt``. Label maps that
already exist are kept, so an interrupted conversion resumes where it stopped.
"""

import argparse
import os.path as osp

from mmhfpl.datasets.coco_conversion import convert_coco_split


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('root', help='COCO root holding annotations/ and the image folders')
    parser.add_argument('--split', default='train2014', help='train2014 or val2014')
    parser.add_argument('--ann-file', help='instances JSON (default: '
                        'ROOT/annotations/instances_<split>.json)')
    parser.add_argument('--nproc', type=int, default=1, help='worker processes')
    args = parser.parse_args()
    ann_file = args.ann_file or osp.join(args.root, 'annotations', f'instances_{args.split}.json')
    count = convert_coco_split(ann_file, args.root, args.split, nproc=args.nproc)
    print(f'\nwrote {count} label maps to {osp.join(args.root, "SegmentationClass", args.split)}')


if __name__ == '__main__':
    main()
