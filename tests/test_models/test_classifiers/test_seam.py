"""SEAM: PCM, the SEAM losses by hand, the model's objective against a transcription of
SEAM's training step, gradient routing, CAM inference, and a training step of every config."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.optim import build_optim_wrapper
from mmengine.registry import DefaultScope
from mmpretrain.structures import DataSample

from mmhfpl.models.layers import PixelCorrelationModule, pcm_seed_cam, propagate_by_affinity
from mmhfpl.models.losses import (
    AdaptiveMinPoolingLoss,
    EquivariantCrossRegularizationLoss,
    EquivariantRegularizationLoss,
    adaptive_min_pooling_loss,
    equivariant_cross_regularization_loss,
    equivariant_regularization_loss,
)
from mmhfpl.models.losses.cam_posteriors import (
    append_background,
    keep_top_foreground,
    min_max_normalize,
)
from mmhfpl.pseudo_labels import tta_record
from mmhfpl.registry import DATASETS, MODELS
from tests.conftest import REPO

TOY_CONFIG = 'configs/seam/seam_r18_toy.py'
SEAM_KEYS = {'loss_gap_bce', 'loss_cls_scaled', 'loss_min_pool', 'loss_er', 'loss_ecr'}


@pytest.fixture(autouse=True)
def _mmhfpl_scope():
    with DefaultScope.overwrite_default_scope('mmhfpl'):
        yield


def _samples(labels: list[list[int]]) -> list[DataSample]:
    return [DataSample().set_gt_label(torch.tensor(lab)) for lab in labels]


def _build(config: str, no_pretrained: bool = True):
    cfg = Config.fromfile(str(REPO / config))
    if no_pretrained:
        cfg.model.backbone.pop('init_cfg', None)
    model = MODELS.build(cfg.model)
    model.init_weights()
    return cfg, model


@pytest.fixture(scope='module')
def toy_model():
    with DefaultScope.overwrite_default_scope('mmhfpl'):
        torch.manual_seed(0)
        return _build(TOY_CONFIG)[1]


def _toy_batch(model, size: int = 64, training: bool = True):
    generator = torch.Generator().manual_seed(1)
    batch = dict(inputs=[torch.randint(0, 256, (3, size, size), generator=generator,
                                       dtype=torch.uint8) for _ in range(2)],
                 data_samples=_samples([[0, 2], [5]]))
    return model.data_preprocessor(batch, training)


# --- PCM -----------------------------------------------------------------------------


def test_pcm_seed_cam_by_hand():
    scores = torch.tensor([[[[2.0, 1.0, -1.0]], [[0.0, 4.0, 2.0]]]])  # (1, 2, 1, 3)
    seed = pcm_seed_cam(scores)
    # r = [1, .5, 0] and [0, 1, .5]; only each pixel's winner survives; bg = 1 - max r.
    expected = torch.tensor([[[[0.0, 0.0, 0.5]], [[1.0, 0.0, 0.0]], [[0.0, 1.0, 0.5]]]])
    torch.testing.assert_close(seed, expected, atol=1e-4, rtol=0)
    assert not seed.requires_grad
    assert not pcm_seed_cam(scores.clone().requires_grad_()).requires_grad


def test_affinity_propagation_averages_similar_pixels():
    # Pixels 0 and 1 point the same way, pixel 2 the opposite way (cosine -1 -> ReLU 0).
    embedding = torch.tensor([[[[1.0, 2.0, -1.0]], [[0.0, 0.0, 0.0]]]])
    cam = torch.tensor([[[[1.0, 3.0, 5.0]]]])
    torch.testing.assert_close(propagate_by_affinity(cam, embedding),
                               torch.tensor([[[[2.0, 2.0, 5.0]]]]), atol=1e-4, rtol=0)

    generator = torch.Generator().manual_seed(0)
    cam, embedding = torch.rand(2, 3, 2, 3, generator=generator), torch.randn(
        2, 4, 2, 3, generator=generator)
    got = propagate_by_affinity(cam, embedding, eps=0.0)
    f = F.normalize(embedding.flatten(2), dim=1)
    for b in range(2):
        for j in range(6):
            weights = torch.stack([F.relu(f[b, :, i] @ f[b, :, j]) for i in range(6)])
            expected = (cam[b].flatten(1) * weights).sum(1) / weights.sum()
            torch.testing.assert_close(got[b].flatten(1)[:, j], expected)
    with pytest.raises(ValueError, match='share batch and spatial size'):
        propagate_by_affinity(cam, embedding[:, :, :1])


def test_pcm_detaches_backbone_features_and_checks_inputs():
    pcm = PixelCorrelationModule(in_channels=(4, 6), proj_channels=(2, 3), embed_channels=5)
    pcm.init_weights()
    feats = [torch.randn(2, 4, 4, 4, requires_grad=True),
             torch.randn(2, 6, 4, 4, requires_grad=True)]
    cam = torch.rand(2, 3, 8, 8)  # resized to the 4x4 feature grid
    revised = pcm(cam, feats, torch.randn(2, 3, 32, 32))
    assert revised.shape == (2, 3, 4, 4)
    revised.sum().backward()
    assert all(f.grad is None for f in feats)
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in pcm.parameters())

    attached = PixelCorrelationModule((4, 6), (2, 3), 5, detach_features=False)
    attached(cam, feats, torch.randn(2, 3, 32, 32)).sum().backward()
    assert feats[0].grad is not None

    with pytest.raises(ValueError, match='expects 2 feature maps'):
        pcm(cam, feats[:1], torch.randn(2, 3, 32, 32))
    with pytest.raises(ValueError, match='channels on one grid'):
        pcm(cam, [feats[1], feats[0]], torch.randn(2, 3, 32, 32))
    with pytest.raises(ValueError, match='3-channel images'):
        pcm(cam, feats, torch.randn(2, 1, 32, 32))
    with pytest.raises(ValueError, match='equal length'):
        PixelCorrelationModule((4, 6), (2, ))


# --- SEAM losses ---------------------------------------------------------------------


def test_min_max_normalize_background_and_top_foreground_by_hand():
    cams = torch.tensor([[[[-1.0, 1.0, 3.0]], [[2.0, 4.0, 6.0]]]])
    eps = 1e-5
    expected = torch.tensor([[[[0.0, (1 - eps) / (3 + eps), (3 - eps) / (3 + eps)]],
                              [[0.0, (2 - eps) / (4 + eps), (4 - eps) / (4 + eps)]]]])
    torch.testing.assert_close(min_max_normalize(cams), expected)

    fg = torch.tensor([[[[0.2, 0.9]], [[0.6, 0.9]]]])
    with_bg = append_background(fg)
    torch.testing.assert_close(with_bg, torch.tensor(
        [[[[0.4, 0.1]], [[0.2, 0.9]], [[0.6, 0.9]]]]))
    torch.testing.assert_close(keep_top_foreground(with_bg), torch.tensor(
        [[[[0.4, 0.1]], [[0.0, 0.9]], [[0.6, 0.9]]]]))  # ties both survive


def test_er_ecr_and_min_pooling_losses_by_hand():
    a = torch.tensor([[[[0.0, 1.0], [0.5, 0.5]]]])
    b = torch.tensor([[[[1.0, 1.0], [0.0, 0.25]]]])
    torch.testing.assert_close(equivariant_regularization_loss(a, b), torch.tensor(0.4375))

    # 10 entries per image, top 20% -> the 2 largest errors of each image.
    target = torch.zeros(2, 2, 1, 5)
    revised = torch.tensor([[[[0.1, 0.5, 0.2, 0.9, 0.0]], [[0.3, 0.0, 0.0, 0.0, 0.0]]],
                            [[[1.0, 1.0, 1.0, 0.0, 0.0]], [[0.0, 0.0, 0.0, 0.0, 0.0]]]])
    torch.testing.assert_close(equivariant_cross_regularization_loss(revised, target),
                               torch.tensor((0.9 + 0.5 + 1.0 + 1.0) / 4))
    torch.testing.assert_close(
        equivariant_cross_regularization_loss(revised, target, top_ratio=1.0),
        (revised - target).abs().mean())

    # Per-pixel max over classes: [-1, 0.5, 2, 3]; the quarter (1 pixel) lowest is -1 ->
    # ReLU 0; with ratio 1/2 the pixels -1 and 0.5 -> 0.5 / 2.
    revised = torch.tensor([[[[-1.0, 0.5], [2.0, 0.0]], [[-2.0, 0.0], [1.0, 3.0]]]])
    assert adaptive_min_pooling_loss(revised).item() == 0.0
    torch.testing.assert_close(adaptive_min_pooling_loss(revised, ratio=0.5),
                               torch.tensor(0.25))


def test_seam_loss_modules_weight_name_and_errors():
    a, b = torch.rand(2, 3, 4, 4), torch.rand(2, 3, 4, 4)
    # The loss contract of mmhfpl: a dict {loss_name: loss_weight * value}.
    assert EquivariantRegularizationLoss(loss_weight=2.0)(a, b)['loss_er'] == pytest.approx(
        2 * equivariant_regularization_loss(a, b).item())
    ecr = EquivariantCrossRegularizationLoss(top_ratio=0.5, loss_weight=3.0)
    assert ecr(a, b)['loss_ecr'] == pytest.approx(
        3 * equivariant_cross_regularization_loss(a, b, 0.5).item())
    pool = AdaptiveMinPoolingLoss(ratio=0.5, loss_name='loss_pool')
    assert list(pool(a)) == ['loss_pool']
    assert pool(a)['loss_pool'] == pytest.approx(0.5 * adaptive_min_pooling_loss(a, 0.5).item())
    assert pool.loss_name == 'loss_pool' and ecr.loss_name == 'loss_ecr'
    with pytest.raises(ValueError, match="start with 'loss'"):
        EquivariantRegularizationLoss(loss_name='er')
    with pytest.raises(ValueError, match=r'top_ratio must lie in \(0, 1\]'):
        EquivariantCrossRegularizationLoss(top_ratio=0.0)
    with pytest.raises(ValueError, match=r'ratio must lie in \(0, 1\]'):
        AdaptiveMinPoolingLoss(ratio=1.5)
    with pytest.raises(ValueError, match='one shape'):
        equivariant_regularization_loss(a, b[:, :2])


# --- the SEAM model ------------------------------------------------------------------


def _seam_reference(model, inputs: torch.Tensor, labels: torch.Tensor) -> dict:
    """SEAM's training objective, transcribed from the definitions of train_SEAM.py.

    SEAM's network emits C+1 maps (channel 0 = background, never used before it is
    overwritten); the model's C maps get a zero channel 0 to follow the code literally.
    The classification terms use the feature-resolution GAP, as the model does.
    """
    n = inputs.shape[0]
    img2 = F.interpolate(inputs, scale_factor=0.3, mode='bilinear', align_corners=True)
    label = torch.cat([torch.ones(n, 1), labels], dim=1)[..., None, None]

    def net(x):
        s, rv = model.forward_branch(x)
        cam = torch.cat([torch.zeros_like(s[:, :1]), s], dim=1)
        size = x.shape[-2:]
        return (F.interpolate(cam, size, mode='bilinear', align_corners=True),
                F.interpolate(rv, size, mode='bilinear', align_corners=True), s)

    def max_norm(p):
        p = F.relu(p)
        hi = p.flatten(2).max(dim=2)[0][..., None, None]
        lo = p.flatten(2).min(dim=2)[0][..., None, None]
        return F.relu(p - lo - 1e-5) / (hi - lo + 1e-5)

    def min_pool(x):
        x = x.max(dim=1)[0].view(n, -1)
        k = x.shape[1] // 4
        return F.relu(x.topk(k, dim=-1, largest=False)[0]).sum() / (k * n)

    def max_onehot(x):
        top = x[:, 1:].max(dim=1, keepdim=True)[0]
        x[:, 1:][x[:, 1:] != top] = 0
        return x

    cam1, rv1, s1 = net(inputs)
    rvmin1 = min_pool((rv1 * label)[:, 1:])
    cam1 = F.interpolate(max_norm(cam1), scale_factor=0.3, mode='bilinear',
                         align_corners=True) * label
    rv1 = F.interpolate(max_norm(rv1), scale_factor=0.3, mode='bilinear',
                        align_corners=True) * label
    cam2, rv2, s2 = net(img2)
    rvmin2 = min_pool((rv2 * label)[:, 1:])
    cam2, rv2 = max_norm(cam2) * label, max_norm(rv2) * label
    cls1 = F.multilabel_soft_margin_loss(s1.mean(dim=(2, 3)), labels)
    cls2 = F.multilabel_soft_margin_loss(s2.mean(dim=(2, 3)), labels)
    ns, cs, hs, ws = cam2.shape
    er = (cam1[:, 1:] - cam2[:, 1:]).abs().mean()
    cam1[:, 0] = 1 - cam1[:, 1:].max(dim=1)[0]
    cam2[:, 0] = 1 - cam2[:, 1:].max(dim=1)[0]
    k = int(cs * hs * ws * 0.2)
    ecr1 = (max_onehot(cam2.detach().clone()) - rv1).abs().view(ns, -1).topk(k)[0].mean()
    ecr2 = (max_onehot(cam1.detach().clone()) - rv2).abs().view(ns, -1).topk(k)[0].mean()
    return dict(loss_gap_bce=cls1 / 2, loss_cls_scaled=cls2 / 2,
                loss_min_pool=(rvmin1 + rvmin2) / 2, loss_er=er, loss_ecr=ecr1 + ecr2)


def test_branch_shapes_and_objective_match_seam(toy_model):
    data = _toy_batch(toy_model)
    toy_model.eval()  # deterministic branches (no dropout, fixed BN) for the comparison
    scores, revised = toy_model.forward_branch(data['inputs'])
    assert scores.shape == (2, 6, 8, 8) and revised.shape == (2, 7, 8, 8)
    scores_t, revised_t = toy_model.forward_branch(
        F.interpolate(data['inputs'], scale_factor=0.3, mode='bilinear', align_corners=True))
    assert scores_t.shape == (2, 6, 3, 3) and revised_t.shape == (2, 7, 3, 3)

    with torch.no_grad():
        losses = toy_model.loss(**data)
        labels = torch.tensor([[1.0, 0, 1, 0, 0, 0], [0, 0, 0, 0, 0, 1]])
        expected = _seam_reference(toy_model, data['inputs'], labels)
    assert set(losses) == SEAM_KEYS
    for name, value in expected.items():
        torch.testing.assert_close(losses[name], value, msg=name)
    assert all(v > 0 for v in losses.values())


def test_gradients_follow_seam(toy_model):
    """Classification and ER train backbone + classifier only; ECR and the min-pooling
    term train the PCM only (its inputs are detached from the backbone and the CAM)."""
    toy_model.train()
    data = _toy_batch(toy_model)
    losses = toy_model.loss(**data)
    groups = dict(backbone=toy_model.backbone, head=toy_model.head, pcm=toy_model.pcm)

    def grads(total):
        toy_model.zero_grad(set_to_none=True)
        total.backward(retain_graph=True)
        return {name: sum(p.grad.abs().sum().item() for p in module.parameters()
                          if p.grad is not None) for name, module in groups.items()}

    pcm_path = grads(losses['loss_ecr'] + losses['loss_min_pool'])
    assert pcm_path['pcm'] > 0 and pcm_path['backbone'] == 0 and pcm_path['head'] == 0
    cam_path = grads(losses['loss_gap_bce'] + losses['loss_cls_scaled'] + losses['loss_er'])
    assert cam_path['backbone'] > 0 and cam_path['head'] > 0 and cam_path['pcm'] == 0


def test_predict_gives_revised_cam_for_tta(toy_model):
    toy_model.eval()
    data = _toy_batch(toy_model, training=False)
    with torch.no_grad():
        out = toy_model.predict(data['inputs'], data['data_samples'])
        scores, revised = toy_model.forward_branch(data['inputs'])
    sample = out[0]
    torch.testing.assert_close(sample.cam, revised[0, 1:])
    torch.testing.assert_close(sample.cam_cls, scores[0])
    torch.testing.assert_close(sample.pred_score, torch.sigmoid(scores[0].mean((1, 2))))
    assert set(sample.keys()) == {'gt_label', 'cam', 'cam_cls', 'pred_score', 'pred_label'}

    image = torch.randint(0, 256, (3, 40, 48), dtype=torch.uint8)
    small = F.interpolate(image[None].float(), size=(24, 32), mode='bilinear')[0].byte()
    inputs = [image, image.flip(-1), small]
    views = dict(inputs=inputs,
                 data_samples=[DataSample(metainfo=dict(ori_shape=(40, 48), flip=flip))
                               for flip in (False, True, False)])
    record = tta_record(toy_model, views, num_classes=6, labels=np.arange(6))
    assert record.cams.shape == (6, 40, 48)
    with torch.no_grad():
        cams = [toy_model.test_step(dict(inputs=[view]))[0].cam for view in inputs]
    # The authors' infer_cam_voc.py, step by step: each view's CAM to its input size
    # (align_corners=True, inside their network), then to the image (align_corners=False),
    # un-flipped, summed without rectification; ReLU, then min-max per class.
    expected = torch.zeros(6, 40, 48)
    for cam, view, flipped in zip(cams, inputs, (False, True, False), strict=True):
        cam = F.interpolate(cam[None], size=view.shape[-2:], mode='bilinear',
                            align_corners=True)
        cam = F.interpolate(cam, size=(40, 48), mode='bilinear', align_corners=False)[0]
        expected += cam.flip(-1) if flipped else cam
    expected = expected.clamp(min=0).numpy()
    for c in range(6):
        low, high = expected[c].min(), expected[c].max()
        norm = (expected[c] - low - 1e-5) / (high - low + 1e-5)
        np.testing.assert_allclose(record.cams[c], np.maximum(norm, 0), atol=1e-5)
    assert toy_model.cam_fusion == 'seam'


def test_multi_crop_cams_follow_pmms_merge_of_crops(toy_model):
    """PMM's infer_multi_crop.py step by step: each window's CAM (to its input size inside
    the network, align_corners=True) upsampled to the window (align_corners=False),
    un-flipped, pasted back, averaged over the windows covering each pixel, min-max per
    class."""
    from mmhfpl.datasets.transforms import MultiCropViews

    toy_model.eval()
    image = np.random.default_rng(3).integers(0, 256, (40, 48, 3), dtype=np.uint8)
    views = MultiCropViews(scales=(1.0, 1.5), crop_size=32, stride=20)(dict(
        img=image, img_path='x/a.jpg', ori_shape=(40, 48), img_shape=(40, 48)))
    record = tta_record(toy_model, views, num_classes=6, labels=np.array([1, 4]))
    total, count = torch.zeros(6, 40, 48), torch.zeros(40, 48)
    with torch.no_grad():
        for view, sample in zip(views['inputs'], views['data_samples'], strict=True):
            cam = toy_model.test_step(dict(inputs=[view]))[0].cam
            x1, y1, x2, y2 = sample.crop_box
            cam = F.interpolate(cam[None], size=view.shape[-2:], mode='bilinear',
                                align_corners=True)
            cam = F.interpolate(cam, size=(y2 - y1, x2 - x1), mode='bilinear',
                                align_corners=False)[0]
            total[:, y1:y2, x1:x2] += cam.flip(-1) if sample.flip else cam
            count[y1:y2, x1:x2] += 1
    assert (count > 0).all()
    mean = (total / count).numpy()
    for k, c in enumerate((1, 4)):
        low, high = mean[c].min(), mean[c].max()
        np.testing.assert_allclose(record.cams[k], (mean[c] - low) / (high - low + 1e-5),
                                   atol=1e-4)
    mixed = dict(inputs=views['inputs'] + [torch.from_numpy(image).permute(2, 0, 1)],
                 data_samples=views['data_samples'] + [
                     DataSample(metainfo=dict(ori_shape=(40, 48), flip=False))])
    with pytest.raises(ValueError, match='mix multi-crop windows and whole images'):
        tta_record(toy_model, mixed, num_classes=6, labels=np.array([1]))


def test_seam_rejects_bad_settings():
    cfg = Config.fromfile(str(REPO / TOY_CONFIG))
    with pytest.raises(ValueError, match=r'scale_factor must lie in \(0, 1\)'):
        MODELS.build({**cfg.model, 'scale_factor': 1.0})
    with pytest.raises(TypeError, match='needs a CAMHead'):
        MODELS.build({**cfg.model, 'head': dict(
            type='mmpretrain.MultiLabelLinearClsHead', num_classes=6, in_channels=256,
            loss=dict(type='mmpretrain.CrossEntropyLoss', use_sigmoid=True))})
    with pytest.raises(KeyError, match='loss_cls_scaled'):
        model = MODELS.build({**cfg.model, 'head': {**cfg.model.head, 'losses': [
            dict(type='GAPBCELoss', loss_name='loss_cls_scaled')]}})
        model.loss(**_toy_batch(model))


# --- configs -------------------------------------------------------------------------

REAL_CONFIGS = {'configs/seam_voc.py': (20, None), 'configs/seam_hfpl_voc.py': (20, 1.0),
                'configs/seam/seam_r38_voc.py': (20, None),
                'configs/seam/seam_hfpl_r38_voc.py': (20, 1.0),
                'configs/seam/seam_hfpl_coco.py': (80, 0.2)}
TOY_CONFIGS = {TOY_CONFIG: (6, None), 'configs/seam/seam_hfpl_r18_toy.py': (6, 1.0)}


@pytest.mark.parametrize('config', list(REAL_CONFIGS))
def test_real_configs_hold_the_paper_settings(config):
    num_classes, fsl_weight = REAL_CONFIGS[config]
    cfg = Config.fromfile(str(REPO / config))
    model = cfg.model
    assert model.type == 'SEAM' and model.scale_factor == 0.3
    assert model.backbone.type == 'ResNet38d' and model.backbone.out_indices == (3, 4, 6)
    assert model.backbone.init_cfg.checkpoint == 'checkpoints/resnet38d_ilsvrc.pth'
    assert model.pcm.in_channels == (512, 1024) and model.pcm.proj_channels == (64, 128)
    assert model.head.num_classes == model.data_preprocessor.num_classes == num_classes
    assert model.ecr_loss.top_ratio == 0.2 and model.min_pool_loss.ratio == 0.25
    losses = {loss.type: loss for loss in model.head.losses}
    if fsl_weight is None:
        assert losses == {'GAPBCELoss': dict(type='GAPBCELoss', loss_weight=0.5)}
    else:
        isl, fsl = losses['ImportanceSamplingLoss'], losses['FeatureSimilarityLoss']
        assert (isl.num_samples, isl.lambda_, isl.loss_weight) == (10, 0.2, 0.5)
        assert fsl.with_background and fsl.gating == 'r' and fsl.loss_weight == fsl_weight
        assert (fsl.mu, fsl.sigma) == (2.5, 5.0)
    train = cfg.train_dataloader
    assert train.batch_size == 8 and train.drop_last
    crop = next(t for t in train.dataset.pipeline if t.type == 'mmpretrain.RandomCrop')
    assert crop.crop_size == 448
    jitter = next(t for t in train.dataset.pipeline if t.type.endswith('ColorJitter'))
    assert (jitter.type, jitter.brightness, jitter.hue) == ('ColorJitter', 0.3, 0.1)
    optimizer = cfg.optim_wrapper.optimizer
    assert (optimizer.type, optimizer.lr, optimizer.weight_decay) == ('SGD', 0.01, 5e-4)
    assert {k: v.lr_mult for k, v in cfg.optim_wrapper.paramwise_cfg.custom_keys.items()} == {
        'head': 10.0, 'pcm': 10.0}
    poly = cfg.param_scheduler[0]
    assert (poly.type, poly.power, poly.end) == ('PolyLR', 0.9, 8)
    assert cfg.train_cfg.max_epochs == 8
    dataset = 'COCOWSSSDataset' if num_classes == 80 else 'VOCWSSSDataset'
    assert train.dataset.type == cfg.val_dataloader.dataset.type == dataset


def _tiny_dataset_cfg(cfg: Config, toy_root: str, real: bool) -> dict:
    """The config's training set on the toy images, with 64-pixel crops for real configs."""
    dataset = cfg.train_dataloader.dataset
    dataset.data_root = toy_root
    if real:
        dataset.ann_file = 'ImageSets/Segmentation/train.txt'
        dataset.data_prefix = dict(img_path='JPEGImages', seg_map_path='SegmentationClass')
        for transform in dataset.pipeline:
            if transform.type == 'RandomResize':
                transform.scale = (96, 96)
            elif transform.type == 'mmpretrain.RandomCrop':
                transform.crop_size = 64
    return dataset


