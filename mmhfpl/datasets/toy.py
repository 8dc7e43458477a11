"""The generated toy benchmark (``tools/dataset_converters/make_toy_voc.py``) as a WSSS dataset."""

from mmhfpl.registry import DATASETS

from .wsss_dataset import WSSSSegDataset

# Class 0 is background; the generator's classes are named after their marks.
TOY_CLASSES = ('background', 'red_disc', 'green_square', 'blue_triangle', 'yellow_cross',
               'magenta_ring', 'cyan_bar')
#: Display colours that match the class names (figures, mmseg's visualiser); label files
#: keep the VOC palette of every label PNG.
TOY_PALETTE = ((0, 0, 0), (220, 40, 40), (40, 170, 60), (50, 90, 220), (235, 205, 40),
               (210, 60, 200), (40, 200, 210))


@DATASETS.register_module()
class ToyVOCDataset(WSSSSegDataset):
    """The toy set of ``tools/dataset_converters/make_toy_voc.py``: 6 classes and background.

    Same directory layout as VOC 2012 (``JPEGImages``, ``SegmentationClass``,
    ``ImageSets/Segmentation/{train,val}.txt``).
    """

    METAINFO = dict(classes=TOY_CLASSES, palette=[list(colour) for colour in TOY_PALETTE])

    def __init__(self, ann_file: str = 'ImageSets/Segmentation/train.txt',
                 data_prefix: dict | None = None, **kwargs) -> None:
        prefix = dict(img_path='JPEGImages', seg_map_path='SegmentationClass')
        prefix.update(data_prefix or {})
        super().__init__(ann_file=ann_file, data_prefix=prefix, **kwargs)
