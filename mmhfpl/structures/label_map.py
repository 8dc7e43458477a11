"""Label maps: VOC-style palette PNGs (pickle-free, atomic) and their class ids.

A label map holds 0 for background, ``c + 1`` for foreground class ``c`` (0-based, as in
image labels and CAM files) and :data:`VOID` (255) for pixels that are not evaluated.
"""

import os

import numpy as np
from PIL import Image

from .atomic import atomic_save

#: Label value of pixels excluded from training and evaluation (VOC's object outlines).
VOID = 255


def voc_palette(num_entries: int = 256) -> np.ndarray:
    """The PASCAL VOC colour map as a (num_entries, 3) uint8 array.

    Entry ``i`` spreads the bits of ``i`` over the three channels, most significant
    first, which is how the VOC devkit defines its colours (255 -> void colour).
    """
    palette = np.zeros((num_entries, 3), dtype=np.uint8)
    for index in range(num_entries):
        value, rgb = index, [0, 0, 0]
        for shift in range(7, -1, -1):
            for channel in range(3):
                rgb[channel] |= ((value >> channel) & 1) << shift
            value >>= 3
        palette[index] = rgb
    return palette


def class_ids(labels: np.ndarray) -> np.ndarray:
    """Label values of score channels ``[background, *labels]``: ``[0, *(labels + 1)]``."""
    return np.concatenate([[0], np.asarray(labels, dtype=np.int64) + 1]).astype(np.uint8)


def save_label_png(path: str | os.PathLike, label: np.ndarray) -> None:
    """Write an (H, W) integer label map as a VOC palette PNG, atomically."""
    if label.ndim != 2:
        raise ValueError(f'{path}: label map must be 2-D, got shape {label.shape}')
    if label.min() < 0 or label.max() > 255:
        raise ValueError(f'{path}: label values must lie in [0, 255]')
    image = Image.fromarray(label.astype(np.uint8), mode='P')
    image.putpalette(voc_palette().reshape(-1).tolist())
    atomic_save(lambda tmp: image.save(tmp, format='PNG'), path, '.png')


def load_label_png(path: str | os.PathLike) -> np.ndarray:
    """Read a label PNG (palette or grey) as an (H, W) uint8 array of class indices."""
    try:
        with Image.open(path) as image:
            if image.mode not in ('P', 'L'):
                raise ValueError(
                    f'{path}: label maps must be palette (P) or grey (L) PNGs, '
                    f'got mode {image.mode}')
            return np.asarray(image, dtype=np.uint8).copy()
    except FileNotFoundError:
        raise FileNotFoundError(f'label map not found: {path}') from None
    except OSError as err:
        raise ValueError(f'{path}: cannot read label map ({err})') from err
