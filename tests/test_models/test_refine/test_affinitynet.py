"""Affinity loss, AffinityNet (model, real-scale config step, predict) and the CLI tools."""

import importlib.util
import math
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.optim import build_optim_wrapper
from mmengine.registry import init_default_scope

from mmhfpl.datasets.transforms import PackAffinityInputs
from mmhfpl.models.losses import AffinityLoss, affinity_loss, affinity_loss_terms
from mmhfpl.models.losses.affinity_loss import (
    PAIR_BG_POSITIVE,
    PAIR_FG_POSITIVE,
    PAIR_IGNORE,
    PAIR_NEGATIVE,
)
from mmhfpl.models.refine import feature_affinity, neighbour_offsets
from mmhfpl.registry import DATASETS, MODELS
from mmhfpl.structures import load_label_png
from tests.conftest import REPO, as_cli, free_port, run_tool, write_gt_cams

VOC_CONFIG = str(REPO / 'configs/refine/affinitynet_r38_voc.py')
HFPL_VOC_CONFIG = str(REPO / 'configs/refine/affinitynet_r38_hfpl_voc.py')
TOY_CONFIG = str(REPO / 'configs/refine/affinitynet_r18_toy.py')
CODES = [PAIR_NEGATIVE, PAIR_BG_POSITIVE, PAIR_FG_POSITIVE, PAIR_IGNORE]


def _direct_loss(aff, labels):
    """PSA train_aff.py written out: bg/4 + fg/4 + neg/2, each a masked mean."""
    terms = {}
    for name, code, pick in (('bg_pos', PAIR_BG_POSITIVE, lambda a: math.log(a + 1e-5)),
                             ('fg_pos', PAIR_FG_POSITIVE, lambda a: math.log(a + 1e-5)),
                             ('neg', PAIR_NEGATIVE, lambda a: math.log(1 + 1e-5 - a))):
        values = [pick(a) for a, c in zip(aff.flatten().tolist(), labels.flatten().tolist(),
                                          strict=True) if c == code]
        terms[name] = -sum(values) / (len(values) + 1e-5)
    return terms, terms['bg_pos'] / 4 + terms['fg_pos'] / 4 + terms['neg'] / 2


def test_affinity_loss_matches_the_direct_formula():
    generator = torch.Generator().manual_seed(0)
    aff = torch.rand(2, 5, 4, 6, generator=generator, dtype=torch.float64)
    labels = torch.tensor(CODES, dtype=torch.uint8)[
        torch.randint(0, 4, aff.shape, generator=generator)]
    terms, total = _direct_loss(aff, labels)
    got = affinity_loss_terms(aff, labels)
    for name in terms:
        assert got[name].item() == pytest.approx(terms[name], rel=1e-10)
    assert affinity_loss(aff, labels).item() == pytest.approx(total, rel=1e-10)
    module = AffinityLoss(loss_weight=0.5, loss_name='loss_rel')
    assert module(aff, labels)['loss_rel'].item() == pytest.approx(0.5 * total, rel=1e-10)
    # a missing set contributes nothing
    no_fg = torch.where(labels == PAIR_FG_POSITIVE, PAIR_IGNORE, labels)
    assert affinity_loss_terms(aff, no_fg)['fg_pos'].item() == 0.0


def test_affinity_loss_rejects_bad_inputs():
    aff = torch.rand(1, 2, 3, 3)
    with pytest.raises(ValueError, match='unknown codes'):
        affinity_loss(aff, torch.full(aff.shape, 7, dtype=torch.uint8))
    with pytest.raises(ValueError, match='differ'):
        affinity_loss(aff, torch.zeros(1, 3, 3, 3, dtype=torch.uint8))
    with pytest.raises(ValueError, match="start with 'loss'"):
        AffinityLoss(loss_name='aff')


def test_feature_affinity_is_exp_of_mean_l1_distance():
    feats = torch.rand(1, 7, 4, 5, generator=torch.Generator().manual_seed(3))
    offsets = neighbour_offsets(3)
    aff = feature_affinity(feats, offsets)
    for p, (dy, dx) in enumerate(offsets):
        for y, x in ((0, 2), (1, 1), (2, 3)):
            if 0 <= y + dy < 4 and 0 <= x + dx < 5:
                expected = torch.exp(-(feats[0, :, y, x] - feats[0, :, y + dy, x + dx])
                                     .abs().mean())
                torch.testing.assert_close(aff[0, p, y, x], expected)


def _toy_model(**test_cfg):
    init_default_scope('mmhfpl')
    cfg = Config.fromfile(TOY_CONFIG)
    cfg.model.backbone.init_cfg = None
    cfg.model.test_cfg.update(test_cfg)
    return MODELS.build(cfg.model).eval()


def _packed(cams, labels, size):
    return PackAffinityInputs().transform(dict(
        img=np.zeros((*size, 3), np.uint8), img_path='x/a.jpg',
        cams=np.asarray(cams, np.float32), cam_labels=np.asarray(labels)))


