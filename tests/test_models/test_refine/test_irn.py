"""IRN: path affinities, boundary-aware random walk, frozen backbone, configs, refinement."""

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.optim import build_optim_wrapper
from mmengine.registry import init_default_scope
from mmengine.runner import Runner

from mmhfpl.datasets.transforms import PackAffinityInputs
from mmhfpl.models.refine import (
    neighbour_offsets,
    path_affinity,
    path_points,
    refine_labels,
    refine_pipeline,
)
from mmhfpl.pseudo_labels.dataset_access import build_split
from mmhfpl.registry import DATASETS, MODELS
from mmhfpl.structures import load_label_png
from tests.conftest import REPO, write_gt_cams

VOC_CONFIG = str(REPO / 'configs/refine/irn_r50_voc.py')
TOY_CONFIG = str(REPO / 'configs/refine/irn_r18_toy.py')


def test_path_points_of_small_offsets():
    paths = dict(zip(neighbour_offsets(3), path_points(3), strict=True))
    assert set(paths[(0, 2)]) == {(0, 0), (0, 1), (0, 2)}
    assert set(paths[(1, 1)]) == {(0, 0), (0, 1), (1, 0), (1, 1)}
    assert set(paths[(2, -1)]) == {(0, 0), (0, -1), (1, 0), (1, -1), (2, 0), (2, -1)}
    for (dy, dx), path in zip(neighbour_offsets(10), path_points(10), strict=True):
        assert (0, 0) in path and (dy, dx) in path
        assert all(min(0, dy) <= y <= max(0, dy) and min(0, dx) <= x <= max(0, dx)
                   for y, x in path)


def test_path_affinity_is_one_minus_the_path_maximum():
    boundary = torch.rand(2, 6, 7, generator=torch.Generator().manual_seed(0))
    aff = path_affinity(boundary, 4)
    for p, path in enumerate(path_points(4)):
        for y in range(6):
            for x in range(7):
                values = [boundary[:, y + qy, x + qx] if 0 <= y + qy < 6 and 0 <= x + qx < 7
                          else torch.ones(2) for qy, qx in path]
                expected = 1 - torch.stack(values).amax(dim=0)
                torch.testing.assert_close(aff[:, p, y, x], expected)


def _toy_model(**test_cfg):
    init_default_scope('mmhfpl')
    cfg = Config.fromfile(TOY_CONFIG)
    cfg.model.backbone.init_cfg = None
    cfg.model.test_cfg.update(test_cfg)
    return MODELS.build(cfg.model).eval()


def test_predict_walks_within_boundaries(monkeypatch):
    """Grid 8 x 12 (stride 4) with boundary walls on columns 5 and 6 (flip-symmetric)."""
    model = _toy_model()
    logits = torch.full((1, 1, 8, 12), -10.0)
    logits[..., 5:7] = 10.0
    monkeypatch.setattr(model, 'boundary_logits', lambda inputs: logits)
    cams = np.zeros((1, 32, 48), np.float32)
    cams[0, :, :8] = 0.9  # grid columns 0 and 1
    data = pseudo_collate([PackAffinityInputs().transform(dict(
        img=np.zeros((32, 48, 3), np.uint8), img_path='x/a.jpg', cams=cams,
        cam_labels=np.array([0])))])
    pred = model.test_step(data)[0].pred_sem_seg.data[0]
    assert pred.shape == (32, 48)
    assert (pred[:, :16] == 1).all() and (pred[:, 21:] == 0).all()
    # without the walk the class keeps its two columns (and the bg threshold the rest)
    no_walk = _toy_model(beta=1e6)  # a^β -> 0 for every a < 1: the identity walk
    monkeypatch.setattr(no_walk, 'boundary_logits', lambda inputs: logits)
    pred = no_walk.test_step(data)[0].pred_sem_seg.data[0]
    assert (pred[:, :6] == 1).all() and (pred[:, 12:] == 0).all()


def test_voc_config_trains_one_step_with_a_frozen_backbone(toy_root, tmp_path):
    """The real-scale config (ResNet-50, published settings) on 64x64 crops of toy images."""
    init_default_scope('mmhfpl')
    cfg = Config.fromfile(VOC_CONFIG)
    assert cfg.train_dataloader.batch_size == 32 and cfg.train_cfg.max_epochs == 3
    assert (cfg.model.radius, cfg.model.stride) == (10, 4)
    assert cfg.model.test_cfg == dict(radius=5, beta=10, exp_times=8, bg_threshold=0.25,
                                      flip=True)
    cfg.model.backbone.init_cfg = None
    model = MODELS.build(cfg.model)
    cam_dir = tmp_path / 'cams'
    write_gt_cams(toy_root, cam_dir)
    for step in cfg.train_pipeline:
        if step['type'] == 'LoadCAMFromFile':
            step['cam_dir'] = str(cam_dir)
        elif step['type'] == 'ThresholdSeedLabels':
            step['cache_dir'] = None
        elif step['type'] in ('mmseg.RandomCrop', 'Pad'):
            step['crop_size' if 'crop_size' in step else 'size'] = (64, 64)
    dataset = DATASETS.build(dict(type='ToyVOCDataset', data_root=toy_root,
                                  pipeline=cfg.train_pipeline))
    optim_wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    backbone = {k: v.clone() for k, v in model.backbone.state_dict().items()}
    head = model.head.fuse.weight.clone()
    model.train()
    assert not model.backbone.training
    losses = model.train_step(pseudo_collate([dataset[0], dataset[1]]), optim_wrapper)
    assert torch.isfinite(losses['loss_aff']) and losses['loss_aff'] > 0
    assert not torch.equal(head, model.head.fuse.weight)
    assert all(torch.equal(v, model.backbone.state_dict()[k]) for k, v in backbone.items())
    assert all(p.grad is None for p in model.backbone.parameters())


