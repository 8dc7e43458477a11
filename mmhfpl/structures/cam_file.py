"""The CAM file format: one pickle-free ``.npz`` per image, written atomically.

``<cam_dir>/<image id>.npz`` holds named arrays (``np.load(..., allow_pickle=False)``):

* ``cams``: (L, H, W) float16, the normalised CAMs (values in [0, 1]) of the L foreground
  classes labelled in the image, at the original image size; for models that predict
  thresholds, the class probabilities (sigmoid of the TTA-averaged logits) instead;
* ``labels``: (L,) int64, their 0-based foreground class indices (class ``c`` is label
  ``c + 1`` in a segmentation map), sorted ascending;
* ``thresholds``: (L,) float32, optional per-class adaptive thresholds of models that
  predict them (Spatial-BCE, seed 003 Eq. 9), in the same probability space as ``cams``;
* ``background``: (H, W) float16, optional background map of models that predict one
  (SIPE's IS-CAM background channel), normalised like ``cams``.

float16 halves the disk footprint (VOC train_aug at float32 would need about 12 GB);
its resolution (~5e-4 near 1) is far below any threshold step used on CAMs.
"""

import os
import os.path as osp
import zipfile
from dataclasses import dataclass

import numpy as np

from .atomic import atomic_save, remove_temporaries

#: Suffix of the temporary files of :func:`save_cam_file`.
TMP_SUFFIX = '.npz.tmp'


@dataclass
class CAMRecord:
    """CAMs of one image (see the module docstring for the meaning of each array)."""

    cams: np.ndarray
    labels: np.ndarray
    thresholds: np.ndarray | None = None
    background: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.cams.ndim != 3:
            raise ValueError(f'cams must be (L, H, W), got shape {self.cams.shape}')
        if self.labels.shape != (self.cams.shape[0], ):
            raise ValueError(f'{self.cams.shape[0]} CAMs but labels of shape {self.labels.shape}')
        if self.thresholds is not None and self.thresholds.shape != self.labels.shape:
            raise ValueError(f'thresholds of shape {self.thresholds.shape} do not match '
                             f'labels of shape {self.labels.shape}')
        if self.background is not None and self.background.shape != self.cams.shape[1:]:
            raise ValueError(f'background of shape {self.background.shape} does not match '
                             f'CAMs of size {self.cams.shape[1:]}')

    @property
    def image_size(self) -> tuple[int, int]:
        return int(self.cams.shape[1]), int(self.cams.shape[2])


def save_cam_file(path: str | os.PathLike, record: CAMRecord) -> None:
    """Write ``record`` to ``path`` via a temporary file and an atomic rename."""
    arrays = dict(cams=record.cams.astype(np.float16),
                  labels=record.labels.astype(np.int64))
    if record.thresholds is not None:
        arrays['thresholds'] = record.thresholds.astype(np.float32)
    if record.background is not None:
        arrays['background'] = record.background.astype(np.float16)

    def write(tmp: str) -> None:
        with open(tmp, 'wb') as handle:
            np.savez(handle, **arrays)

    atomic_save(write, path, TMP_SUFFIX)


#: What to do about a CAM file that cannot be read; every reader's error ends with it.
REGENERATE_HINT = ('re-run tools/generate_cams.py for this directory: it rewrites the CAM '
                   'files it cannot load')


class CAMFileError(ValueError):
    """A CAM file exists but cannot be read (truncated, not an npz, wrong arrays)."""


def load_cam_file(path: str | os.PathLike) -> CAMRecord:
    """Read a CAM file; errors name the file, the problem and the remedy.

    Raises:
        FileNotFoundError: No file at ``path``.
        CAMFileError: The file is truncated, not an ``.npz``, holds pickled objects or lacks
            the CAM arrays.
    """
    try:
        with np.load(path, allow_pickle=False) as data:
            missing = {'cams', 'labels'} - set(data.files)
            if missing:
                raise CAMFileError(f'{path}: not a CAM file, missing arrays {sorted(missing)}; '
                                   f'{REGENERATE_HINT}')
            record = CAMRecord(
                cams=data['cams'].astype(np.float32), labels=data['labels'].astype(np.int64),
                thresholds=(data['thresholds'].astype(np.float32)
                            if 'thresholds' in data.files else None),
                background=(data['background'].astype(np.float32)
                            if 'background' in data.files else None))
    except FileNotFoundError:
        raise FileNotFoundError(f'CAM file not found: {path}') from None
    except CAMFileError:
        raise
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as err:
        # numpy's own messages advise allow_pickle=True, which CAM files never need.
        reason = ('holds pickled objects' if 'allow_pickle' in str(err)
                  else f'cannot be read ({type(err).__name__}: {err})')
        raise CAMFileError(f'{path}: invalid CAM file, it {reason}; {REGENERATE_HINT}') \
            from None
    return record


def is_readable_cam_file(path: str | os.PathLike) -> bool:
    """Whether ``path`` is a complete CAM file (resumable generation rewrites the others)."""
    try:
        load_cam_file(path)
    except (FileNotFoundError, CAMFileError):
        return False
    return True


def remove_stale_temporaries(cam_dir: str | os.PathLike) -> int:
    """Delete temporary CAM files a killed run left in ``cam_dir``; return how many."""
    return remove_temporaries(cam_dir, TMP_SUFFIX)


def image_id(img_path: str) -> str:
    """The id an image's CAM, label and Q entries are named after: its file stem."""
    return osp.splitext(osp.basename(img_path))[0]