def test_predict_spreads_cams_within_affinity_blocks(monkeypatch):
    """A 32 x 48 image: affinity 1 inside its left and its right half, 0 across."""
    model = _toy_model()
    offsets = neighbour_offsets(model.radius)
    height, width = 32 // model.stride, 48 // model.stride
    block = torch.arange(width) >= width // 2
    aff = torch.zeros(1, len(offsets), height, width)
    for p, (_, dx) in enumerate(offsets):
        for x in range(width):
            if 0 <= x + dx < width and block[x] == block[x + dx]:
                aff[0, p, :, x] = 1.0
    monkeypatch.setattr(model, 'pair_affinity', lambda inputs, radius: aff)
    cams = np.zeros((1, 32, 48), np.float32)
    cams[0, :, :16] = 0.9  # two thirds of the left half
    data = pseudo_collate([_packed(cams, [2], (32, 48))])
    pred = model.test_step(data)[0].pred_sem_seg.data[0]
    assert pred.shape == (32, 48)
    # the left half mixes: class 0.9 * 2/3 = 0.6 beats background ~1/3; the right half: bg
    assert (pred[:, :20] == 3).all() and (pred[:, 28:] == 0).all()
    # without affinities the walk is the identity: the class stays on its columns
    monkeypatch.setattr(model, 'pair_affinity', lambda inputs, radius: torch.zeros_like(aff))
    pred = model.test_step(data)[0].pred_sem_seg.data[0]
    assert (pred[:, :12] == 3).all() and (pred[:, 16:] == 0).all()


