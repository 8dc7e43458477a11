"""The generated toy benchmark (``tools/make_toy_voc.py``) as a WSSS dataset."""

from mmhfpl.registry import DATASETS
from mmhfpl.structures import voc_palette

from .toy_voc import TOY_CLASSES
from .wsss_dataset import WSSSSegDataset


@DATASETS.register_module()
class ToyVOCDataset(WSSSSegDataset):
    """The toy set written by ``tools/make_toy_voc.py``: 6 classes plus background.

    Same directory layout as VOC 2012 (``JPEGImages``, ``SegmentationClass``,
    ``ImageSets/Segmentation/{train,val}.txt``).
    """

    METAINFO = dict(classes=TOY_CLASSES,
                    palette=voc_palette(len(TOY_CLASSES)).tolist())

    def __init__(self, ann_file: str = 'ImageSets/Segmentation/train.txt',
                 data_prefix: dict | None = None, **kwargs) -> None:
        prefix = dict(img_path='JPEGImages', seg_map_path='SegmentationClass')
        prefix.update(data_prefix or {})
        super().__init__(ann_file=ann_file, data_prefix=prefix, **kwargs)
