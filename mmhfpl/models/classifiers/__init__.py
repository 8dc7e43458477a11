"""Classifiers of mmhfpl."""

from .cam_classifier import CAMClassifier
from .mctformer import MCTformer, class_attention_cam
from .seam import SEAM
from .sipe import SIPE

__all__ = ['CAMClassifier', 'MCTformer', 'SEAM', 'SIPE', 'class_attention_cam']
