"""The Spatial-BCE recipe study's arms are valid changes of the toy config."""

from mmengine.config import Config

from tests.conftest import REPO, load_tool

study = load_tool('tools/analysis_tools/spatial_bce_recipe_study.py')
TOY = str(REPO / 'configs/spatial_bce/spatial_bce_r18_toy.py')


def test_every_arm_applies_to_the_toy_config():
    for name, arm in study.ARMS.items():
        cfg = Config.fromfile(TOY)
        study.apply_arm(cfg, arm)
        direction = cfg.model.head.loss_tnt.direction
        assert direction == ('reverse' if name == 'reverse' else 'forward'), name
        if 'sgd' in name:
            assert cfg.optim_wrapper.optimizer.type == 'SGD'
            assert cfg.optim_wrapper.optimizer.lr in (1e-2, 1e-3)
        types = [step['type'] for step in cfg.train_dataloader.dataset.pipeline]
        (q_hook, ) = [h for h in cfg.custom_hooks if h['type'].endswith('QUpdateHook')]
        fixed = q_hook['interval'] > cfg.train_cfg.max_iters  # Q is never re-counted
        assert fixed == (name == 'forward_resize_fixed_q'), name
        if name.startswith('forward_resize'):  # the toy config's own input since protocol 2
            assert 'mmpretrain.RandomCrop' not in types and 'RandomResize' not in types
            assert cfg.train_dataloader.dataset.pipeline == Config.fromfile(
                TOY).train_dataloader.dataset.pipeline
        else:  # the protocol-1 toy input: the toy dataset base's crops
            assert cfg.train_dataloader.dataset.pipeline == Config.fromfile(
                str(REPO / 'configs/_base_/datasets/toy_voc_cls.py')).train_pipeline, name


def test_phase_configs_split_the_schedule_into_one_run_per_phase():
    cfg = Config.fromfile(TOY)
    cfg.work_dir = 'work_dirs/arm'
    cfg.experiment_name = 'arm'
    runs = study.phase_configs(cfg)
    scheduler = cfg.param_scheduler[0]
    assert len(runs) == len(scheduler['start_factors']) == 3
    for k, run in enumerate(runs):
        (phase_scheduler, ) = run.param_scheduler
        assert phase_scheduler['start_factors'] == (scheduler['start_factors'][k], )
        assert phase_scheduler['end_factors'] == (scheduler['end_factors'][k], )
        assert run.train_cfg.max_iters == scheduler['phase_iters']
        assert run.work_dir == f'work_dirs/arm/phase{k}'
    assert len({run.experiment_name for run in runs}) == 3
    assert cfg.train_cfg.max_iters == 3 * scheduler['phase_iters']  # the input is unchanged
