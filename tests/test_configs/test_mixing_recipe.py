"""The README mixing recipe: ISL/FSL added to foreign-scope configs in four lines."""

import textwrap

import pytest
from mmengine.config import Config
from mmengine.runner import Runner

# An "existing" stage-1 config of another OpenMMLab scope: the CAM classifier and toy data
# referenced with the mmhfpl prefix, everything else in that scope's own names.
BASE = """
default_scope = {scope!r}
custom_imports = dict(imports=['mmhfpl'], allow_failed_imports=False)
model = dict(
    type='mmhfpl.CAMClassifier',
    backbone=dict(type={backbone!r}, depth=18, num_stages=4, strides=(1, 2, 2, 1),
                  dilations=(1, 1, 1, 2), out_indices=(3, )),
    head=dict(type='mmhfpl.CAMHead', num_classes=6, in_channels=512,
              losses=[dict(type='mmhfpl.GAPBCELoss')]),
)
train_dataloader = dict(
    batch_size=2, num_workers=0,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(type='mmhfpl.ToyVOCDataset', data_root={root!r},
                 pipeline=[dict(type='LoadImageFromFile'),
                           dict(type='RandomFlip', prob=0.5),
                           dict(type='mmpretrain.PackInputs')]))
optim_wrapper = dict(optimizer=dict(type='SGD', lr=0.01))
train_cfg = dict(type='IterBasedTrainLoop', max_iters=1)
default_hooks = dict(checkpoint=dict(type='CheckpointHook', interval=1, by_epoch=False))
"""

# The recipe as the README shows it.
RECIPE = """
_base_ = ['./base.py']
model = dict(head=dict(losses=[
    dict(type='mmhfpl.ImportanceSamplingLoss', num_samples=10, lambda_=0.2),
    dict(type='mmhfpl.FeatureSimilarityLoss')]))
"""


@pytest.mark.parametrize('scope,backbone', [('mmpretrain', 'ResNet'), ('mmseg', 'ResNetV1c')])
def test_recipe_trains_one_step_in_foreign_scope(tmp_path, toy_root, scope, backbone):
    (tmp_path / 'base.py').write_text(
        textwrap.dedent(BASE.format(scope=scope, backbone=backbone, root=toy_root)))
    (tmp_path / 'mixed.py').write_text(textwrap.dedent(RECIPE))
    cfg = Config.fromfile(str(tmp_path / 'mixed.py'))
    cfg.work_dir = str(tmp_path / 'work')
    cfg.experiment_name = f'mixing_{scope}'
    runner = Runner.from_cfg(cfg)
    runner.train()
    loss_names = {type(loss).__name__ for loss in runner.model.head.losses}
    assert loss_names == {'ImportanceSamplingLoss', 'FeatureSimilarityLoss'}
    assert type(runner.model.backbone).__module__.startswith(scope)
    logged = runner.message_hub.log_scalars
    assert {'train/loss_isl', 'train/loss_gap_bce', 'train/loss_fsl'} <= set(logged)

