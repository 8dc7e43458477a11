"""PMM's multi-crop views of an image: a grid of crop windows at several scales.

PMM (Li et al., ICCV 2021; ``Eli-YiLi/PMM`` ``tool/data.py``) trains and infers its second
stage-1 network on crops instead of whole rescaled images. At scale s the image of size
(W, H) is notionally resized to (int(W s), int(H s)) and covered by windows of
``crop_size`` placed every ``stride`` pixels (the last window of a row or column is aligned
with the border, so windows overlap there); each window is mapped back to the original
image by dividing its corners by s (truncated), and that region of the original image is
the crop. :func:`multi_crop_windows` is the one home of this grid; :class:`MultiCropViews`
turns it into inference views and :class:`HeatmapGuidedCrop` samples one for training.
"""

import copy
import math
from collections.abc import Sequence

import mmcv
import numpy as np
from mmcv.transforms import BaseTransform

from mmhfpl.registry import TRANSFORMS

Box = tuple[int, int, int, int]
#: Meta keys every inference view carries (those of the whole-image CAM pipeline plus the
#: window).
VIEW_META_KEYS = ('sample_idx', 'img_path', 'ori_shape', 'img_shape', 'scale_factor', 'flip',
                  'flip_direction', 'crop_box')


def _starts(length: int, crop_size: int, stride: int) -> list[tuple[int, int]]:
    count = 1 + math.ceil(max(0, length - crop_size) / stride)
    spans = []
    for index in range(count):
        if index == count - 1:
            spans.append((max(0, length - crop_size), length))
        else:
            spans.append((index * stride, min(length, (index + 1) * stride)))
    return spans


def multi_crop_windows(width: int, height: int, scale: float, crop_size: int,
                       stride: int) -> list[Box]:
    """The crop windows ``(x1, y1, x2, y2)`` (original pixels) of one scale.

    Windows are listed column by column (x outer, y inner), as the authors' loops. Note
    that a window that is not the last of its row spans only ``stride`` pixels (the
    authors' ``min(w, (i + 1) * stride)``), so with ``stride < crop_size`` inner windows are
    narrower than ``crop_size``; every crop is resized to ``crop_size`` squared afterwards.
    """
    if width < 1 or height < 1:
        raise ValueError(f'image size must be positive, got {width}x{height}')
    if scale <= 0 or crop_size < 1 or stride < 1:
        raise ValueError(f'scale, crop_size and stride must be positive, got {scale}, '
                         f'{crop_size}, {stride}')
    scaled_w, scaled_h = int(width * scale), int(height * scale)
    windows = []
    for x1, x2 in _starts(scaled_w, crop_size, stride):
        for y1, y2 in _starts(scaled_h, crop_size, stride):
            box = (int(x1 / scale), int(y1 / scale), int(x2 / scale), int(y2 / scale))
            if box[2] > box[0] and box[3] > box[1]:
                windows.append(box)
    if not windows:
        raise ValueError(f'scale {scale} leaves no pixel of a {width}x{height} image')
    return windows


def crop_and_resize(img: np.ndarray, box: Box, crop_size: int) -> np.ndarray:
    """The window ``box`` of ``img`` resized to ``crop_size`` squared (PIL bilinear, as PMM)."""
    x1, y1, x2, y2 = box
    return mmcv.imresize(np.ascontiguousarray(img[y1:y2, x1:x2]), (crop_size, crop_size),
                         interpolation='bilinear', backend='pillow')


@TRANSFORMS.register_module()
class MultiCropViews(BaseTransform):
    """All multi-crop views of an image for CAM inference (PMM ``infer_multi_crop.py``).

    For every scale and every window of :func:`multi_crop_windows`, the crop resized to
    ``crop_size`` squared, and with ``flip`` its horizontal mirror right after it. The result
    has the form of mmcv's ``TestTimeAug`` output (``inputs`` and ``data_samples`` lists,
    packed by mmpretrain's ``PackInputs``), so :func:`mmhfpl.pseudo_labels.generate_cams`
    uses it unchanged; each data sample carries ``crop_box`` (x1, y1, x2, y2) and the CAM
    of a view is pasted back into that box and averaged over the views covering a pixel.
    Place it right after ``LoadImageFromFile``.

    Args:
        scales: Scales of the window grids (PMM: 0.75, 1, 1.25, ..., 3).
        crop_size: Window size at each scale and input size of every view (PMM: 448).
        stride: Step between windows at each scale (PMM: 300).
        flip: Add the mirrored view of every crop.
    """

    def __init__(self, scales: Sequence[float], crop_size: int = 448, stride: int = 300,
                 flip: bool = True) -> None:
        if not scales:
            raise ValueError('MultiCropViews needs at least one scale')
        self.scales = tuple(float(s) for s in scales)
        self.crop_size = crop_size
        self.stride = stride
        self.flip = flip
        self.pack = TRANSFORMS.build(dict(type='mmpretrain.PackInputs',
                                          meta_keys=VIEW_META_KEYS))

    def transform(self, results: dict) -> dict:
        img = results['img']
        height, width = img.shape[:2]
        packed = dict(inputs=[], data_samples=[])
        for scale in self.scales:
            for box in multi_crop_windows(width, height, scale, self.crop_size, self.stride):
                view = crop_and_resize(img, box, self.crop_size)
                for flipped in ((False, True) if self.flip else (False, )):
                    item = copy.copy(results)
                    item.update(img=mmcv.imflip(view) if flipped else view,
                                img_shape=view.shape[:2], flip=flipped,
                                flip_direction='horizontal' if flipped else None,
                                scale_factor=(self.crop_size / (box[2] - box[0]),
                                              self.crop_size / (box[3] - box[1])),
                                crop_box=box)
                    out = self.pack(item)
                    packed['inputs'].append(out['inputs'])
                    packed['data_samples'].append(out['data_samples'])
        return packed

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(scales={self.scales}, crop_size={self.crop_size}, '
                f'stride={self.stride}, flip={self.flip})')
