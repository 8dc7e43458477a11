"""Additive HSV jitter of seed 000's final segmentation training."""

import cv2
import numpy as np
from mmcv.transforms import BaseTransform
from mmcv.transforms.utils import cache_randomness

from mmhfpl.registry import TRANSFORMS


def shift_hsv(img: np.ndarray, shifts: tuple[int, int, int]) -> np.ndarray:
    """Add integer ``(hue, saturation, value)`` offsets to a uint8 BGR image.

    OpenCV's 8-bit HSV: the hue (0-179, two degrees per step) wraps around modulo 180,
    saturation and value (0-255) are clipped.
    """
    if img.dtype != np.uint8 or img.ndim != 3 or img.shape[2] != 3:
        raise ValueError(f'expected a uint8 BGR image (H, W, 3), got {img.dtype} '
                         f'{img.shape}')
    hsv = cv2.cvtColor(img, cv2.COLOR_BGR2HSV).astype(np.int16)
    hsv[..., 0] = (hsv[..., 0] + shifts[0]) % 180
    hsv[..., 1:] = np.clip(hsv[..., 1:] + np.asarray(shifts[1:], np.int16), 0, 255)
    return cv2.cvtColor(hsv.astype(np.uint8), cv2.COLOR_HSV2BGR)


@TRANSFORMS.register_module()
class RandomHSVShift(BaseTransform):
    """Shift hue, saturation and value by random integers, one draw per image and channel.

    The colour augmentation of the final segmentation training in seed 000's code
    (``arvijj/hfpl``, ``RandomHSV`` with ``DATA_RANDOM_H/S/V = 10``, from YudeWang's
    segmentation codebase): offsets uniform over the integers ``[-delta, delta]``, applied
    to OpenCV's 8-bit HSV (:func:`shift_hsv`). mmseg's ``PhotoMetricDistortion`` scales
    saturation and applies each step with probability 0.5, and mmdet's ``HSVRandomAug``
    switches channels off at random, so neither reproduces it.

    Required keys: ``img`` (uint8 BGR). Modified keys: ``img``.

    Args:
        hue_delta: Largest hue offset, in OpenCV steps of 2 degrees (0-179).
        saturation_delta: Largest saturation offset (0-255 scale).
        value_delta: Largest value offset (0-255 scale).
    """

    def __init__(self, hue_delta: int = 10, saturation_delta: int = 10,
                 value_delta: int = 10) -> None:
        self.deltas = (hue_delta, saturation_delta, value_delta)
        for name, delta in zip(('hue_delta', 'saturation_delta', 'value_delta'),
                               self.deltas, strict=True):
            if not isinstance(delta, int) or delta < 0:
                raise ValueError(f'{name} must be a non-negative integer, got {delta!r}')

    @cache_randomness
    def _shifts(self) -> tuple[int, int, int]:
        return tuple(int(np.random.randint(-d, d + 1)) for d in self.deltas)

    def transform(self, results: dict) -> dict:
        results['img'] = shift_hsv(results['img'], self._shifts())
        return results

    def __repr__(self) -> str:
        hue, saturation, value = self.deltas
        return (f'{self.__class__.__name__}(hue_delta={hue}, '
                f'saturation_delta={saturation}, value_delta={value})')
