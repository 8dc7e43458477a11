"""The pickle-free file format of the T/NT proportions Q of Spatial-BCE (seed 003 Eq. 6).

A Q file is an ``.npz`` (read with ``allow_pickle=False``) holding

* ``ids``: (N,) unicode, the image ids (file names without suffix);
* ``tnt_ratio``: (N, C) float32, Q^c of every image and foreground class (``inf`` allowed,
  0 for classes the label map does not contain).

It is written atomically (temporary file + rename).
"""

import os
import os.path as osp
from collections.abc import Mapping

import numpy as np

from .atomic import atomic_save


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
