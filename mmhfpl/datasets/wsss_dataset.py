"""Segmentation datasets that also carry image-level labels for WSSS.

Stage 1 of a WSSS pipeline trains a classifier on image-level labels; stage 2
evaluates pseudo-labels against GT masks of the same images. One dataset serves
both: it is an mmseg ``BaseSegDataset`` (image and mask paths, mmseg pipelines)
whose data infos also hold ``gt_label``, the sorted 0-based indices of the
foreground classes present, which mmpretrain's ``PackInputs`` turns into the
multi-label target of a classifier.
"""

import os.path as osp
import time
import xml.etree.ElementTree as ET
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from mmengine.logging import print_log
from mmseg.datasets import BaseSegDataset
from PIL import Image, UnidentifiedImageError

from mmhfpl.registry import DATASETS
from mmhfpl.structures import load_label_png

from .scan_cache import ScanCache


@DATASETS.register_module()
class WSSSSegDataset(BaseSegDataset):
    """A list-file segmentation dataset with image-level labels.

    Images are ``data_prefix['img_path']/<id><img_suffix>`` and masks
    ``data_prefix['seg_map_path']/<id><seg_map_suffix>`` for each ``<id>`` line of
    ``ann_file``. Masks hold class indices (0 = background) and ``ignore_index``.

    Image-level labels are the foreground classes present in the mask
    (``label_source='mask'``) or named by the objects of a VOC XML annotation
    (``label_source='xml'``, from ``data_prefix['xml_path']``). Pickled label files
    (such as ``cls_labels.npy``) are deliberately not supported.

    Every file is checked while the list is loaded, so a missing, corrupt or truncated
    image (each is decoded in full), a missing mask or a mask with a class index outside
    the class list raises an error naming the file before training starts. The result
    of each entry is cached (:mod:`mmhfpl.datasets.scan_cache`, JSON next to the list
    file) and reused while its files keep their size and modification time, so later
    builds of the same split cost a ``stat`` per file.

    Args:
        label_source: ``'mask'`` or ``'xml'``.
        filter_cfg: ``dict(filter_empty_gt=bool)``. Images without any foreground
            class are excluded when ``filter_empty_gt`` is true, which is the default
            outside ``test_mode`` (WSSS practice); the count is logged.
        scan_threads: Threads that check the files and read the masks while the list
            loads (decoding releases the GIL; independent of the dataloader's workers).
        scan_cache: Reuse the cached scan results of unchanged files (False: check
            every file on every build and write no cache).
        **kwargs: Arguments of ``mmseg.datasets.BaseSegDataset``.
    """

    def __init__(self, *args, label_source: str = 'mask', scan_threads: int = 8,
                 scan_cache: bool = True, **kwargs) -> None:
        if label_source not in ('mask', 'xml'):
            raise ValueError(f"label_source must be 'mask' or 'xml', got {label_source!r}")
        self.label_source = label_source
        self.scan_threads = scan_threads
        self.scan_cache = scan_cache
        super().__init__(*args, **kwargs)

    @property
    def num_fg_classes(self) -> int:
        """Number of foreground classes (the classifier's output size)."""
        return len(self.metainfo['classes']) - 1

    def _join_prefix(self) -> None:
        super()._join_prefix()
        xml_dir = self.data_prefix.get('xml_path')
        if xml_dir and self.data_root and not osp.isabs(xml_dir):
            self.data_prefix['xml_path'] = osp.join(self.data_root, xml_dir)

    def load_data_list(self) -> list[dict]:
        if not self.ann_file or not osp.isfile(self.ann_file):
            raise FileNotFoundError(
                f'{type(self).__name__}: image list (ann_file) not found: {self.ann_file!r}')
        data_list = super().load_data_list()
        if not data_list:
            raise ValueError(f'{type(self).__name__}: image list {self.ann_file} is empty')
        if self.label_source == 'xml' and not self.data_prefix.get('xml_path'):
            raise ValueError("label_source='xml' needs data_prefix['xml_path']")
        cache = ScanCache(self.ann_file, self._scan_settings()) if self.scan_cache else None
        start = time.perf_counter()
        with ThreadPoolExecutor(max(1, self.scan_threads)) as pool:
            results = list(pool.map(lambda info: self._scan_entry(info, cache), data_list))
        checked = 0
        for info, (label, fresh) in zip(data_list, results, strict=True):
            info['gt_label'] = label
            checked += fresh
        if cache is not None:
            cache.save(keep=[info['img_path'] for info in data_list])
        if checked:
            print_log(f'{type(self).__name__}({osp.basename(self.ann_file)}): checked '
                      f'{checked} images and their labels in {time.perf_counter() - start:.1f} s'
                      f', {len(data_list) - checked} unchanged ones from the scan cache',
                      logger='current')
        return data_list

    def _scan_settings(self) -> dict:
        """What besides the files decides an entry's labels (the scan cache's key)."""
        return dict(classes=list(self.metainfo['classes']), label_source=self.label_source,
                    ignore_index=self.ignore_index, data_prefix=self.data_prefix,
                    img_suffix=self.img_suffix, seg_map_suffix=self.seg_map_suffix,
                    check='full-decode')

    def _xml_path(self, info: dict) -> str:
        stem = osp.splitext(osp.basename(info['img_path']))[0]
        return osp.join(self.data_prefix['xml_path'], stem + '.xml')

    def _scan_entry(self, info: dict, cache: ScanCache | None) -> tuple[np.ndarray, bool]:
        """The labels of one entry and whether its files were checked (not cached)."""
        if cache is not None:
            seg_map_path = info.get('seg_map_path')
            has_mask = seg_map_path is not None and osp.isfile(seg_map_path)
            paths = [info['img_path']] + ([seg_map_path] if has_mask else [])
            if self.label_source == 'xml':
                paths.append(self._xml_path(info))
            cached = cache.get(info['img_path'], paths)
            if cached is not None:
                if seg_map_path is not None and not has_mask:
                    info.pop('seg_map_path')
                return np.asarray(cached, dtype=np.int64), False
        labels = self._check_and_label(info)
        if cache is not None:
            cache.put(info['img_path'], paths, labels.tolist())
        return labels, True

    def filter_data(self) -> list[dict]:
        filter_cfg = self.filter_cfg or {}
        if not filter_cfg.get('filter_empty_gt', not self.test_mode):
            return self.data_list
        kept = [info for info in self.data_list if len(info['gt_label']) > 0]
        print_log(
            f'{type(self).__name__}({osp.basename(self.ann_file)}): {len(kept)} images kept, '
            f'{len(self.data_list) - len(kept)} without any foreground class excluded',
            logger='current')
        if not kept:
            raise ValueError(f'{type(self).__name__}: no image of {self.ann_file} has a '
                             'foreground class')
        return kept

    def _check_and_label(self, info: dict) -> np.ndarray:
        img_path = info['img_path']
        try:
            with Image.open(img_path) as image:
                image.load()  # decodes every pixel: truncated files raise here
        except FileNotFoundError:
            raise FileNotFoundError(
                f'{self.ann_file} lists an image that does not exist: {img_path}') from None
        except (UnidentifiedImageError, OSError, SyntaxError) as err:
            raise ValueError(
                f'corrupt or truncated image file {img_path} ({err}); replace it (e.g. '
                f'extract or convert the dataset again) or remove its id from '
                f'{self.ann_file}') from err
        seg_map_path = info.get('seg_map_path')
        if seg_map_path is not None and not osp.isfile(seg_map_path):
            if self.label_source == 'mask':
                raise FileNotFoundError(
                    f'{self.ann_file} lists an image whose mask does not exist: {seg_map_path}')
            info.pop('seg_map_path')
        if self.label_source == 'mask':
            return self._labels_from_mask(seg_map_path)
        return self._labels_from_xml(self._xml_path(info))

    def _labels_from_mask(self, path: str) -> np.ndarray:
        values = np.unique(load_label_png(path))
        values = values[values != self.ignore_index]
        bad = values[values >= len(self.metainfo['classes'])]
        if bad.size:
            raise ValueError(
                f'{path}: class indices {bad.tolist()} are outside the class list '
                f'(0..{len(self.metainfo["classes"]) - 1}, ignore {self.ignore_index})')
        return (values[values > 0] - 1).astype(np.int64)

    def _labels_from_xml(self, path: str) -> np.ndarray:
        # mmpretrain's VOC dataset parses these files too, but only as a method of
        # a dataset that owns the whole split; here one file is read per image.
        if not osp.isfile(path):
            raise FileNotFoundError(f'XML annotation not found: {path}')
        try:
            root = ET.parse(path).getroot()
        except ET.ParseError as err:
            raise ValueError(f'{path}: malformed XML annotation ({err})') from err
        classes = list(self.metainfo['classes'])
        found = set()
        for obj in root.iter('object'):
            name = (obj.findtext('name') or '').strip()
            if name not in classes or classes.index(name) == 0:
                raise ValueError(f'{path}: object class {name!r} is not in the class list')
            found.add(classes.index(name) - 1)
        return np.array(sorted(found), dtype=np.int64)
