"""The README recipe: a stock mmpretrain classifier config becomes a CAM model with ISL/FSL."""

import textwrap

from mmengine.config import Config
from mmengine.runner import Runner

from mmhfpl.utils import merge_cfg_options
from tests.conftest import REPO

# Exactly the six lines of configs/_base_/mmpretrain_cam_voc.py and the README, with the
# installed mmpretrain's own model file.
RECIPE = """
_base_ = ['mmpretrain::_base_/models/resnet50.py', '{base}']
model = dict(type='mmhfpl.CAMClassifier', neck=None, head=dict(
    _delete_=True, type='mmhfpl.CAMHead', num_classes=20, in_channels=2048,
    losses=[dict(type='mmhfpl.ImportanceSamplingLoss', num_samples=10, lambda_=0.2),
            dict(type='mmhfpl.FeatureSimilarityLoss')]))
"""


def test_recipe_on_a_stock_mmpretrain_model_trains_one_step(tmp_path, toy_root):
    path = tmp_path / 'resnet50_cam_hfpl_voc.py'
    base = REPO / 'configs/_base_/mmpretrain_cam_voc.py'
    path.write_text(textwrap.dedent(RECIPE.format(base=base)))
    cfg = Config.fromfile(str(path))
    assert cfg.default_scope == 'mmpretrain'
    assert cfg.model.backbone.type == 'ResNet' and cfg.model.backbone.depth == 50
    assert cfg.model.neck is None and 'loss' not in cfg.model.head, 'the stock head is gone'
    assert cfg.train_dataloader.dataset.type == 'mmhfpl.VOCWSSSDataset'

    # Run it on the toy set (6 classes, small crops) for one iteration.
    toy_pipeline = [dict(type='LoadImageFromFile'),
                    dict(type='mmpretrain.RandomCrop', crop_size=64, pad_if_needed=True),
                    dict(type='mmpretrain.PackInputs')]
    merge_cfg_options(cfg, {
        'model.head.num_classes': 6, 'model.data_preprocessor.num_classes': 6,
        'train_dataloader.dataset.type': 'mmhfpl.ToyVOCDataset',
        'train_dataloader.dataset.data_root': toy_root,
        'train_dataloader.dataset.ann_file': 'ImageSets/Segmentation/train.txt',
        'train_dataloader.dataset.pipeline': toy_pipeline,
        'train_dataloader.batch_size': 2, 'train_dataloader.num_workers': 0,
        'train_dataloader.persistent_workers': False,
        'param_scheduler': [], 'val_cfg': None, 'val_dataloader': None,
        'val_evaluator': None, 'test_cfg': None, 'test_dataloader': None,
        'test_evaluator': None, 'work_dir': str(tmp_path / 'work'),
        'default_hooks.checkpoint.by_epoch': False,
        'default_hooks.logger.interval': 1, 'log_processor.by_epoch': False,
    })
    cfg.train_cfg = dict(type='IterBasedTrainLoop', max_iters=1)
    runner = Runner.from_cfg(cfg)
    runner.train()
    assert type(runner.model).__name__ == 'CAMClassifier'
    assert type(runner.model.backbone).__module__.startswith('mmpretrain')
    logged = set(runner.message_hub.log_scalars)
    assert {'train/loss_isl', 'train/loss_gap_bce', 'train/loss_fsl'} <= logged
