"""Backbones of mmhfpl."""

from .class_token_vit import ClassTokenViT, attention_with_weights
from .resnet38d import BottleneckResBlock, ResBlock, ResNet38d

__all__ = ['BottleneckResBlock', 'ClassTokenViT', 'ResBlock', 'ResNet38d',
           'attention_with_weights']
