"""Plain functions behind the registered metrics."""

from .contour_f import (
    boundary_tolerance,
    class_presence,
    contour_f_counts,
    contour_f_from_counts,
    contour_f_score,
    j_and_f,
    seg2bmap,
)

__all__ = ['boundary_tolerance', 'class_presence', 'contour_f_counts', 'contour_f_from_counts',
           'contour_f_score', 'j_and_f', 'seg2bmap']
