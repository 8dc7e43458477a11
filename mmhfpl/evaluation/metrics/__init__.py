"""Registered mmengine metrics."""

from .contour_f_metric import ContourFMetric

__all__ = ['ContourFMetric']
