"""Classifiers of mmhfpl."""

from .cam_classifier import CAMClassifier

__all__ = ['CAMClassifier']
