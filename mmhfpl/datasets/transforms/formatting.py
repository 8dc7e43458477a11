"""Packing refinement samples (image, seed/GT labels, pair labels, CAMs) for a model."""

from collections.abc import Sequence

import numpy as np
import torch
from mmcv.transforms import BaseTransform
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample

from mmhfpl.registry import TRANSFORMS

DEFAULT_META_KEYS = ('img_path', 'ori_shape', 'img_shape', 'pad_shape', 'scale_factor', 'flip',
                     'flip_direction')


@TRANSFORMS.register_module()
class PackAffinityInputs(BaseTransform):
    """Pack a sample for ``AffinityNet`` / ``IRN``, as mmseg's ``PackSegInputs`` does.

    Returns ``dict(inputs=img, data_samples=SegDataSample)``: ``inputs`` is the (3, H, W)
    image tensor (dtype kept; the model's data preprocessor normalises it) and the data
    sample carries whatever of these the pipeline produced:

    * ``gt_sem_seg`` (PixelData (1, H, W) int64) from ``gt_seg_map``: seed labels in
      training, GT masks at test time (for J / F evaluation of the refined labels);
    * ``gt_affinity`` (PixelData (P, h, w) uint8) from ``gt_affinity`` (pair labels);
    * ``cams`` (PixelData (L, H, W) float32) and ``cam_labels`` (tensor (L,) int64) from
      ``LoadCAMFromFile`` (inference input), and ``cam_background`` (PixelData (1, H, W)
      float32) when the CAM file holds a background map.

    Args:
        meta_keys: Keys of ``results`` copied into the sample's metainfo when present.
    """

    def __init__(self, meta_keys: Sequence[str] = DEFAULT_META_KEYS) -> None:
        self.meta_keys = tuple(meta_keys)

    def transform(self, results: dict) -> dict:
        img = results['img']
        if img.ndim == 2:
            img = img[..., None]
        inputs = torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1)))
        sample = SegDataSample()
        if 'gt_seg_map' in results:
            seg = np.asarray(results['gt_seg_map']).astype(np.int64)
            sample.gt_sem_seg = PixelData(data=torch.from_numpy(seg[None]))
        if 'gt_affinity' in results:
            sample.gt_affinity = PixelData(data=torch.from_numpy(results['gt_affinity']))
        if 'cams' in results:
            cams = np.ascontiguousarray(results['cams'], dtype=np.float32)
            sample.cams = PixelData(data=torch.from_numpy(cams))
            sample.cam_labels = torch.as_tensor(np.asarray(results['cam_labels'],
                                                           dtype=np.int64))
        if 'cam_background' in results:
            background = np.ascontiguousarray(results['cam_background'], dtype=np.float32)
            sample.cam_background = PixelData(data=torch.from_numpy(background[None]))
        sample.set_metainfo({key: results[key] for key in self.meta_keys if key in results})
        return dict(inputs=inputs, data_samples=sample)

    def __repr__(self) -> str:
        return f'{type(self).__name__}(meta_keys={self.meta_keys})'
