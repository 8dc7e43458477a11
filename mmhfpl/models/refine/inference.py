"""Writing refined pseudo-labels of a dataset with a trained AffinityNet / IRN."""

import os
import os.path as osp
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch
from mmengine.dataset import BaseDataset, pseudo_collate
from mmengine.dist import barrier, get_dist_info
from mmseg.structures import SegDataSample

from mmhfpl.pseudo_labels.crf import CRFConfig, dense_crf, read_crf_image
from mmhfpl.structures import class_ids, image_id, save_label_png
from mmhfpl.utils.progress import track


def refine_pipeline(cam_dir: str) -> list[dict]:
    """The data pipeline :func:`refine_labels` needs: image, its CAMs, packing."""
    return [
        dict(type='LoadImageFromFile'),
        dict(type='mmhfpl.LoadCAMFromFile', cam_dir=cam_dir),
        dict(type='mmhfpl.PackAffinityInputs'),
    ]


def crf_label(sample: SegDataSample, crf: CRFConfig) -> np.ndarray:
    """The argmax of the dCRF-refined ``seg_logits`` of a predicted sample (uint8 ids).

    The image is read from the sample's ``img_path``; the scores (background and the
    labelled classes) go through :func:`mmhfpl.pseudo_labels.crf.dense_crf`, as SEAM's
    ``infer_aff.py --crf`` does with the random-walk scores.
    """
    scores = sample.seg_logits.data.float().cpu().numpy()
    ids = class_ids(sample.cam_labels.cpu().numpy())
    if len(scores) < 2:  # background only
        return np.zeros(scores.shape[1:], np.uint8)
    image = read_crf_image(sample.img_path)
    return ids[dense_crf(image, scores, **asdict(crf)).argmax(axis=0)]


@torch.no_grad()
def refine_labels(model: torch.nn.Module, dataset: BaseDataset, out_dir: str,
                  crf: CRFConfig | None = None, progress: bool = True) -> dict:
    """Write ``out_dir/<id>.png`` (the model's ``pred_sem_seg``) for every image without one.

    Images go one at a time, so the random walk sees each image padded only to the
    stride. Labels are VOC palette PNGs (0 background, c + 1 class c), written atomically;
    existing files are kept, so an interrupted run resumes. Under a distributed launcher
    each rank handles every ``world_size``-th image and the call returns after a barrier
    (counts are this rank's).

    Args:
        model: A refinement model (``AffinityNet``, ``IRN``) with its weights loaded.
        dataset: A dataset whose pipeline is :func:`refine_pipeline` (or ends the same way).
        out_dir: Output directory.
        crf: With dCRF parameters, write :func:`crf_label` of the refined scores instead.
        progress: Show a progress bar.

    Returns:
        ``{'written': n, 'skipped': n}``.
    """
    os.makedirs(out_dir, exist_ok=True)
    rank, world_size = get_dist_info()
    if rank == 0:
        for stale in Path(out_dir).glob('.*.png'):  # temporaries of a killed run
            stale.unlink(missing_ok=True)
    barrier()
    model.eval()
    counts = dict(written=0, skipped=0)
    indices = range(rank, len(dataset), world_size)
    for index in track(indices, len(indices), progress and rank == 0):
        path = osp.join(out_dir, image_id(dataset.get_data_info(index)['img_path']) + '.png')
        if osp.exists(path):
            counts['skipped'] += 1
        else:
            sample = model.test_step(pseudo_collate([dataset[index]]))[0]
            if crf is None:
                label = sample.pred_sem_seg.data[0].cpu().numpy().astype(np.uint8)
            else:
                label = crf_label(sample, crf)
            save_label_png(path, label)
            counts['written'] += 1
    barrier()
    return counts
