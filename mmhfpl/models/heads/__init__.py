"""Heads of mmhfpl."""

from .cam_head import CAMHead
from .spatial_bce_head import SpatialBCEHead

__all__ = ['CAMHead', 'SpatialBCEHead']
