"""Evaluation of pseudo-labels and segmentations: J, contour F and J&F."""

from .functional import (
    class_presence,
    contour_f_counts,
    contour_f_from_counts,
    contour_f_score,
    j_and_f,
)
from .metrics import ContourFMetric

__all__ = ['ContourFMetric', 'class_presence', 'contour_f_counts', 'contour_f_from_counts',
           'contour_f_score', 'j_and_f']
