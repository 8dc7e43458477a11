"""Evaluation of pseudo-labels and segmentations: J, contour F and J&F."""

from .functional import contour_f_counts, contour_f_from_counts, contour_f_score
from .metrics import ContourFMetric

__all__ = ['ContourFMetric', 'contour_f_counts', 'contour_f_from_counts', 'contour_f_score']