@pytest.mark.parametrize('config', [*REAL_CONFIGS, *TOY_CONFIGS])
def test_every_config_trains_one_step(config, toy_root):
    real = config in REAL_CONFIGS
    num_classes, fsl_weight = {**REAL_CONFIGS, **TOY_CONFIGS}[config]
    torch.manual_seed(0)
    cfg, model = _build(config)
    dataset = DATASETS.build(_tiny_dataset_cfg(cfg, toy_root, real))
    batch = pseudo_collate([dataset[i] for i in range(2)])
    assert batch['inputs'][0].shape[-2:] == ((64, 64) if real else (112, 112))
    optim_wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    trained = dict(head=model.head.conv_cls.weight, pcm=model.pcm.embed.weight,
                   backbone=next(p for p in model.backbone.parameters()
                                 if p.requires_grad and p.ndim == 4))
    before = {name: p.detach().clone() for name, p in trained.items()}
    model.train()
    log_vars = model.train_step(batch, optim_wrapper)

    expected = set(SEAM_KEYS)
    if fsl_weight is not None:
        expected |= {'loss_isl', 'loss_fsl'}
    assert expected <= set(log_vars) and torch.isfinite(log_vars['loss'])
    for name, param in trained.items():
        assert not torch.equal(param, before[name]), f'{name} did not train'
    if real:
        assert model.head.conv_cls.out_channels == num_classes
        assert not model.backbone.conv1a.weight.requires_grad  # frozen as in SEAM
        lrs = {id(p): g['lr'] for g in optim_wrapper.param_groups for p in g['params']}
        assert lrs[id(model.head.conv_cls.weight)] == pytest.approx(0.1)
        assert lrs[id(model.pcm.embed.weight)] == pytest.approx(0.1)
        assert lrs[id(trained['backbone'])] == pytest.approx(0.01)
