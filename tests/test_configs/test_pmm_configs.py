"""PMM's stage-1 configs: SEAM's recipe with PMM's batch and learning rate."""

from mmengine.config import Config

from tests.conftest import REPO


def test_pmm_stage1_configs_are_seam_with_pmms_batch_and_lr():
    for name, hfpl in (('pmm_r38_voc.py', False), ('pmm_hfpl_r38_voc.py', True)):
        cfg = Config.fromfile(str(REPO / 'configs/pmm' / name))
        seam = Config.fromfile(str(REPO / 'configs/seam' / (
            'seam_hfpl_r38_voc.py' if hfpl else 'seam_r38_voc.py')))
        assert cfg.train_dataloader.batch_size == 24 and cfg.optim_wrapper.optimizer.lr == 0.02
        assert cfg.train_cfg.max_epochs == 8 and cfg.model == seam.model
        assert cfg.train_dataloader.dataset.pipeline == seam.train_dataloader.dataset.pipeline
        losses = {loss.type for loss in cfg.model.head.losses}
        assert losses == ({'ImportanceSamplingLoss', 'FeatureSimilarityLoss'} if hfpl
                          else {'GAPBCELoss'})
