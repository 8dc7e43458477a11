"""PMM's heat-map-guided crop: one multi-crop window per sample, labelled by a heat map.

PMM's multi-crop training (``Eli-YiLi/PMM`` ``tool/data.py``, ``VOC12ClsHeatCropDataset``)
trains on one window of the multi-crop grid per image and replaces the image's labels by
the classes the window actually shows. Which classes those are comes from a *heat map*:
the first stage-1 network's multi-scale CAMs with background (1 - max CAM)^24, refined by
a dCRF, of which only the confident pixels (posterior > 0.9) count. In mmhfpl the heat map
is a label PNG written by ``tools/make_pseudo_labels.py --alpha 24 --crf --min-confidence
0.9``: class index + 1 where a labelled class is confident, 0 for confident background,
255 elsewhere.

Sampling (as the authors' code): pick a scale uniformly from ``scales``; then draw windows
of that scale uniformly (with replacement), at most as many times as the scale has
windows, until one has a class; failing that, the last draw is kept with no class. A
labelled class c belongs to a window when its confident region R_c is not empty and

    |R_c ∩ window| / |R_c| > match_thresh  or  |R_c ∩ window| / |window| > match_thresh.
"""

import os.path as osp
from collections.abc import Sequence

import numpy as np
from mmcv.transforms import BaseTransform

from mmhfpl.registry import TRANSFORMS
from mmhfpl.structures import image_id, load_label_png

from .multi_crop_views import Box, multi_crop_windows

#: PMM's ``--scales`` of multi-crop training and inference.
PMM_CROP_SCALES = (0.75, 1.0, 1.25, 1.5, 1.75, 2.0, 2.25, 2.5, 2.75, 3.0)


def window_labels(heat: np.ndarray, labels: np.ndarray, box: Box,
                  match_thresh: float = 0.1) -> np.ndarray:
    """The sorted 0-based classes of ``labels`` that the window ``box`` shows (see above).

    Args:
        heat: (H, W) heat map (class index + 1 for confident pixels of a class).
        labels: 0-based classes of the image.
        box: Window (x1, y1, x2, y2).
        match_thresh: Overlap threshold (PMM: 0.1).
    """
    x1, y1, x2, y2 = box
    window = heat[y1:y2, x1:x2]
    kept = []
    for label in np.sort(np.asarray(labels, dtype=np.int64)):
        region = int((heat == label + 1).sum())
        if region == 0:
            continue
        inside = int((window == label + 1).sum())
        if inside / region > match_thresh or inside / window.size > match_thresh:
            kept.append(label)
    return np.asarray(kept, dtype=np.int64)


@TRANSFORMS.register_module()
class HeatmapGuidedCrop(BaseTransform):
    """Crop one multi-crop window of the image and relabel it from its heat map.

    Place it right after ``LoadImageFromFile``; PMM then flips, jitters colour and resizes
    the crop to the training size (``Resize`` with ``keep_ratio=False``).

    **Required keys:** ``img``, ``img_path``, ``gt_label`` (the image's 0-based classes).

    **Modified keys:** ``img``, ``img_shape``, ``gt_label`` (the window's classes, possibly
    none). **Added key:** ``crop_box``.

    Args:
        heat_dir: Directory of the heat maps ``<image id>.png``.
        scales: Scales of the window grids (PMM: :data:`PMM_CROP_SCALES`).
        crop_size: Window size at each scale (PMM: 448).
        stride: Step between windows (PMM: 300).
        match_thresh: Overlap threshold of :func:`window_labels` (PMM: 0.1).

    Raises:
        FileNotFoundError: The heat map of an image does not exist.
        ValueError: Its size differs from the image's (the message names the file).
    """

    def __init__(self, heat_dir: str, scales: Sequence[float] = PMM_CROP_SCALES,
                 crop_size: int = 448, stride: int = 300, match_thresh: float = 0.1) -> None:
        if not scales:
            raise ValueError('HeatmapGuidedCrop needs at least one scale')
        if not 0 <= match_thresh < 1:
            raise ValueError(f'match_thresh must lie in [0, 1), got {match_thresh}')
        self.heat_dir = heat_dir
        self.scales = tuple(float(s) for s in scales)
        self.crop_size = crop_size
        self.stride = stride
        self.match_thresh = match_thresh

    def transform(self, results: dict) -> dict:
        img = results['img']
        height, width = img.shape[:2]
        path = osp.join(self.heat_dir, image_id(results['img_path']) + '.png')
        if not osp.exists(path):
            raise FileNotFoundError(f'heat map not found: {path} (write it with '
                                    'tools/make_pseudo_labels.py --min-confidence)')
        heat = load_label_png(path)
        if heat.shape != (height, width):
            raise ValueError(f'{path}: heat map of size {heat.shape} does not match the '
                             f'image {results["img_path"]} of size {(height, width)}')
        scale = self.scales[np.random.randint(len(self.scales))]
        windows = multi_crop_windows(width, height, scale, self.crop_size, self.stride)
        labels = np.asarray(results['gt_label']).reshape(-1)
        for _ in range(len(windows)):
            box = windows[np.random.randint(len(windows))]
            kept = window_labels(heat, labels, box, self.match_thresh)
            if len(kept):
                break
        x1, y1, x2, y2 = box
        results['img'] = np.ascontiguousarray(img[y1:y2, x1:x2])
        results['img_shape'] = results['img'].shape[:2]
        results['gt_label'] = kept
        results['crop_box'] = box
        return results

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(heat_dir={self.heat_dir!r}, scales={self.scales}, '
                f'crop_size={self.crop_size}, stride={self.stride}, '
                f'match_thresh={self.match_thresh})')
