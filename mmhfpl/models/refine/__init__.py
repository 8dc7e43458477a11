"""Refinement of CAM pseudo-labels by learned affinities: AffinityNet and IRN."""

from .affinitynet import AffinityNet, feature_affinity
from .base import BaseAffinityRefiner
from .inference import refine_labels, refine_pipeline
from .irn import IRN, path_affinity, path_points
from .random_walk import (
    neighbour_offsets,
    pair_valid_mask,
    propagate,
    random_walk,
    shift,
    transition_weights,
)

__all__ = ['IRN', 'AffinityNet', 'BaseAffinityRefiner', 'feature_affinity', 'neighbour_offsets',
           'pair_valid_mask', 'path_affinity', 'path_points', 'propagate', 'random_walk',
           'refine_labels', 'refine_pipeline', 'shift', 'transition_weights']
