"""Classifiers of mmhfpl."""

from .cam_classifier import CAMClassifier
from .seam import SEAM
from .sipe import SIPE

__all__ = ['CAMClassifier', 'SEAM', 'SIPE']
