"""IRN's random crop, which pads small images and records where the image lies."""

from collections.abc import Sequence

import numpy as np
from mmcv.transforms import BaseTransform
from mmcv.transforms.utils import cache_randomness

from mmhfpl.registry import TRANSFORMS


@TRANSFORMS.register_module()
class RandomCropWithValidMask(BaseTransform):
    """A square random crop as IRN's ``imutils.random_crop`` (used by IRN and SIPE).

    Per axis: an image longer than ``crop_size`` is cropped at a uniform offset; a shorter
    one is placed at a uniform offset inside a ``crop_size`` canvas filled with
    ``pad_val``. ``results['valid_mask']`` (crop_size, crop_size) uint8 is 1 where the
    canvas holds image pixels, so a model can ignore the padding (SIPE masks its CAMs with
    it; pack it with ``mmpretrain.PackInputs(algorithm_keys=('valid_mask',))``).

    Required keys: ``img``. Modified keys: ``img``, ``img_shape``. Added keys:
    ``valid_mask``.

    Args:
        crop_size: Side of the square crop.
        pad_val: Fill value of the canvas, one per channel or one for all (in the image's
            own colour order; the mean colour pads to 0 after normalisation, as in IRN and
            SIPE, which crop normalised images).
    """

    def __init__(self, crop_size: int, pad_val: float | Sequence[float] = 0) -> None:
        if crop_size <= 0:
            raise ValueError(f'crop_size must be positive, got {crop_size}')
        self.crop_size = int(crop_size)
        self.pad_val = pad_val

    @cache_randomness
    def _offsets(self, length: int) -> tuple[int, int]:
        """(canvas offset, image offset) along one axis of ``length`` pixels."""
        space = length - self.crop_size
        if space > 0:
            return 0, int(np.random.randint(space + 1))
        return int(np.random.randint(-space + 1)), 0

    def transform(self, results: dict) -> dict:
        img = results['img']
        height, width = img.shape[:2]
        canvas_top, img_top = self._offsets(height)
        canvas_left, img_left = self._offsets(width)
        crop_h, crop_w = min(self.crop_size, height), min(self.crop_size, width)
        canvas = np.empty((self.crop_size, self.crop_size, *img.shape[2:]), img.dtype)
        canvas[...] = np.asarray(self.pad_val, dtype=img.dtype)
        canvas[canvas_top:canvas_top + crop_h, canvas_left:canvas_left + crop_w] = \
            img[img_top:img_top + crop_h, img_left:img_left + crop_w]
        valid = np.zeros((self.crop_size, self.crop_size), np.uint8)
        valid[canvas_top:canvas_top + crop_h, canvas_left:canvas_left + crop_w] = 1
        results['img'] = canvas
        results['img_shape'] = canvas.shape[:2]
        results['valid_mask'] = valid
        return results

    def __repr__(self) -> str:
        return f'{type(self).__name__}(crop_size={self.crop_size}, pad_val={self.pad_val})'
