"""Building a config's dataset for the pseudo-label tools (ids, images, GT masks)."""

import copy

from mmengine.config import Config
from mmengine.dataset import BaseDataset
from mmengine.registry import init_default_scope

from mmhfpl.registry import DATASETS
from mmhfpl.structures import image_id


def build_split(cfg: Config, ann_file: str | None = None, pipeline: list | None = None,
                loader: str = 'test_dataloader') -> BaseDataset:
    """The dataset of ``cfg[loader]`` in test mode, optionally on another image list.

    Test mode keeps images without foreground classes (they get all-background labels).
    """
    if loader not in cfg:
        raise KeyError(f'the config has no {loader!r} to take the dataset from')
    init_default_scope(cfg.get('default_scope', 'mmhfpl'))
    dataset_cfg = copy.deepcopy(cfg[loader]['dataset'])
    if ann_file is not None:
        dataset_cfg['ann_file'] = ann_file
    dataset_cfg['pipeline'] = pipeline or []
    dataset_cfg['test_mode'] = True
    return DATASETS.build(dataset_cfg)


def id_gt_pairs(dataset: BaseDataset) -> list[tuple[str, str]]:
    """``(image id, GT mask path)`` for every image of a segmentation dataset."""
    pairs = []
    for index in range(len(dataset)):
        info = dataset.get_data_info(index)
        if 'seg_map_path' not in info:
            raise ValueError(f'{info["img_path"]} has no GT mask to evaluate against')
        pairs.append((image_id(info['img_path']), info['seg_map_path']))
    return pairs
