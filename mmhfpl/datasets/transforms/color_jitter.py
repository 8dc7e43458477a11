"""Colour jitter with a hue shift that works under numpy 2.

mmcv 2.1's ``adjust_hue`` adds ``np.uint8(hue_factor * 255)`` to the hue channel, which
raises ``OverflowError`` under numpy 2 for every negative factor, so mmpretrain's
``ColorJitter`` cannot jitter hue (PSA / SEAM / AffinityNet use torchvision's
``ColorJitter(0.3, 0.3, 0.3, 0.1)``). :class:`ColorJitter` keeps mmpretrain's parameters,
sampling and random order and only replaces the hue step by :func:`adjust_hue`.
"""

import cv2
import mmcv
import numpy as np
from mmpretrain.datasets.transforms import ColorJitter as MMPretrainColorJitter

from mmhfpl.registry import TRANSFORMS


def adjust_hue(img: np.ndarray, hue_factor: float) -> np.ndarray:
    """Rotate the hue of a BGR image by ``hue_factor`` of a full turn, in ``[-0.5, 0.5]``.

    The rotation is done on OpenCV's full-range (0-255) hue channel by
    ``trunc(hue_factor * 255)`` steps modulo 256, as mmcv's ``adjust_hue`` does under
    numpy 1 (where the negative uint8 cast wrapped around).
    """
    if not -0.5 <= hue_factor <= 0.5:
        raise ValueError(f'hue_factor must lie in [-0.5, 0.5], got {hue_factor}')
    dtype = img.dtype
    hsv = cv2.cvtColor(img.astype(np.uint8), cv2.COLOR_BGR2HSV_FULL)
    shift = int(hue_factor * 255) % 256
    hsv[..., 0] = ((hsv[..., 0].astype(np.int16) + shift) % 256).astype(np.uint8)
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR_FULL).astype(dtype)


@TRANSFORMS.register_module()
class ColorJitter(MMPretrainColorJitter):
    """mmpretrain's ``ColorJitter`` whose hue jitter also works under numpy 2.

    Same arguments and behaviour as ``mmpretrain.ColorJitter`` (brightness, contrast,
    saturation and hue factors sampled per image, applied in a random order); the hue step
    uses :func:`adjust_hue`.
    """

    def transform(self, results: dict) -> dict:
        """Jitter ``results['img']`` (BGR) in place of the dict."""
        order, *factors = self._rand_params()
        img = results['img']
        for index in order:
            factor = factors[index]
            if factor is None:
                continue
            if index == 0:
                img = mmcv.adjust_brightness(img, factor, backend=self.backend)
            elif index == 1:
                img = mmcv.adjust_contrast(img, factor, backend=self.backend)
            elif index == 2:
                img = mmcv.adjust_color(img, alpha=factor, backend=self.backend)
            else:
                img = adjust_hue(img, factor)
        results['img'] = img
        return results
