"""Data transforms: colour jitter, and for the refinement stage CAM loading, seed labels, pair
labels and packing."""

from .affinity_labels import PairwiseAffinityLabels, pair_labels
from .color_jitter import ColorJitter, adjust_hue
from .formatting import PackAffinityInputs
from .load_cam import LoadCAMFromFile
from .seed_labels import AlphaSeedLabels, ThresholdSeedLabels

__all__ = ['AlphaSeedLabels', 'ColorJitter', 'LoadCAMFromFile', 'PackAffinityInputs',
           'PairwiseAffinityLabels', 'ThresholdSeedLabels', 'adjust_hue', 'pair_labels']
