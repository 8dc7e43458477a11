"""SIPE: the model's objective against a transcription of the authors' training step, the
flip-pair inference of their make_cam.py, CAM generation with the IS-CAM background, the
configs, one training step of each and an interrupted toy training that resumes."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.optim import build_optim_wrapper
from mmengine.registry import DefaultScope
from mmpretrain.structures import DataSample

from mmhfpl.pseudo_labels import BackgroundRule, record_to_label, tta_record
from mmhfpl.registry import DATASETS
from tests.conftest import REPO, assert_resumes_like_a_straight_run, build_model

TOY_CONFIG = 'configs/sipe/sipe_r18_toy.py'
REAL_CONFIGS = {'configs/sipe/sipe_r50_voc.py': (20, False),
                'configs/sipe/sipe_hfpl_r50_voc.py': (20, True),
                'configs/sipe/sipe_r50_coco.py': (80, False),
                'configs/sipe/sipe_hfpl_r50_coco.py': (80, True)}
TOY_CONFIGS = {TOY_CONFIG: (6, False), 'configs/sipe/sipe_hfpl_r18_toy.py': (6, True)}


@pytest.fixture(autouse=True)
def _mmhfpl_scope():
    with DefaultScope.overwrite_default_scope('mmhfpl'):
        yield



@pytest.fixture(scope='module')
def toy_model():
    with DefaultScope.overwrite_default_scope('mmhfpl'):
        torch.manual_seed(0)
        model = build_model(TOY_CONFIG)[1]
        with torch.no_grad():  # strong class maps, so seeds are not all background
            model.head.conv_cls.weight.normal_(0, 0.3)
        return model


def _batch(model, size: int = 64, training: bool = True, labels=([0, 2], [5])):
    generator = torch.Generator().manual_seed(1)
    samples = [DataSample().set_gt_label(torch.tensor(lab)) for lab in labels]
    batch = dict(inputs=[torch.randint(0, 256, (3, size, size), generator=generator,
                                       dtype=torch.uint8) for _ in labels],
                 data_samples=samples)
    return model.data_preprocessor(batch, training)


def _unit(x):
    return x / (torch.norm(x, dim=1, keepdim=True) + 1e-5)


def _authors_hie(model, stages):
    """hie_fea of resnet50_SIPE.py with the model's side convolutions."""
    sides = [conv(s.detach()) for conv, s in zip(model.prototypes.sides, stages, strict=True)]
    size = sides[2].shape[2:]
    return torch.cat([F.interpolate(_unit(s), size, mode='bilinear') for s in sides], dim=1)


def _authors_seeds_is_cam(norm_cam, label, feature, hie):
    """get_seed / get_prototype / reactivate of resnet50_SIPE.py (dense HW x HW form)."""
    n, c, h, w = norm_cam.shape
    f = feature.reshape(n, -1, h * w)
    f = f / (torch.norm(f, dim=1, keepdim=True) + 1e-5)
    correlation = F.relu(torch.matmul(f.transpose(2, 1), f)).unsqueeze(1)
    cam_flat = norm_cam.reshape(n, -1, h * w).unsqueeze(2)
    inter = (correlation * cam_flat).sum(-1)
    union = correlation.sum(-1) + cam_flat.sum(-1) - inter
    miou = (inter / union).view(n, c, h, w)
    miou[:, 0] = miou[:, 0] * 0.5
    seeds = torch.zeros(n, h, w, c).scatter_(-1, miou.argmax(1).view(n, h, w, 1), 1)
    seeds = seeds.permute(0, 3, 1, 2).contiguous() * label
    crop = seeds.unsqueeze(2) * hie.unsqueeze(1)
    prototypes = F.adaptive_avg_pool2d(crop.view(-1, *hie.shape[1:]), 1).view(
        n, c, hie.shape[1], 1, 1)
    return F.relu(torch.cosine_similarity(hie.unsqueeze(1), prototypes, dim=2))


def _authors_norm_cam(cam, size):
    norm = F.relu(cam)
    norm = norm / (F.adaptive_max_pool2d(norm, (1, 1)) + 1e-5)
    norm = torch.cat([1 - torch.max(norm, dim=1)[0].unsqueeze(1), norm], dim=1)
    return F.interpolate(norm, size, mode='bilinear', align_corners=True)


