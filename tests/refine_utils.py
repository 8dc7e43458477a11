"""Helpers of the refinement tests: CAM files made from toy GT masks."""

from pathlib import Path

import numpy as np

from mmhfpl.structures import CAMRecord, load_label_png, save_cam_file


def write_gt_cams(toy_root: str, cam_dir: Path, split: str = 'train') -> list[str]:
    """CAM files of a toy split: 0.9 inside each GT object, 0 elsewhere; returns the ids."""
    ids = Path(toy_root, f'ImageSets/Segmentation/{split}.txt').read_text().split()
    for sample_id in ids:
        gt = load_label_png(Path(toy_root, 'SegmentationClass', f'{sample_id}.png'))
        classes = np.unique(gt[(gt > 0) & (gt < 255)]).astype(np.int64)
        cams = np.stack([0.9 * (gt == c) for c in classes]) if len(classes) else np.zeros(
            (0, *gt.shape))
        save_cam_file(cam_dir / f'{sample_id}.npz',
                      CAMRecord(cams=cams.astype(np.float32), labels=classes - 1))
    return ids
