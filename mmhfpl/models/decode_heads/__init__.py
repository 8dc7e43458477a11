"""Decode heads for mmseg's stage 3 that mmseg does not provide."""

from .deeplab_v1_head import DeepLabV1Head

__all__ = ['DeepLabV1Head']