def test_objective_matches_the_authors_training_step(toy_model):
    toy_model.train()
    data = _batch(toy_model)
    valid = torch.ones(2, 64, 64)
    valid[1, :, 40:] = 0  # padding on the right of the second crop
    for sample, mask in zip(data['data_samples'], valid, strict=True):
        sample.set_field(mask, 'valid_mask')
    torch.manual_seed(3)
    losses = toy_model.loss(data['inputs'], data['data_samples'])
    assert set(losses) == {'loss_gap_bce', 'loss_gsc'}

    stages = toy_model.extract_feat(data['inputs'])
    cam = toy_model.head.conv_cls(stages[-1])
    label = torch.zeros(2, 6)
    label[0, [0, 2]] = 1
    label[1, 5] = 1
    hie = _authors_hie(toy_model, stages)
    mask = torch.cat([torch.ones(2, 1), label], 1)[..., None, None] * F.interpolate(
        valid[:, None], size=hie.shape[2:], mode='nearest')
    norm_cam = _authors_norm_cam(cam, hie.shape[2:]) * mask
    is_cam = _authors_seeds_is_cam(norm_cam.clone(), mask, stages[-1].clone(), hie)
    is_cam = is_cam / (F.adaptive_max_pool2d(is_cam, (1, 1)) + 1e-5)
    gsc = torch.mean(torch.abs(norm_cam - is_cam))
    cls = F.multilabel_soft_margin_loss(F.adaptive_avg_pool2d(cam, 1)[..., 0, 0], label)
    torch.testing.assert_close(losses['loss_gsc'], gsc)
    torch.testing.assert_close(losses['loss_gap_bce'], cls)
    assert 0 < norm_cam[1, 0].count_nonzero() < norm_cam[0, 0].count_nonzero()


def test_gsc_trains_the_sides_and_the_cam_not_the_backbone_through_the_sides(toy_model):
    toy_model.train()
    toy_model.zero_grad()
    data = _batch(toy_model)
    toy_model.loss(data['inputs'], data['data_samples'])['loss_gsc'].backward()
    side_grad = sum(p.grad.abs().sum() for p in toy_model.prototypes.parameters())
    assert side_grad > 0 and toy_model.head.conv_cls.weight.grad.abs().sum() > 0
    toy_model.zero_grad()
    # Through the sides alone (the CAM path cut), the backbone gets nothing.
    stages = toy_model.extract_feat(data['inputs'])
    toy_model.prototypes.hierarchical_feature(stages).sum().backward()
    assert all(p.grad is None or p.grad.abs().sum() == 0
               for p in toy_model.backbone.parameters())
    toy_model.zero_grad()


def test_predict_fuses_flip_pairs_as_the_authors_inference(toy_model):
    toy_model.eval()
    image = torch.randint(0, 256, (3, 48, 56), generator=torch.Generator().manual_seed(2),
                          dtype=torch.uint8)
    samples = [DataSample(metainfo=dict(sample_idx=7, flip=flip, img_shape=(48, 56)))
               .set_gt_label(torch.tensor([1, 3])) for flip in (False, True)]
    data = toy_model.data_preprocessor(dict(inputs=[image, image.flip(-1)],
                                            data_samples=samples))
    with torch.no_grad():
        out = toy_model.predict(data['inputs'], data['data_samples'])
        # make_cam.py: CAM.forward on the (image, flipped image) pair of one scale.
        stages = toy_model.extract_feat(data['inputs'])
        cam = toy_model.head.conv_cls(stages[-1])
        cam = (cam[0] + cam[1].flip(-1)).unsqueeze(0)
        hie = _authors_hie(toy_model, stages)
        hie = (hie[0] + hie[1].flip(-1)).unsqueeze(0)
        label = torch.zeros(7)
        label[[0, 2, 4]] = 1
        norm_cam = _authors_norm_cam(cam, hie.shape[2:])
        expected = _authors_seeds_is_cam(norm_cam, label[None, :, None, None], hie.clone(),
                                         hie)[0]
    assert expected[[2, 4]].amax() > 0, 'the example has foreground seeds'
    torch.testing.assert_close(out[0].cam_background, expected[:1])
    torch.testing.assert_close(out[0].cam, expected[1:])
    torch.testing.assert_close(out[1].cam, expected[1:].flip(-1))
    assert out[0].cam[[0, 2, 4, 5]].abs().sum() == 0  # unlabelled classes have no prototype

    # A single view is computed alone; without gt_label the predicted labels mask seeds.
    single = DataSample(metainfo=dict(sample_idx=7, flip=False, img_shape=(48, 56)))
    with torch.no_grad():
        alone = toy_model.predict(data['inputs'][:1], [single])[0]
    assert alone.cam.shape == (6, 6, 7) and alone.cam_background.shape == (1, 6, 7)
    unlabelled = torch.ones(6, dtype=torch.bool)
    unlabelled[alone.pred_label] = False
    assert alone.cam[unlabelled].abs().sum() == 0


