"""Convert COCO 2014 instance annotations to the label-map layout of COCOWSSSDataset.

Example:
    python tools/dataset_converters/convert_coco_wsss.py data/coco2014 --split train2014 --nproc 8

Reads ``ROOT/annotations/instances_<split>.json`` and writes
``ROOT/SegmentationClass/<split>/<id>.png`` (0 background, 1..80 classes in COCO
category order, 255 crowd) and ``ROOT/ImageSets/<split>.txt``. Label maps that
already exist are kept, so an interrupted conversion resumes where it stopped.

Convert COCO instance annotations to the label-map layout of ``COCOWSSSDataset``.
"""

import argparse
import os
import os.path as osp
from multiprocessing import Pool

import numpy as np
from mmengine.utils import ProgressBar
from pycocotools.coco import COCO

from mmhfpl.structures import atomic_save, save_label_png

_COCO: COCO | None = None  # set in each worker by _init_worker
_CAT_TO_LABEL: dict[int, int] = {}


def _init_worker(ann_file: str) -> None:
    global _COCO, _CAT_TO_LABEL
    _COCO = COCO(ann_file)
    _CAT_TO_LABEL = {cat: i + 1 for i, cat in enumerate(sorted(_COCO.getCatIds()))}


def coco_label_map(coco: COCO, image_id: int, cat_to_label: dict[int, int]) -> np.ndarray:
    """Label map of one image: 0 background, 1..80 classes, 255 crowd regions.

    Larger instances are painted first so smaller ones on top of them stay visible.
    """
    info = coco.imgs[image_id]
    label = np.zeros((info['height'], info['width']), dtype=np.uint8)
    anns = coco.loadAnns(coco.getAnnIds(imgIds=image_id, iscrowd=None))
    for ann in sorted(anns, key=lambda a: a['area'], reverse=True):
        mask = coco.annToMask(ann).astype(bool)
        label[mask] = 255 if ann.get('iscrowd', 0) else cat_to_label[ann['category_id']]
    return label


def _convert_one(args: tuple[int, str]) -> str:
    image_id, out_path = args
    assert _COCO is not None
    if not osp.exists(out_path):  # finished files are skipped on a re-run
        save_label_png(out_path, coco_label_map(_COCO, image_id, _CAT_TO_LABEL))
    return osp.splitext(osp.basename(_COCO.imgs[image_id]['file_name']))[0]


def convert_coco_split(ann_file: str, out_root: str, split: str, nproc: int = 1) -> int:
    """Write ``SegmentationClass/<split>/<id>.png`` and ``ImageSets/<split>.txt``.

    Resumable: label maps that exist are kept. The list is written last.

    Returns:
        The number of images converted.
    """
    if not osp.isfile(ann_file):
        raise FileNotFoundError(f'COCO instances file not found: {ann_file}')
    coco = COCO(ann_file)
    if len(coco.getCatIds()) != 80:
        raise ValueError(f'{ann_file}: expected the 80 COCO categories, '
                         f'found {len(coco.getCatIds())}')
    out_dir = osp.join(out_root, 'SegmentationClass', split)
    os.makedirs(out_dir, exist_ok=True)
    jobs = [(image_id, osp.join(out_dir, osp.splitext(info['file_name'])[0] + '.png'))
            for image_id, info in sorted(coco.imgs.items())]
    if not jobs:
        raise ValueError(f'{ann_file} holds no images')
    progress = ProgressBar(len(jobs))
    ids = []
    with Pool(max(1, nproc), initializer=_init_worker, initargs=(ann_file,)) as pool:
        for sample_id in pool.imap(_convert_one, jobs, chunksize=16):
            ids.append(sample_id)
            progress.update()
    text = ''.join(f'{i}\n' for i in ids)

    def write(tmp: str) -> None:
        with open(tmp, 'w') as handle:
            handle.write(text)

    atomic_save(write, osp.join(out_root, 'ImageSets', f'{split}.txt'), '.txt')
    return len(ids)


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
