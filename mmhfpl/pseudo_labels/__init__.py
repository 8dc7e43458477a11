"""Stage 2 of WSSS: CAM generation, pseudo-label making (+ dCRF) and their evaluation."""

from .cam_generation import DEFAULT_SCALES, cam_tta_pipeline, generate_cams, tta_cams
from .cam_io import CAMRecord, load_cam_file, save_cam_file
from .evaluate import JFAccumulator, evaluate_cams, evaluate_label_dir
from .make_labels import BackgroundRule, make_pseudo_labels, record_to_label

__all__ = ['DEFAULT_SCALES', 'BackgroundRule', 'CAMRecord', 'JFAccumulator', 'cam_tta_pipeline',
           'evaluate_cams', 'evaluate_label_dir', 'generate_cams', 'load_cam_file',
           'make_pseudo_labels', 'record_to_label', 'save_cam_file', 'tta_cams']