def test_cam_generation_keeps_the_is_cam_background(toy_model):
    toy_model.eval()
    image = torch.randint(0, 256, (3, 40, 48), generator=torch.Generator().manual_seed(4),
                          dtype=torch.uint8)
    small = F.interpolate(image[None].float(), size=(24, 32), mode='bilinear')[0].byte()
    inputs = [image, image.flip(-1), small, small.flip(-1)]
    flips = (False, True, False, True)
    views = dict(inputs=inputs, data_samples=[
        DataSample(metainfo=dict(ori_shape=(40, 48), flip=f, sample_idx=0,
                                 img_shape=tuple(v.shape[-2:]))).set_gt_label(
            torch.tensor([1, 3])) for v, f in zip(inputs, flips, strict=True)])
    record = tta_record(toy_model, views, num_classes=6, labels=np.array([1, 3]))
    assert record.cams.shape == (2, 40, 48) and record.background.shape == (40, 48)
    # make_cam.py: each scale's IS-CAM to the image size, summed, / (max + 1e-5).
    total = torch.zeros(7, 40, 48)
    with torch.no_grad():
        for pair in ((0, 1), (2, 3)):
            batch = toy_model.data_preprocessor(dict(
                inputs=[inputs[i] for i in pair],
                data_samples=[views['data_samples'][i] for i in pair]))
            out = toy_model.predict(batch['inputs'], batch['data_samples'])[0]
            is_cam = torch.cat([out.cam_background, out.cam])
            total += F.interpolate(is_cam[None], size=(40, 48), mode='bilinear',
                                   align_corners=False)[0]
    total /= total.flatten(1).amax(1)[:, None, None] + 1e-5
    np.testing.assert_allclose(record.background, total[0].numpy(), atol=1e-5)
    np.testing.assert_allclose(record.cams, total[[2, 4]].numpy(), atol=1e-5)
    label = record_to_label(record, BackgroundRule(bg_scale=1.0))
    expected = np.array([0, 2, 4])[total[[0, 2, 4]].numpy().argmax(axis=0)]
    assert (label == expected).all()  # eval_cam.py: argmax over background and classes


@pytest.mark.parametrize('config', list(REAL_CONFIGS))
def test_real_configs_hold_the_authors_settings(config):
    num_classes, hfpl = REAL_CONFIGS[config]
    cfg = Config.fromfile(str(REPO / config))
    model = cfg.model
    backbone = model.backbone
    assert model.type == 'SIPE' and backbone.type == 'mmpretrain.ResNet'
    assert (backbone.depth, backbone.strides, backbone.dilations) == (50, (1, 2, 2, 1),
                                                                     (1, 1, 1, 1))
    assert backbone.out_indices == (0, 1, 2, 3) and backbone.frozen_stages == 2
    assert backbone.norm_eval and backbone.init_cfg.type == 'Pretrained'
    assert model.prototypes.out_channels == (128, 128, 256, 256)
    assert model.prototypes.bg_weight == 0.5 and model.gsc_loss.loss_weight == 1.0
    assert model.head.num_classes == model.data_preprocessor.num_classes == num_classes
    losses = {loss.type: loss for loss in model.head.losses}
    if hfpl:
        isl, fsl = losses['ImportanceSamplingLoss'], losses['FeatureSimilarityLoss']
        assert (isl.num_samples, isl.lambda_) == (10, 0.02)
        assert (fsl.loss_weight, fsl.upsample, fsl.mu, fsl.sigma) == (0.1, 2, 2.5, 5.0)
    else:
        assert set(losses) == {'GAPBCELoss'}
    train = cfg.train_dataloader
    assert train.batch_size == 16
    crop = next(t for t in train.dataset.pipeline if t.type == 'RandomCropWithValidMask')
    assert crop.crop_size == 512
    assert train.dataset.pipeline[-1].algorithm_keys == ('valid_mask', )
    resize = train.dataset.pipeline[1]
    assert resize.scale == (640, 640) and resize.ratio_range == (0.5, 1.0)  # long 320-640
    optim = cfg.optim_wrapper
    assert (optim.optimizer.type, optim.optimizer.lr, optim.optimizer.weight_decay) == (
        'SGD', 0.1, 1e-4)
    assert {k: v.lr_mult for k, v in optim.paramwise_cfg.custom_keys.items()} == {
        'head': 10.0, 'prototypes': 10.0}
    assert optim.clip_grad.max_norm == 1.0
    assert cfg.train_cfg.max_epochs == 5 and cfg.param_scheduler[0].power == 0.9
    dataset = 'COCOWSSSDataset' if num_classes == 80 else 'VOCWSSSDataset'
    assert train.dataset.type == cfg.val_dataloader.dataset.type == dataset


