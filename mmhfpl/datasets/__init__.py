"""Datasets of mmhfpl: VOC 2012, COCO 2014 and the toy benchmark, with image labels."""

from .coco import COCO_CLASSES, COCOWSSSDataset
from .toy import TOY_CLASSES, TOY_PALETTE, ToyVOCDataset
from .transforms import *  # noqa: F401,F403
from .voc import VOCWSSSDataset
from .wsss_dataset import WSSSSegDataset

__all__ = ['COCO_CLASSES', 'COCOWSSSDataset', 'TOY_CLASSES', 'TOY_PALETTE', 'ToyVOCDataset',
           'VOCWSSSDataset', 'WSSSSegDataset']
