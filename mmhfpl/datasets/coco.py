"""MS COCO 2014 (80 thing classes) for WSSS, in the label-map layout of
``tools/dataset_converters/convert_coco_wsss.py``."""

from mmseg.datasets import COCOStuffDataset

from mmhfpl.registry import DATASETS
from mmhfpl.structures import voc_palette

from .wsss_dataset import WSSSSegDataset

# COCO-Stuff lists the 80 thing classes first, in COCO category-id order.
COCO_CLASSES = ('background', *COCOStuffDataset.METAINFO['classes'][:80])


@DATASETS.register_module()
class COCOWSSSDataset(WSSSSegDataset):
    """COCO 2014 with image-level labels: 80 classes plus background.

    Expected layout (``data_root`` = ``data/coco2014``), as written by
    ``tools/dataset_converters/convert_coco_wsss.py``::

        train2014/<id>.jpg, val2014/<id>.jpg            # official images
        SegmentationClass/{train2014,val2014}/<id>.png  # 0 bg, 1..80, 255 crowd
        ImageSets/{train2014,val2014}.txt               # one <id> per line

    ``<id>`` is the image file stem, e.g. ``COCO_train2014_000000000009``.
    """

    METAINFO = dict(classes=COCO_CLASSES, palette=voc_palette(len(COCO_CLASSES)).tolist())

    def __init__(self, split: str = 'train2014', ann_file: str | None = None,
                 data_prefix: dict | None = None, **kwargs) -> None:
        prefix = dict(img_path=split, seg_map_path=f'SegmentationClass/{split}')
        prefix.update(data_prefix or {})
        super().__init__(ann_file=ann_file or f'ImageSets/{split}.txt', data_prefix=prefix,
                         **kwargs)
