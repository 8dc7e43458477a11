"""The Spatial-BCE recipe study's arms are valid changes of the toy config."""

from mmengine.config import Config

from mmhfpl.utils import merge_cfg_options
from tests.conftest import REPO, load_tool

study = load_tool('tools/analysis_tools/spatial_bce_recipe_study.py')


def test_every_arm_applies_to_the_toy_config():
    for name, options in study.ARMS.items():
        cfg = Config.fromfile(str(REPO / 'configs/spatial_bce/spatial_bce_r18_toy.py'))
        options = dict(options)
        optimizer = options.pop('optim_wrapper.optimizer', None)
        if optimizer is not None:
            cfg.optim_wrapper.optimizer = optimizer
        merge_cfg_options(cfg, options)
        direction = cfg.model.head.loss_tnt.direction
        assert direction == ('reverse' if name == 'reverse' else 'forward'), name
        if 'sgd' in name:
            assert cfg.optim_wrapper.optimizer.type == 'SGD'
            assert cfg.optim_wrapper.optimizer.lr in (1e-2, 1e-3)
