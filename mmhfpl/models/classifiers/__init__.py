"""Classifiers of mmhfpl."""

from .cam_classifier import CAMClassifier
from .seam import SEAM

__all__ = ['CAMClassifier', 'SEAM']
