"""Data transforms: colour jitter, IRN's random crop with its valid mask, and for the
refinement stage CAM loading, seed labels, pair labels and packing."""

from .affinity_labels import PairwiseAffinityLabels, pair_labels
from .color_jitter import ColorJitter, adjust_hue
from .formatting import PackAffinityInputs
from .load_cam import LoadCAMFromFile
from .random_crop_with_valid_mask import RandomCropWithValidMask
from .seed_labels import AlphaSeedLabels, BackgroundMapSeedLabels, ThresholdSeedLabels

__all__ = ['AlphaSeedLabels', 'BackgroundMapSeedLabels', 'ColorJitter', 'LoadCAMFromFile',
           'PackAffinityInputs', 'PairwiseAffinityLabels', 'RandomCropWithValidMask',
           'ThresholdSeedLabels', 'adjust_hue', 'pair_labels']
