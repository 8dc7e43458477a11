"""T/NT proportions Q of Spatial-BCE (seed 003 Eq. 6) and their pickle-free file format.

For an image with label map l and foreground class c (label value c + 1), the ratio of
target to non-target pixels is ``Q^c = |{i: l_i = c + 1}| / |{i: l_i != c + 1}|`` over the
non-void pixels (value 255 is void). The target foreground fraction used by the losses is
``q = Q / (1 + Q)`` (1 when every pixel is of class c, so Q is infinite).

A Q file is an ``.npz`` (read with ``allow_pickle=False``) holding

* ``ids``: (N,) unicode, the image ids (file names without suffix);
* ``tnt_ratio``: (N, C) float32, Q^c of every image and foreground class (``inf`` allowed,
  0 for classes the label map does not contain).

It is written atomically (temporary file + rename).
"""

import os
import os.path as osp
from collections.abc import Iterable, Mapping

import numpy as np

from mmhfpl.datasets.label_io import atomic_save, load_label_png

VOID = 255


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


def save_q_file(path: str | os.PathLike, ratios: Mapping[str, np.ndarray]) -> None:
    """Write ``{image id: Q (C,)}`` to ``path`` in the format of the module docstring."""
    ids = sorted(ratios)
    if not ids:
        raise ValueError('no image to write a T/NT ratio for')
    table = np.stack([np.asarray(ratios[i], dtype=np.float32) for i in ids])
    if table.ndim != 2:
        raise ValueError(f'every ratio must be a (C,) vector, got table shape {table.shape}')

    def write(tmp: str) -> None:
        with open(tmp, 'wb') as handle:
            np.savez(handle, ids=np.array(ids, dtype=np.str_), tnt_ratio=table)

    atomic_save(write, path, '.npz.tmp')


def load_q_file(path: str | os.PathLike, num_classes: int | None = None) -> dict[str, np.ndarray]:
    """Read a Q file into ``{image id: Q (C,) float32}``, checking its layout."""
    if not osp.isfile(path):
        raise FileNotFoundError(f'T/NT ratio (Q) file not found: {path}')
    try:
        with np.load(path, allow_pickle=False) as data:
            ids, table = data['ids'], data['tnt_ratio']
    except (KeyError, ValueError, OSError) as err:
        raise ValueError(f'{path} is not a Q file (npz with "ids" and "tnt_ratio"): {err}') \
            from err
    if ids.ndim != 1 or table.ndim != 2 or table.shape[0] != ids.shape[0]:
        raise ValueError(f'{path}: ids {ids.shape} and tnt_ratio {table.shape} do not match')
    if num_classes is not None and table.shape[1] != num_classes:
        raise ValueError(f'{path}: tnt_ratio has {table.shape[1]} classes, expected '
                         f'{num_classes}')
    if np.isnan(table).any() or (table < 0).any():
        raise ValueError(f'{path}: tnt_ratio must be non-negative numbers')
    return {str(i): row.astype(np.float32) for i, row in zip(ids, table, strict=True)}


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
