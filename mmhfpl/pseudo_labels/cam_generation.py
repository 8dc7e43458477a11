"""Multi-scale, flip-augmented CAM generation for a trained stage-1 model.

Test-time augmentation is an mmcv ``TestTimeAug`` pipeline (one ``Resize`` per scale x
two ``RandomFlip`` states), so every view comes out of the data pipeline with its
``flip`` flag; the model's ``predict`` gives the raw CAM ``cam`` of each view, which is
upsampled to the original image size and un-flipped. The views are then combined as the
authors of the model combine them (:data:`CAM_FUSIONS`: IRN's rectified sum and max
normalisation for CAM heads, SEAM's min-max normalised sum, Spatial-BCE's sigmoid of the
mean logits with TTA-averaged thresholds, SIPE's max-normalised sum of IS-CAMs with their
background, MCTformer's min-max normalised sum) and restricted to the image's labelled classes
(:func:`tta_record`). With ``crop_size``, the views are instead PMM's multi-crop windows
(``mmhfpl.MultiCropViews``): each view's map is upsampled to its window, pasted back there,
and the maps are averaged over the views covering each pixel before the fusion's
normalisation. Results go to one ``.npz`` per image
(:mod:`mmhfpl.pseudo_labels.cam_io`), written atomically; existing files are skipped,
so a killed run resumes where it stopped. Under a distributed launcher each rank
handles every ``world_size``-th image.
"""

import logging
import os
import os.path as osp
from collections.abc import Iterator, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from mmengine.dataset import BaseDataset
from mmengine.dist import barrier, get_dist_info
from mmengine.logging import print_log
from mmengine.model import is_model_wrapper
from mmpretrain.structures import DataSample
from torch import Tensor

from mmhfpl.structures import (
    CAMRecord,
    image_id,
    is_readable_cam_file,
    max_normalize,
    min_max_normalize,
    remove_stale_temporaries,
    save_cam_file,
)
from mmhfpl.utils.progress import track

DEFAULT_SCALES = (1.0, 0.5, 1.5, 2.0)
#: Views of one input size per forward pass (multi-crop inference has up to ~200 views).
_MAX_BATCH = 8
_META_KEYS = ('sample_idx', 'img_path', 'ori_shape', 'img_shape', 'scale_factor', 'flip',
              'flip_direction')


def cam_tta_pipeline(scales: Sequence[float] = DEFAULT_SCALES, flip: bool = True,
                     crop_size: int | None = None, stride: int | None = None) -> list[dict]:
    """The data pipeline producing the TTA views of an image for :func:`generate_cams`.

    With ``crop_size`` (and ``stride``) the views are PMM's multi-crop windows at
    ``scales`` (``mmhfpl.MultiCropViews``) instead of the whole image at each scale.
    """
    if not scales:
        raise ValueError('at least one CAM scale is needed')
    if (crop_size is None) != (stride is None):
        raise ValueError('multi-crop views need both crop_size and stride')
    if crop_size is not None:
        return [dict(type='LoadImageFromFile'),
                dict(type='mmhfpl.MultiCropViews', scales=tuple(scales), crop_size=crop_size,
                     stride=stride, flip=flip)]
    flips = [dict(type='RandomFlip', prob=0.0, direction='horizontal')]
    if flip:
        flips.append(dict(type='RandomFlip', prob=1.0, direction='horizontal'))
    return [
        dict(type='LoadImageFromFile'),
        dict(type='TestTimeAug', transforms=[
            # PIL bicubic, as the authors' inference of IRN, SEAM, ISL/FSL and Spatial-BCE.
            [dict(type='Resize', scale_factor=float(s), keep_ratio=True, backend='pillow',
                  interpolation='bicubic') for s in scales],
            flips,
            [dict(type='mmpretrain.PackInputs', meta_keys=_META_KEYS)],
        ]),
    ]