@pytest.mark.slow
def test_toy_config_trains_and_refines_resumably(tmp_path, toy_root):
    init_default_scope('mmhfpl')
    cam_dir = tmp_path / 'cams'
    write_gt_cams(toy_root, cam_dir, 'train')
    write_gt_cams(toy_root, cam_dir, 'val')
    cfg = Config.fromfile(TOY_CONFIG)
    cfg.merge_from_dict({
        'model.backbone.init_cfg': None,
        'train_dataloader.dataset.data_root': toy_root,
        'train_dataloader.dataset.pipeline.1.cam_dir': str(cam_dir),
        'train_dataloader.dataset.pipeline.2.cache_dir': str(tmp_path / 'seeds'),
        'train_dataloader.batch_size': 2,
        'train_dataloader.num_workers': 0,
        'train_dataloader.persistent_workers': False,
        'test_dataloader.dataset.data_root': toy_root,
        'train_cfg.max_iters': 2,
        'param_scheduler.0.end': 2,
        'default_hooks.checkpoint.interval': 2,
        'work_dir': str(tmp_path / 'work'),
    })
    runner = Runner.from_cfg(cfg)
    runner.train()
    model = runner.model.eval()
    dataset = build_split(cfg, 'ImageSets/Segmentation/val.txt', refine_pipeline(str(cam_dir)))
    out = tmp_path / 'refined'
    assert refine_labels(model, dataset, str(out), progress=False) == dict(written=8, skipped=0)
    first = sorted(out.glob('*.png'))[0]
    first.unlink()
    assert refine_labels(model, dataset, str(out), progress=False) == dict(written=1, skipped=7)
    label = load_label_png(first)
    assert label.shape == (128, 128) and label.max() <= 6


def test_irn_rejects_misaligned_features_and_missing_cams():
    model = _toy_model()
    with pytest.raises(ValueError, match='pad the inputs'):
        model.boundary_logits(torch.zeros(1, 3, 36, 36))  # stride-8 grid 5 vs stride-4 grid 9
    data = pseudo_collate([PackAffinityInputs().transform(dict(
        img=np.zeros((32, 32, 3), np.uint8), img_path='x/a.jpg'))])
    with pytest.raises(KeyError, match='LoadCAMFromFile'):
        model.test_step(data)


def test_predict_with_the_stored_background_walks_it_with_the_classes(monkeypatch):
    """SIPE's inference: [background map, CAMs]^1.5 walked together, no threshold."""
    model = _toy_model(beta=1e6, bg_scale=1.0, cam_power=1.5)  # identity walk
    monkeypatch.setattr(model, 'boundary_logits', lambda inputs: torch.full((1, 1, 8, 12), -10.0))
    cams = np.zeros((1, 32, 48), np.float32)
    cams[0, :, :24] = 0.3
    background = np.full((32, 48), 0.1, np.float32)
    background[:, :12] = 0.5  # beats the class there, though above the 0.25 threshold
    sample = dict(img=np.zeros((32, 48, 3), np.uint8), img_path='x/a.jpg', cams=cams,
                  cam_labels=np.array([2]), cam_background=background)
    data = pseudo_collate([PackAffinityInputs().transform(sample)])
    out = model.test_step(data)[0]
    pred = out.pred_sem_seg.data[0]
    # (bilinear upsampling of the stride-4 grid blurs the cell border at column 24)
    assert (pred[:, :12] == 0).all() and (pred[:, 12:24] == 3).all() and (pred[:, 26:] == 0).all()
    scores = out.seg_logits.data
    torch.testing.assert_close(scores[:, 0, 0], torch.tensor([0.5, 0.3]) ** 1.5 / 0.5 ** 1.5)
    threshold = _toy_model(beta=1e6)  # IRN's constant background 0.25
    monkeypatch.setattr(threshold, 'boundary_logits',
                        lambda inputs: torch.full((1, 1, 8, 12), -10.0))
    assert (threshold.test_step(data)[0].pred_sem_seg.data[0][:, :24] == 3).all()
    del sample['cam_background']
    with pytest.raises(KeyError, match='background map'):
        model.test_step(pseudo_collate([PackAffinityInputs().transform(sample)]))


def test_sipe_refine_configs_hold_the_authors_settings():
    for path, power in ((str(REPO / 'configs/refine/irn_r50_sipe_voc.py'), 1.5),
                        (str(REPO / 'configs/refine/irn_r18_sipe_toy.py'), 1.5)):
        cfg = Config.fromfile(path)
        assert (cfg.model.test_cfg.bg_scale, cfg.model.test_cfg.cam_power) == (1.0, power)
        seeds = next(t for t in cfg.train_dataloader.dataset.pipeline
                     if t.type == 'BackgroundMapSeedLabels')
        assert (seeds.fg_scale, seeds.bg_scale) == (1.0, 0.5) and seeds.crf
    voc = Config.fromfile(str(REPO / 'configs/refine/irn_r50_sipe_voc.py'))
    assert voc.train_cfg.max_epochs == 3 and voc.train_dataloader.batch_size == 32
    assert voc.model.test_cfg.get('beta', 10.0) == 10.0
