"""The bottom layer: mmhfpl's file formats and identifiers, importing no other layer.

CAM files (:mod:`.cam_file`), label maps (:mod:`.label_map`), Q files (:mod:`.q_file`), the
one atomic writer they share (:mod:`.atomic`) and the CAM normalisations (:mod:`.cam_norm`).
"""

from .atomic import atomic_save, remove_temporaries
from .cam_file import (
    CAMFileError,
    CAMRecord,
    image_id,
    is_readable_cam_file,
    load_cam_file,
    remove_stale_temporaries,
    save_cam_file,
)
from .cam_norm import max_normalize, min_max_normalize
from .label_map import VOID, class_ids, load_label_png, save_label_png, voc_palette
from .q_file import load_q_file, save_q_file

__all__ = ['VOID', 'CAMFileError', 'CAMRecord', 'atomic_save', 'class_ids', 'image_id',
           'is_readable_cam_file', 'load_cam_file', 'load_label_png', 'load_q_file',
           'max_normalize', 'min_max_normalize', 'remove_stale_temporaries', 'remove_temporaries',
           'save_cam_file', 'save_label_png', 'save_q_file', 'voc_palette']
