"""Building blocks of mmhfpl models."""

from .image_specific_prototypes import (
    ImageSpecificPrototypes,
    cam_with_background,
    image_prototypes,
    prototype_activation,
    seed_correlation_iou,
    structure_seeds,
)
from .pcm import PixelCorrelationModule, pcm_seed_cam, propagate_by_affinity

__all__ = ['ImageSpecificPrototypes', 'PixelCorrelationModule', 'cam_with_background',
           'image_prototypes', 'pcm_seed_cam', 'propagate_by_affinity', 'prototype_activation',
           'seed_correlation_iou', 'structure_seeds']
