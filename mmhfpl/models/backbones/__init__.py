"""Backbones of mmhfpl."""

from .resnet38d import BottleneckResBlock, ResBlock, ResNet38d

__all__ = ['BottleneckResBlock', 'ResBlock', 'ResNet38d']