def test_constant_background_replaces_the_alpha_rule(monkeypatch):
    """MCTformer's infer_aff.py: background 0.39 walked with the classes."""
    cams = np.zeros((1, 32, 48), np.float32)
    cams[0, :, :16] = 0.9
    cams[0, :, 16:32] = 0.3  # below 0.39, though (1 - 0.3)^6 = 0.12 would lose to it
    data = pseudo_collate([_packed(cams, [2], (32, 48))])
    preds = {}
    for name, test_cfg in (('alpha', {}), ('constant', dict(bg_threshold=0.39))):
        model = _toy_model(**test_cfg)
        offsets = neighbour_offsets(model.radius)
        identity = torch.zeros(1, len(offsets), 32 // model.stride, 48 // model.stride)
        monkeypatch.setattr(model, 'pair_affinity', lambda inputs, radius, a=identity: a)
        preds[name] = model.test_step(data)[0].pred_sem_seg.data[0]
    assert (preds['alpha'][:, 18:30] == 3).all() and (preds['constant'][:, 18:30] == 0).all()
    assert (preds['constant'][:, :12] == 3).all()


def test_mctformer_refine_configs_hold_the_authors_settings():
    for config in ('configs/refine/affinitynet_r38_mctformer_voc.py',
                   'configs/refine/affinitynet_r18_mctformer_toy.py'):
        cfg = Config.fromfile(str(REPO / config))
        seeds = next(step for step in cfg.train_dataloader.dataset.pipeline
                     if step['type'] == 'AlphaSeedLabels')
        assert (seeds['alpha_low'], seeds['alpha_high']) == (1, 12)
        assert cfg.model.test_cfg.bg_threshold == 0.39
    voc = Config.fromfile(str(REPO / 'configs/refine/affinitynet_r38_mctformer_voc.py'))
    assert voc.optim_wrapper.optimizer.lr == 0.01 and voc.train_cfg.max_epochs == 5
    assert voc.model.test_cfg.beta == 8 and voc.model.test_cfg.logt == 6


def test_predict_without_classes_is_background():
    model = _toy_model()
    data = pseudo_collate([_packed(np.zeros((0, 20, 28)), [], (20, 28))])
    pred = model.test_step(data)[0].pred_sem_seg.data
    assert pred.shape == (1, 20, 28) and (pred == 0).all()


@pytest.fixture(scope='module')
def gt_cams(tmp_path_factory, toy_root):
    cam_dir = tmp_path_factory.mktemp('gt_cams')
    write_gt_cams(toy_root, cam_dir, 'train')
    write_gt_cams(toy_root, cam_dir, 'val')
    return cam_dir


def _set_pipeline(pipeline, cam_dir, crop):
    for step in pipeline:
        if step['type'] == 'LoadCAMFromFile':
            step['cam_dir'] = str(cam_dir)
        elif step['type'] == 'AlphaSeedLabels':
            step['cache_dir'] = None
        elif step['type'] == 'mmseg.RandomCrop':
            step['crop_size'] = (crop, crop)
        elif step['type'] == 'Pad':
            step['size'] = (crop, crop)
    return pipeline


def test_seed_alphas_of_the_voc_configs():
    """SEAM's 4 / 24; SEAM + ISL/FSL 1 / 24 (seed 000 §5.1, the authors' run_voc.sh)."""
    for config, expected in ((VOC_CONFIG, (4, 24)), (HFPL_VOC_CONFIG, (1, 24))):
        cfg = Config.fromfile(config)
        seeds = next(step for step in cfg.train_dataloader.dataset.pipeline
                     if step['type'] == 'AlphaSeedLabels')
        assert (seeds['alpha_low'], seeds['alpha_high']) == expected, config
        cams = {step['cam_dir'] for loader in ('train_dataloader', 'test_dataloader')
                for step in cfg[loader].dataset.pipeline if step['type'] == 'LoadCAMFromFile'}
        assert len(cams) == 1 and seeds['cache_dir'] != cams.pop()
        assert cfg.model.test_cfg == dict(beta=8, logt=6, alpha=6)


def test_voc_config_trains_one_step_and_predicts(toy_root, gt_cams):
    """The real-scale config (ResNet38d, published settings) on 64x64 crops of toy images."""
    init_default_scope('mmhfpl')
    cfg = Config.fromfile(VOC_CONFIG)
    assert cfg.train_dataloader.batch_size == 8 and cfg.train_cfg.max_epochs == 8
    assert cfg.optim_wrapper.optimizer.lr == 0.1 and cfg.model.radius == 5
    assert cfg.model.test_cfg == dict(beta=8, logt=6, alpha=6)
    cfg.model.backbone.init_cfg = None  # no ImageNet weights in tests
    model = MODELS.build(cfg.model)
    train_set = DATASETS.build(dict(
        type='ToyVOCDataset', data_root=toy_root,
        pipeline=_set_pipeline(cfg.train_pipeline, gt_cams, 64)))
    optim_wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    frozen = model.backbone.conv1a.weight.clone()
    head = model.head.fuse.weight.clone()
    model.train()
    losses = model.train_step(pseudo_collate([train_set[0], train_set[1]]), optim_wrapper)
    assert torch.isfinite(losses['loss_aff']) and losses['loss_aff'] > 0
    assert not torch.equal(head, model.head.fuse.weight)
    assert torch.equal(frozen, model.backbone.conv1a.weight)
    assert not model.backbone.b2.bn_branch2a.training  # BN statistics fixed

    test_set = DATASETS.build(dict(
        type='ToyVOCDataset', data_root=toy_root, ann_file='ImageSets/Segmentation/val.txt',
        test_mode=True, pipeline=_set_pipeline(cfg.test_pipeline, gt_cams, 64)))
    model.eval()
    with torch.no_grad():
        sample = model.test_step(pseudo_collate([test_set[0]]))[0]
    allowed = {0, *(sample.cam_labels + 1).tolist()}
    assert sample.pred_sem_seg.shape == sample.gt_sem_seg.shape == (128, 128)
    assert set(sample.pred_sem_seg.data.unique().tolist()) <= allowed


@pytest.mark.slow
def test_toy_config_trains_and_refines_through_the_tools(tmp_path, toy_root, gt_cams,
                                                         monkeypatch, capsys):
    work = tmp_path / 'work'
    options = {
        'model.backbone.init_cfg': None,
        'train_dataloader.dataset.data_root': toy_root,
        'train_dataloader.dataset.pipeline.1.cam_dir': str(gt_cams),
        'train_dataloader.dataset.pipeline.2.cache_dir': str(tmp_path / 'seeds'),
        'train_dataloader.batch_size': 2,
        'train_dataloader.num_workers': 0,
        'train_dataloader.persistent_workers': False,
        'train_cfg.max_iters': 2,
        'param_scheduler.0.end': 2,
        'default_hooks.checkpoint.interval': 2,
    }
    run_tool([sys.executable, 'tools/train.py', TOY_CONFIG, '--work-dir', str(work),
              *as_cli(options)])
    out = tmp_path / 'refined'
    spec = importlib.util.spec_from_file_location('refine_tool', REPO / 'tools/refine_labels.py')
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    argv = ['refine_labels.py', TOY_CONFIG, str(work / 'iter_2.pth'), '--cams', str(gt_cams),
            '--out-dir', str(out), '--ann-file', 'ImageSets/Segmentation/val.txt',
            *as_cli({'test_dataloader.dataset.data_root': toy_root})]
    monkeypatch.setattr(sys, 'argv', argv)
    tool.main()
    assert '8 written, 0 already present' in capsys.readouterr().out
    ids = Path(toy_root, 'ImageSets/Segmentation/val.txt').read_text().split()
    for sample_id in ids:
        label = load_label_png(out / f'{sample_id}.png')
        gt = load_label_png(f'{toy_root}/SegmentationClass/{sample_id}.png')
        assert label.shape == gt.shape
        assert set(np.unique(label)) <= {0, *np.unique(gt[gt < 255]).tolist()}
    assert not list(out.glob('.*'))  # no temporaries left

    # Two gloo ranks (each every second image) write the same labels as one process.
    sharded = tmp_path / 'refined_2ranks'
    result = run_tool([sys.executable, '-m', 'torch.distributed.run', '--nproc_per_node', '2',
                       '--master_port', str(free_port()), 'tools/refine_labels.py',
                       *argv[1:6], str(sharded), *argv[7:], '--launcher', 'pytorch'])
    assert result.stdout.count('4 written, 0 already present (this rank)') == 2
    for sample_id in ids:
        assert (load_label_png(sharded / f'{sample_id}.png')
                == load_label_png(out / f'{sample_id}.png')).all()
