"""Multi-scale, flip-augmented CAM generation for a trained stage-1 model.

Test-time augmentation is an mmcv ``TestTimeAug`` pipeline (one ``Resize`` per scale x
two ``RandomFlip`` states), so every view comes out of the data pipeline with its
``flip`` flag; the model's ``predict`` gives the raw CAM ``cam`` of each view, which is
upsampled to the original image size, un-flipped, rectified and summed over views
(as IRN's ``make_cam`` does), then max-normalised per class (seed 000 Eq. 4) and
restricted to the image's labelled classes. Models that predict per-class thresholds
(Spatial-BCE) store mean probabilities and TTA-averaged thresholds instead
(:func:`tta_record`). Results go to one ``.npz`` per image
(:mod:`mmhfpl.pseudo_labels.cam_io`), written atomically; existing files are skipped,
so a killed run resumes where it stopped. Under a distributed launcher each rank
handles every ``world_size``-th image.
"""

import os
import os.path as osp
from collections.abc import Iterator, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from mmengine.dataset import BaseDataset
from mmengine.dist import barrier, get_dist_info
from mmengine.utils import ProgressBar
from mmpretrain.structures import DataSample
from torch import Tensor

from .cam_io import CAMRecord, remove_stale_temporaries, save_cam_file

DEFAULT_SCALES = (1.0, 0.5, 1.5, 2.0)
_META_KEYS = ('sample_idx', 'img_path', 'ori_shape', 'img_shape', 'scale_factor', 'flip',
              'flip_direction')


def cam_tta_pipeline(scales: Sequence[float] = DEFAULT_SCALES, flip: bool = True) -> list[dict]:
    """The data pipeline producing the TTA views of an image for :func:`generate_cams`."""
    if not scales:
        raise ValueError('at least one CAM scale is needed')
    flips = [dict(type='RandomFlip', prob=0.0, direction='horizontal')]
    if flip:
        flips.append(dict(type='RandomFlip', prob=1.0, direction='horizontal'))
    return [
        dict(type='LoadImageFromFile'),
        dict(type='TestTimeAug', transforms=[
            [dict(type='Resize', scale_factor=float(s), keep_ratio=True) for s in scales],
            flips,
            [dict(type='mmpretrain.PackInputs', meta_keys=_META_KEYS)],
        ]),
    ]


def image_id(img_path: str) -> str:
    """The id an image's CAM and label files are named after."""
    return osp.splitext(osp.basename(img_path))[0]


def _view_cams(model: torch.nn.Module, views: dict, cam_key: str
               ) -> Iterator[tuple[Tensor, DataSample]]:
    """(C, H, W) un-flipped CAM at the original size and the data sample of every view."""
    ori_shape = tuple(views['data_samples'][0].ori_shape)
    by_size: dict[tuple, list[int]] = {}
    for index, view in enumerate(views['inputs']):
        by_size.setdefault(tuple(view.shape), []).append(index)
    for indices in by_size.values():  # views of one size form one batch
        batch = dict(inputs=[views['inputs'][i] for i in indices],
                     data_samples=[views['data_samples'][i] for i in indices])
        for sample in model.test_step(batch):
            cam = getattr(sample, cam_key, None)
            if cam is None:
                raise KeyError(f'{type(model).__name__}.predict sets no {cam_key!r} field')
            cam = F.interpolate(cam[None].float().cpu(), size=ori_shape, mode='bilinear',
                                align_corners=False)[0]
            if sample.metainfo.get('flip', False):
                cam = cam.flip(-1)
            yield cam, sample


@torch.no_grad()
def tta_cams(model: torch.nn.Module, views: dict, num_classes: int,
             cam_key: str = 'cam') -> np.ndarray:
    """Sum of rectified, un-flipped CAMs of all TTA views at the original size.

    Args:
        model: A stage-1 model whose ``predict`` sets ``cam_key`` (C, h, w) raw scores.
        views: One item of a dataset using :func:`cam_tta_pipeline` (lists of views).
        num_classes: Number of foreground classes C.
        cam_key: Data-sample field with the raw CAM.

    Returns:
        (C, H, W) float32 array (not yet normalised).
    """
    total = torch.zeros(num_classes, *views['data_samples'][0].ori_shape)
    for cam, _ in _view_cams(model, views, cam_key):
        total += cam.clamp(min=0)
    return total.numpy()