#: How the TTA views of an image combine into its CAM record, each as the authors' inference
#: does (the model names its rule in ``cam_fusion``):
#:
#: * ``'irn'`` (:class:`~mmhfpl.models.heads.CAMHead`; IRN ``make_cam.py``): every view's raw
#:   scores upsampled to the image size, rectified, summed, divided by the per-class
#:   maximum + 1e-5 (seed 000 Eq. 4);
#: * ``'seam'`` (:class:`~mmhfpl.models.classifiers.SEAM`; SEAM / ISL-FSL
#:   ``infer_cam_voc.py``): every view's CAM upsampled first to its input size with
#:   ``align_corners=True`` (inside the authors' network) and then to the image size, summed
#:   without rectification, then ReLU and min-max normalisation per class;
#: * ``'spatial_bce'`` (:class:`~mmhfpl.models.heads.SpatialBCEHead`; Spatial-BCE
#:   ``make_cam.py``): the views' logits upsampled and averaged, then one sigmoid; the
#:   record holds these probabilities and the views' thresholds averaged in logit space;
#: * ``'sipe'`` (:class:`~mmhfpl.models.classifiers.SIPE`; SIPE ``make_cam.py``): the
#:   views' IS-CAMs (``cam``) and IS-CAM backgrounds (``cam_background``) upsampled to
#:   the image size and summed, each map divided by its maximum + 1e-5; the record holds
#:   the background map too;
#: * ``'mctformer'`` (:class:`~mmhfpl.models.classifiers.MCTformer`; MCTformer
#:   ``generate_attention_maps_ms``): the views' maps upsampled to the image size and summed,
#:   then min-max normalised per class (eps 1e-8).
CAM_FUSIONS = ('irn', 'seam', 'spatial_bce', 'sipe', 'mctformer')


def cam_fusion_of(model: torch.nn.Module) -> str:
    """The ``cam_fusion`` rule a (possibly wrapped) model declares (``'irn'`` if none)."""
    core = model.module if is_model_wrapper(model) else model
    fusion = getattr(core, 'cam_fusion', 'irn')
    if fusion not in CAM_FUSIONS:
        raise ValueError(f'{type(core).__name__}.cam_fusion is {fusion!r}; expected one of '
                         f'{CAM_FUSIONS}')
    return fusion


def _view_cams(model: torch.nn.Module, views: dict, keys: Sequence[str],
               via_input: bool = False
               ) -> Iterator[tuple[list[Tensor], DataSample, tuple[int, ...]]]:
    """Un-flipped maps (C, h, w) of every view, its data sample and its window
    (x1, y1, x2, y2; the whole image for a view without ``crop_box``).

    ``keys`` name the data-sample fields to read (the CAM first); with ``via_input`` each
    map is first upsampled to its view's input size with ``align_corners=True`` (SEAM's
    network does so before returning its CAMs). A map is then upsampled to the original
    image size, or, for a view with a ``crop_box`` (x1, y1, x2, y2), to that window's size.
    Views of one input size run as batches of at most :data:`_MAX_BATCH`.
    """
    ori_shape = tuple(views['data_samples'][0].ori_shape)
    by_size: dict[tuple, list[int]] = {}
    for index, view in enumerate(views['inputs']):
        by_size.setdefault(tuple(view.shape), []).append(index)
    for size, same_size in by_size.items():
        for start in range(0, len(same_size), _MAX_BATCH):
            indices = same_size[start:start + _MAX_BATCH]
            batch = dict(inputs=[views['inputs'][i] for i in indices],
                         data_samples=[views['data_samples'][i] for i in indices])
            for sample in model.test_step(batch):
                box = tuple(sample.metainfo.get('crop_box', (0, 0, ori_shape[1], ori_shape[0])))
                target = (box[3] - box[1], box[2] - box[0])
                maps = []
                for key in keys:
                    cam = getattr(sample, key, None)
                    if cam is None:
                        raise KeyError(f'{type(model).__name__}.predict sets no {key!r} field')
                    cam = cam[None].float().cpu()
                    if via_input:
                        cam = F.interpolate(cam, size=size[-2:], mode='bilinear',
                                            align_corners=True)
                    cam = F.interpolate(cam, size=target, mode='bilinear',
                                        align_corners=False)[0]
                    maps.append(cam.flip(-1) if sample.metainfo.get('flip', False) else cam)
                yield maps, sample, box


