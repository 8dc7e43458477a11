"""Deprecated location of the CAM file format: use :mod:`mmhfpl.structures` (kept one release)."""

from mmhfpl.structures.cam_file import (
    CAMRecord,
    load_cam_file,
    remove_stale_temporaries,
    save_cam_file,
)

__all__ = ['CAMRecord', 'load_cam_file', 'remove_stale_temporaries', 'save_cam_file']
