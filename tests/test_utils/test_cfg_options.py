"""merge_cfg_options: a new training length must bring its schedulers along."""

import pytest
from mmengine.config import Config

from mmhfpl.utils import merge_cfg_options
from tests.conftest import REPO


def test_max_iters_alone_is_refused_naming_the_scheduler_and_the_fix():
    cfg = Config.fromfile(str(REPO / 'configs/cam/cam_r18_toy.py'))
    assert cfg.param_scheduler[0].end == cfg.train_cfg.max_iters == 300
    fix = r'PolyLR still ends at 300.*param_scheduler\.PolyLR\.end=100'
    with pytest.raises(ValueError, match=fix):
        merge_cfg_options(cfg, {'train_cfg.max_iters': 100})

    cfg = Config.fromfile(str(REPO / 'configs/cam/cam_r18_toy.py'))
    merge_cfg_options(cfg, {'train_cfg.max_iters': 100, 'param_scheduler.PolyLR.end': 100})
    assert cfg.param_scheduler[0].end == cfg.train_cfg.max_iters == 100
    merge_cfg_options(cfg, {'train_cfg.max_iters': 100})  # consistent already: accepted


def test_epoch_schedules_and_warm_up_chains():
    cfg = Config.fromfile(str(REPO / 'configs/seam/seam_r38_voc.py'))
    with pytest.raises(ValueError, match='max_epochs=4.*PolyLR still ends at 8'):
        merge_cfg_options(cfg, {'train_cfg.max_epochs': 4})
    cfg = Config(dict(
        train_cfg=dict(type='IterBasedTrainLoop', max_iters=1000),
        param_scheduler=[dict(type='LinearLR', by_epoch=False, begin=0, end=50),
                         dict(type='CosineAnnealingLR', by_epoch=False, begin=50, end=1000)]))
    merge_cfg_options(cfg, {'train_cfg.max_iters': 1000})  # the last scheduler ends on time
    with pytest.raises(ValueError, match='CosineAnnealingLR still ends at 1000'):
        merge_cfg_options(cfg, {'train_cfg.max_iters': 500})
