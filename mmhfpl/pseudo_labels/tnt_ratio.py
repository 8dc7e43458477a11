"""T/NT proportions Q of Spatial-BCE (seed 003 Eq. 6).

For an image with label map l and foreground class c (label value c + 1), the ratio of
target to non-target pixels is ``Q^c = |{i: l_i = c + 1}| / |{i: l_i != c + 1}|`` over the
non-void pixels (value 255 is void). The target foreground fraction used by the losses is
``q = Q / (1 + Q)`` (1 when every pixel is of class c, so Q is infinite).

Q files (:mod:`mmhfpl.structures.q_file`) store them per image.
"""

import os.path as osp
from collections.abc import Iterable

import numpy as np

from mmhfpl.structures import VOID, load_label_png, load_q_file, save_q_file

__all__ = ['fg_fraction', 'load_q_file', 'ratios_from_label_dir', 'save_q_file', 'tnt_ratio']


def tnt_ratio(label: np.ndarray, num_classes: int) -> np.ndarray:
    """Q^c (C,) of one (H, W) label map (background 0, class c is c + 1, void 255)."""
    values = label[label != VOID].astype(np.int64)
    if values.size and (values.min() < 0 or values.max() > num_classes):
        raise ValueError(f'label values must be in [0, {num_classes}] or {VOID}, got '
                         f'[{values.min()}, {values.max()}]')
    counts = np.bincount(values, minlength=num_classes + 1)[1:].astype(np.float64)
    others = values.size - counts
    with np.errstate(divide='ignore', invalid='ignore'):
        ratio = np.where(others > 0, counts / np.maximum(others, 1), np.inf)
    return np.where(counts > 0, ratio, 0.0).astype(np.float32)


def fg_fraction(ratio: np.ndarray) -> np.ndarray:
    """q = Q / (1 + Q), elementwise, with q = 1 for Q = inf."""
    ratio = np.asarray(ratio, dtype=np.float64)
    if (ratio < 0).any() or np.isnan(ratio).any():
        raise ValueError('T/NT ratios must be non-negative numbers')
    with np.errstate(invalid='ignore'):
        return np.where(np.isinf(ratio), 1.0, ratio / (1.0 + ratio)).astype(np.float32)


def ratios_from_label_dir(label_dir: str, ids: Iterable[str],
                          num_classes: int) -> dict[str, np.ndarray]:
    """Q of every image id from ``label_dir/<id>.png`` (e.g. dCRF pseudo-labels)."""
    ratios = {}
    for sample_id in ids:
        path = osp.join(label_dir, f'{sample_id}.png')
        if not osp.isfile(path):
            raise FileNotFoundError(f'pseudo-label not found: {path}')
        try:
            ratios[sample_id] = tnt_ratio(load_label_png(path), num_classes)
        except ValueError as err:
            raise ValueError(f'{path}: {err}') from err
    return ratios