@torch.no_grad()
def tta_record(model: torch.nn.Module, views: dict, num_classes: int, labels: np.ndarray,
               cam_key: str = 'cam') -> CAMRecord:
    """The :class:`CAMRecord` of one image from all its TTA views.

    The views combine by the model's ``cam_fusion`` rule (:data:`CAM_FUSIONS`); ``cam_key``
    is the data-sample field holding each view's raw CAM (C, h, w) (logits for
    ``'spatial_bce'``, which also reads the ``thresholds`` field). Views with a ``crop_box``
    (multi-crop windows) are pasted into their windows and averaged over the views covering
    each pixel before the normalisation; an image's views are either all windows or all
    whole images.
    """
    fusion = cam_fusion_of(model)
    labels = np.sort(np.asarray(labels, dtype=np.int64))
    total = torch.zeros(num_classes, *views['data_samples'][0].ori_shape)
    background = torch.zeros(1, *views['data_samples'][0].ori_shape)
    keys = (cam_key, 'cam_background') if fusion == 'sipe' else (cam_key, )
    coverage = torch.zeros(1, *views['data_samples'][0].ori_shape)
    threshold_logits, count, kinds = [], 0, set()
    for maps, sample, (x1, y1, x2, y2) in _view_cams(model, views, keys,
                                                     via_input=fusion == 'seam'):
        cam = maps[0]
        total[:, y1:y2, x1:x2] += cam.clamp(min=0) if fusion == 'irn' else cam
        coverage[:, y1:y2, x1:x2] += 1
        if fusion == 'sipe':
            background[:, y1:y2, x1:x2] += maps[1]
        kinds.add('crop_box' in sample.metainfo)
        count += 1
        if fusion != 'spatial_bce':
            if 'thresholds' in sample:
                raise ValueError(f"{type(model).__name__}.predict sets thresholds but its "
                                 f"cam_fusion is {fusion!r}; a model with learned thresholds "
                                 "declares cam_fusion = 'spatial_bce'")
        else:
            if 'thresholds' not in sample:
                raise KeyError(f'{type(model).__name__}.predict sets no thresholds field, '
                               "which cam_fusion='spatial_bce' needs")
            t = sample.thresholds.float().cpu().clamp(1e-6, 1 - 1e-6)
            threshold_logits.append(torch.log(t) - torch.log1p(-t))
    if True in kinds:  # multi-crop windows: the mean over the views covering each pixel
        if len(kinds) > 1:
            raise ValueError('the views of an image mix multi-crop windows and whole images')
        coverage = coverage.clamp(min=1)
        total, background, count = total / coverage, background / coverage, 1
    cams = total[torch.from_numpy(labels)]
    if fusion == 'irn':
        return CAMRecord(cams=max_normalize(cams).numpy(), labels=labels)
    if fusion == 'seam':
        return CAMRecord(cams=min_max_normalize(cams).numpy(), labels=labels)
    if fusion == 'mctformer':
        return CAMRecord(cams=min_max_normalize(cams, eps=1e-8).numpy(), labels=labels)
    if fusion == 'sipe':
        return CAMRecord(cams=max_normalize(cams).numpy(), labels=labels,
                         background=max_normalize(background)[0].numpy())
    thresholds = torch.sigmoid(torch.stack(threshold_logits).mean(dim=0)).numpy()
    probs = torch.sigmoid(cams / count).numpy()
    return CAMRecord(cams=probs, labels=labels, thresholds=thresholds[labels])


def generate_cams(model: torch.nn.Module, dataset: BaseDataset, out_dir: str,
                  num_classes: int, cam_key: str = 'cam', progress: bool = True) -> dict:
    """Write the CAM file of every image of ``dataset`` that has none yet.

    ``dataset`` must use :func:`cam_tta_pipeline` and carry ``gt_label`` (the image's
    labelled classes). Work is split across ranks; the call returns after a barrier.

    An existing file that cannot be loaded (a run killed by the OS mid-write on another
    file system, a copy cut short) is written again, with a warning naming it.

    Returns:
        Counts for this rank: ``{'written': n, 'skipped': n, 'rewritten': n}`` (rewritten
        files are also counted as written).
    """
    rank, world_size = get_dist_info()
    os.makedirs(out_dir, exist_ok=True)
    if rank == 0:
        remove_stale_temporaries(out_dir)
    barrier()
    model.eval()
    indices = list(range(rank, len(dataset), world_size))
    counts = dict(written=0, skipped=0, rewritten=0)
    for index in track(indices, len(indices), progress and rank == 0):
        info = dataset.get_data_info(index)
        path = osp.join(out_dir, image_id(info['img_path']) + '.npz')
        if osp.exists(path) and is_readable_cam_file(path):
            counts['skipped'] += 1
        else:
            if osp.exists(path):
                print_log(f'{path} cannot be loaded (truncated or corrupt); writing it again',
                          logger='current', level=logging.WARNING)
                counts['rewritten'] += 1
            views = dataset[index]
            labels = views['data_samples'][0].gt_label.numpy()
            save_cam_file(path, tta_record(model, views, num_classes, labels, cam_key))
            counts['written'] += 1
    barrier()
    return counts
