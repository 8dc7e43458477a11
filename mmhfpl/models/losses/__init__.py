"""Losses of mmhfpl, each a registered module over a functional core."""

from .adaptive_min_pooling_loss import AdaptiveMinPoolingLoss, adaptive_min_pooling_loss
from .affinity_loss import AffinityLoss, affinity_loss, affinity_loss_terms
from .cam_loss import CAMLoss, WSSSLoss
from .equivariant_cross_regularization_loss import (
    EquivariantCrossRegularizationLoss,
    equivariant_cross_regularization_loss,
)
from .equivariant_regularization_loss import (
    EquivariantRegularizationLoss,
    equivariant_regularization_loss,
)
from .feature_similarity_loss import FeatureSimilarityLoss, feature_similarity_loss
from .gap_bce_loss import GAPBCELoss, gap_bce_loss
from .general_specific_consistency_loss import (
    GeneralSpecificConsistencyLoss,
    general_specific_consistency_loss,
)
from .importance_sampling_loss import ImportanceSamplingLoss, importance_sampling_loss
from .spatial_bce_loss import SpatialBCELoss, select_thresholds, spatial_bce_loss
from .tnt_kl_loss import TNTProportionKLLoss, tnt_kl_loss

__all__ = ['AdaptiveMinPoolingLoss', 'AffinityLoss', 'CAMLoss',
           'EquivariantCrossRegularizationLoss', 'EquivariantRegularizationLoss',
           'FeatureSimilarityLoss', 'GAPBCELoss', 'GeneralSpecificConsistencyLoss',
           'ImportanceSamplingLoss', 'SpatialBCELoss',
           'TNTProportionKLLoss', 'WSSSLoss', 'adaptive_min_pooling_loss', 'affinity_loss',
           'affinity_loss_terms', 'equivariant_cross_regularization_loss',
           'equivariant_regularization_loss', 'feature_similarity_loss', 'gap_bce_loss',
           'general_specific_consistency_loss',
           'importance_sampling_loss', 'select_thresholds', 'spatial_bce_loss', 'tnt_kl_loss']
