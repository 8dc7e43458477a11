"""Data transforms of the refinement stage: CAM loading, seed labels, pair labels, packing."""

from .affinity_labels import PairwiseAffinityLabels, pair_labels
from .formatting import PackAffinityInputs
from .load_cam import LoadCAMFromFile
from .seed_labels import AlphaSeedLabels, ThresholdSeedLabels

__all__ = ['AlphaSeedLabels', 'LoadCAMFromFile', 'PackAffinityInputs', 'PairwiseAffinityLabels',
           'ThresholdSeedLabels', 'pair_labels']
