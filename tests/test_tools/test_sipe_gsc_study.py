"""The SIPE GSC study's arms are valid one-change variants of the toy config."""

import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope

from mmhfpl.utils import merge_cfg_options
from tests.conftest import REPO, build_model, load_tool

study = load_tool('tools/analysis_tools/sipe_gsc_study.py')


def test_every_arm_changes_one_thing_of_the_toy_config(tmp_path):
    default = Config.fromfile(str(REPO / 'configs/sipe/sipe_r18_toy.py'))
    assert study.ARMS['default'] == {}
    cfg = Config.fromfile(str(REPO / 'configs/sipe/sipe_r18_toy.py'))
    merge_cfg_options(cfg, study.ARMS['no_gsc'])
    assert cfg.model.gsc_loss.loss_weight == 0.0
    cfg.model.gsc_loss.loss_weight = default.model.gsc_loss.loss_weight
    assert cfg.model == default.model

    # from_cam_baseline: the backbone loads a CAM-baseline checkpoint's backbone weights.
    with DefaultScope.overwrite_default_scope('mmhfpl'):
        _, baseline = build_model('configs/cam/cam_r18_toy.py')
    path = tmp_path / 'baseline.pth'
    torch.save({'state_dict': baseline.state_dict()}, path)
    cfg = Config.fromfile(str(REPO / 'configs/sipe/sipe_r18_toy.py'))
    init = dict(study.ARMS['from_cam_baseline']['model.backbone.init_cfg'],
                checkpoint=str(path))
    merge_cfg_options(cfg, {'model.backbone.init_cfg': init})
    from mmhfpl.registry import MODELS

    with DefaultScope.overwrite_default_scope('mmhfpl'):
        model = MODELS.build(cfg.model)
        model.init_weights()
    for name, value in baseline.backbone.state_dict().items():
        torch.testing.assert_close(model.backbone.state_dict()[name], value, msg=name)
    assert set(study.MAPS.values()) == {('cam', 'sipe'), ('cam_cls', 'irn')}
