"""Stage 2 of WSSS: CAM generation, pseudo-label making (+ dCRF) and their evaluation."""

from mmhfpl.structures import CAMRecord, load_cam_file, save_cam_file

from .cam_generation import (
    CAM_FUSIONS,
    DEFAULT_SCALES,
    cam_fusion_of,
    cam_tta_pipeline,
    generate_cams,
    tta_record,
)
from .evaluate import JFAccumulator, evaluate_cams, evaluate_label_dir
from .make_labels import BackgroundRule, make_pseudo_labels, record_to_label
from .tnt_ratio import fg_fraction, load_q_file, ratios_from_label_dir, save_q_file, tnt_ratio

__all__ = ['CAM_FUSIONS', 'DEFAULT_SCALES', 'BackgroundRule', 'CAMRecord', 'JFAccumulator',
           'cam_fusion_of', 'cam_tta_pipeline',
           'evaluate_cams', 'evaluate_label_dir', 'fg_fraction', 'generate_cams',
           'load_cam_file', 'load_q_file', 'make_pseudo_labels', 'ratios_from_label_dir',
           'record_to_label', 'save_cam_file', 'save_q_file', 'tnt_ratio', 'tta_record']
