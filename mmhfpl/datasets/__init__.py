"""Datasets of mmhfpl: VOC 2012, COCO 2014 and the toy benchmark, with image labels."""

from .coco import COCO_CLASSES, COCOWSSSDataset
from .toy import ToyVOCDataset
from .toy_voc import TOY_CLASSES, ToyVOCConfig, make_toy_voc, render_toy_sample
from .transforms import *  # noqa: F401,F403
from .voc import VOCWSSSDataset
from .wsss_dataset import WSSSSegDataset

__all__ = ['COCO_CLASSES', 'COCOWSSSDataset', 'TOY_CLASSES', 'ToyVOCConfig', 'ToyVOCDataset',
           'VOCWSSSDataset', 'WSSSSegDataset', 'make_toy_voc', 'render_toy_sample']
