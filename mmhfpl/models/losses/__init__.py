"""Losses of mmhfpl, each a registered module over a functional core."""

from .feature_similarity_loss import FeatureSimilarityLoss, feature_similarity_loss
from .gap_bce_loss import GAPBCELoss, gap_bce_loss
from .importance_sampling_loss import ImportanceSamplingLoss, importance_sampling_loss

__all__ = ['FeatureSimilarityLoss', 'GAPBCELoss', 'ImportanceSamplingLoss',
           'feature_similarity_loss', 'gap_bce_loss', 'importance_sampling_loss']
