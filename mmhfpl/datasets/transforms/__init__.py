"""Data transforms: colour jitter, the HSV shift of seed 000's final segmentation training,
IRN's random crop with its valid mask, PMM's multi-crop views and heat-map-guided crop, and
for the refinement stage CAM loading, seed labels, pair labels and packing."""

from .affinity_labels import PairwiseAffinityLabels, pair_labels
from .color_jitter import ColorJitter, adjust_hue
from .formatting import PackAffinityInputs
from .heatmap_guided_crop import PMM_CROP_SCALES, HeatmapGuidedCrop, window_labels
from .load_cam import LoadCAMFromFile
from .multi_crop_views import MultiCropViews, crop_and_resize, multi_crop_windows
from .random_crop_with_valid_mask import RandomCropWithValidMask
from .random_hsv_shift import RandomHSVShift, shift_hsv
from .seed_labels import AlphaSeedLabels, BackgroundMapSeedLabels, ThresholdSeedLabels

__all__ = ['PMM_CROP_SCALES', 'AlphaSeedLabels', 'BackgroundMapSeedLabels', 'ColorJitter',
           'HeatmapGuidedCrop', 'LoadCAMFromFile', 'MultiCropViews', 'PackAffinityInputs',
           'PairwiseAffinityLabels', 'RandomCropWithValidMask', 'RandomHSVShift',
           'ThresholdSeedLabels', 'adjust_hue', 'crop_and_resize', 'multi_crop_windows',
           'pair_labels', 'shift_hsv', 'window_labels']