def test_voc_model_has_the_real_size():
    _, model = build_model('configs/sipe/sipe_r50_voc.py')
    total = sum(p.numel() for p in model.parameters())
    # ResNet-50 without fc (23.51M) + classifier 2048x20 + sides 128/128/256/256.
    sides = 256 * 128 + 512 * 128 + 1024 * 256 + 2048 * 256
    assert total == 23_508_032 + 2048 * 20 + sides
    frozen = [name for name, p in model.backbone.named_parameters() if not p.requires_grad]
    assert any(n.startswith('layer2') for n in frozen)
    assert not any(n.startswith('layer3') for n in frozen)


def _tiny_dataset_cfg(cfg: Config, toy_root: str, real: bool) -> dict:
    dataset = cfg.train_dataloader.dataset
    dataset.data_root = toy_root
    if real:
        dataset.ann_file = 'ImageSets/Segmentation/train.txt'
        dataset.data_prefix = dict(img_path='JPEGImages', seg_map_path='SegmentationClass')
        for transform in dataset.pipeline:
            if transform.type == 'RandomResize':
                transform.scale = (96, 96)
            elif transform.type == 'RandomCropWithValidMask':
                transform.crop_size = 80  # 48-96 px images: some padded, some cropped
    return dataset


@pytest.mark.parametrize('config', [*REAL_CONFIGS, *TOY_CONFIGS])
def test_every_config_trains_one_step(config, toy_root):
    real = config in REAL_CONFIGS
    num_classes, hfpl = {**REAL_CONFIGS, **TOY_CONFIGS}[config]
    torch.manual_seed(0)
    cfg, model = build_model(config)
    dataset = DATASETS.build(_tiny_dataset_cfg(cfg, toy_root, real))
    batch = pseudo_collate([dataset[i] for i in range(2)])
    if real:
        assert all('valid_mask' in sample for sample in batch['data_samples'])
    optim_wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    trained = dict(head=model.head.conv_cls.weight, sides=model.prototypes.sides[0].weight,
                   backbone=model.backbone.layer4[0].conv1.weight)
    before = {name: p.detach().clone() for name, p in trained.items()}
    model.train()
    log_vars = model.train_step(batch, optim_wrapper)
    expected = {'loss_gap_bce', 'loss_gsc'} | ({'loss_isl', 'loss_fsl'} if hfpl else set())
    assert expected <= set(log_vars) and torch.isfinite(log_vars['loss'])
    for name, param in trained.items():
        assert not torch.equal(param, before[name]), f'{name} did not train'
    assert model.head.conv_cls.out_channels == num_classes
    if real:
        assert not model.backbone.layer2[0].conv1.weight.requires_grad
        lrs = {id(p): g['lr'] for g in optim_wrapper.param_groups for p in g['params']}
        assert lrs[id(trained['sides'])] == pytest.approx(1.0)
        assert lrs[id(trained['backbone'])] == pytest.approx(0.1)



def test_toy_training_resumes_like_an_uninterrupted_run(tmp_path, toy_root):
    assert_resumes_like_a_straight_run(TOY_CONFIG, toy_root, tmp_path)
