"""Deprecated location of the label-map I/O: use :mod:`mmhfpl.structures` (kept one release)."""

from mmhfpl.structures.atomic import atomic_save
from mmhfpl.structures.label_map import load_label_png, save_label_png, voc_palette

__all__ = ['atomic_save', 'load_label_png', 'save_label_png', 'voc_palette']