def normalised_record(total: np.ndarray, labels: np.ndarray) -> CAMRecord:
    """Max-normalise the CAMs of the labelled classes (Eq. 4) into a :class:`CAMRecord`."""
    labels = np.sort(np.asarray(labels, dtype=np.int64))
    cams = total[labels]
    peaks = cams.reshape(len(labels), -1).max(axis=1) if len(labels) else np.zeros(0)
    return CAMRecord(cams=cams / (peaks[:, None, None] + 1e-5), labels=labels)


@torch.no_grad()
def tta_record(model: torch.nn.Module, views: dict, num_classes: int, labels: np.ndarray,
               cam_key: str = 'cam') -> CAMRecord:
    """The :class:`CAMRecord` of one image from all its TTA views.

    Models whose ``predict`` sets only ``cam_key`` (raw CAM scores) get the rectified sum
    over views, max-normalised per class (:func:`normalised_record`). Models that also set
    ``thresholds`` (C,) (Spatial-BCE, :class:`~mmhfpl.models.heads.SpatialBCEHead`) give
    probability maps: the record holds the mean of the views' probabilities and the
    thresholds averaged over the views in logit space, which is the authors' averaging of
    the threshold branch's spatial means before the sigmoid (seed 003 Eq. 9 then compares
    the two).
    """
    labels = np.sort(np.asarray(labels, dtype=np.int64))
    total = torch.zeros(num_classes, *views['data_samples'][0].ori_shape)
    threshold_logits, count = [], 0
    for cam, sample in _view_cams(model, views, cam_key):
        total += cam.clamp(min=0)
        count += 1
        if 'thresholds' in sample:
            t = sample.thresholds.float().cpu().clamp(1e-6, 1 - 1e-6)
            threshold_logits.append(torch.log(t) - torch.log1p(-t))
    if not threshold_logits:
        return normalised_record(total.numpy(), labels)
    if len(threshold_logits) != count:
        raise ValueError('only some TTA views carry thresholds')
    thresholds = torch.sigmoid(torch.stack(threshold_logits).mean(dim=0)).numpy()
    return CAMRecord(cams=(total / count).numpy()[labels], labels=labels,
                     thresholds=thresholds[labels])


def generate_cams(model: torch.nn.Module, dataset: BaseDataset, out_dir: str,
                  num_classes: int, cam_key: str = 'cam', progress: bool = True) -> dict:
    """Write the CAM file of every image of ``dataset`` that has none yet.

    ``dataset`` must use :func:`cam_tta_pipeline` and carry ``gt_label`` (the image's
    labelled classes). Work is split across ranks; the call returns after a barrier.

    Returns:
        Counts for this rank: ``{'written': n, 'skipped': n}``.
    """
    rank, world_size = get_dist_info()
    os.makedirs(out_dir, exist_ok=True)
    if rank == 0:
        remove_stale_temporaries(out_dir)
    barrier()
    model.eval()
    indices = list(range(rank, len(dataset), world_size))
    bar = ProgressBar(len(indices)) if progress and rank == 0 else None
    counts = dict(written=0, skipped=0)
    for index in indices:
        info = dataset.get_data_info(index)
        path = osp.join(out_dir, image_id(info['img_path']) + '.npz')
        if osp.exists(path):
            counts['skipped'] += 1
        else:
            views = dataset[index]
            labels = views['data_samples'][0].gt_label.numpy()
            save_cam_file(path, tta_record(model, views, num_classes, labels, cam_key))
            counts['written'] += 1
        if bar is not None:
            bar.update()
    barrier()
    return counts
