"""Plain functions behind the registered metrics."""

from .contour_f import (
                        boundary_tolerance,
                        contour_f_counts,
                        contour_f_from_counts,
                        contour_f_score,
                        seg2bmap,
)

__all__ = ['boundary_tolerance', 'contour_f_counts', 'contour_f_from_counts', 'contour_f_score',
           'seg2bmap']
