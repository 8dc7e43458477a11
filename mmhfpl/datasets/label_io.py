"""Reading and writing VOC-style palette label maps (pickle-free, atomic)."""

import os
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image


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


def atomic_save(save: Callable[[str], None], path: str | os.PathLike, suffix: str) -> None:
    """Call ``save(tmp_path)`` and move the file to ``path`` only once it is complete."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f'.{path.stem}.', suffix=suffix, dir=path.parent)
    os.close(fd)
    try:
        save(tmp)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


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
