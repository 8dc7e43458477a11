"""PASCAL VOC 2012 (with the SBD ``train_aug`` extension) for WSSS."""

from mmseg.datasets import PascalVOCDataset

from mmhfpl.registry import DATASETS

from .wsss_dataset import WSSSSegDataset


@DATASETS.register_module()
class VOCWSSSDataset(WSSSSegDataset):
    """PASCAL VOC 2012 with image-level labels: 20 classes plus background.

    Expected layout (``data_root`` = ``VOCdevkit/VOC2012``)::

        JPEGImages/<id>.jpg
        SegmentationClass/<id>.png        # official masks (train 1,464 / val 1,449)
        SegmentationClassAug/<id>.png     # SBD-augmented masks (train_aug 10,582)
        Annotations/<id>.xml              # only for label_source='xml'
        ImageSets/Segmentation/{train,val,train_aug}.txt

    Defaults read ``SegmentationClassAug``, which holds masks for every train_aug
    and val image; set ``data_prefix.seg_map_path='SegmentationClass'`` to use the
    official masks.
    """

    METAINFO = PascalVOCDataset.METAINFO

    def __init__(self, ann_file: str = 'ImageSets/Segmentation/train_aug.txt',
                 data_prefix: dict | None = None, **kwargs) -> None:
        prefix = dict(img_path='JPEGImages', seg_map_path='SegmentationClassAug',
                      xml_path='Annotations')
        prefix.update(data_prefix or {})
        super().__init__(ann_file=ann_file, data_prefix=prefix, **kwargs)
