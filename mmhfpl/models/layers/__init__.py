"""Building blocks of mmhfpl models."""

from .pcm import PixelCorrelationModule, pcm_seed_cam, propagate_by_affinity

__all__ = ['PixelCorrelationModule', 'pcm_seed_cam', 'propagate_by_affinity']
