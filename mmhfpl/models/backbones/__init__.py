"""Backbones of mmhfpl."""

from .class_token_vit import ClassTokenViT, attention_with_weights
from .resnet38d import BottleneckResBlock, ResBlock, ResNet38d
from .scalenet import ScaleAggregationBlock, ScaleNet, load_structure

__all__ = ['BottleneckResBlock', 'ClassTokenViT', 'ResBlock', 'ResNet38d',
           'ScaleAggregationBlock', 'ScaleNet', 'attention_with_weights', 'load_structure']
