"""MCTformer-V2: the objective and the fused, patch-refined CAM against the authors'
models.py / engine.py, CAM generation, the DeiT converter, configs, a training step of each
and an interrupted toy training that resumes."""

import sys

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.optim import build_optim_wrapper
from mmengine.registry import DefaultScope
from mmpretrain.structures import DataSample

from mmhfpl.models.classifiers import class_attention_cam
from mmhfpl.pseudo_labels import tta_record
from mmhfpl.registry import DATASETS, MODELS
from tests.conftest import (
    REPO,
    assert_resumes_like_a_straight_run,
    build_model,
    load_tool,
)

TOY_CONFIG = 'configs/mctformer/mctformer_v2_vit-t_toy.py'
REAL_CONFIGS = {'configs/mctformer/mctformer_v2_deit-s_voc.py': (20, False),
                'configs/mctformer/mctformer_v2_hfpl_deit-s_voc.py': (20, True),
                'configs/mctformer/mctformer_v2_deit-s_coco.py': (80, False),
                'configs/mctformer/mctformer_v2_hfpl_deit-s_coco.py': (80, True)}
TOY_CONFIGS = {TOY_CONFIG: (6, False),
               'configs/mctformer/mctformer_v2_hfpl_vit-t_toy.py': (6, True)}


@pytest.fixture(autouse=True)
def _mmhfpl_scope():
    with DefaultScope.overwrite_default_scope('mmhfpl'):
        yield



@pytest.fixture(scope='module')
def toy_model():
    with DefaultScope.overwrite_default_scope('mmhfpl'):
        torch.manual_seed(0)
        model = build_model(TOY_CONFIG)[1]
        model.eval()
        return model


def test_fused_cam_matches_the_authors_generation():
    """models.py MCTformerV2.forward(return_att=True) + engine.py --patch-attn-refine."""
    generator = torch.Generator().manual_seed(0)
    layers, batch, classes, h, w = 4, 2, 3, 2, 3
    attentions = torch.rand(layers, batch, classes + h * w, classes + h * w,
                            generator=generator).softmax(-1)
    scores = torch.randn(batch, classes, h, w, generator=generator)
    feature_map = F.relu(scores)
    mtatt = attentions[-2:].sum(0)[:, :classes, classes:].reshape(batch, classes, h, w)
    cams = mtatt * feature_map
    patch_attn = torch.sum(attentions[:, :, classes:, classes:], dim=0)
    refined = torch.matmul(patch_attn.unsqueeze(1), cams.view(batch, classes, -1, 1)).reshape(
        batch, classes, h, w)
    torch.testing.assert_close(class_attention_cam(attentions, scores, 2), refined)
    torch.testing.assert_close(class_attention_cam(attentions, scores, 2, refine=False), cams)
    with pytest.raises(ValueError, match='tokens'):
        class_attention_cam(attentions, scores[:, :2], 2)


def test_objective_and_prediction_follow_the_authors(toy_model):
    generator = torch.Generator().manual_seed(1)
    inputs = [torch.randint(0, 256, (3, 112, 112), generator=generator, dtype=torch.uint8)
              for _ in range(2)]
    samples = [DataSample().set_gt_label(torch.tensor(lab)) for lab in ([0, 2], [5])]
    data = toy_model.data_preprocessor(dict(inputs=inputs, data_samples=samples), True)
    toy_model.eval()  # no drop path: the transcription is deterministic
    losses = toy_model.loss(data['inputs'], data['data_samples'])
    assert set(losses) == {'loss_gap_bce', 'loss_cls_token'}
    tokens, patches, attentions = toy_model.backbone(data['inputs'])
    x_patch = toy_model.head.conv_cls(patches)
    target = torch.zeros(2, 6)
    target[0, [0, 2]] = 1
    target[1, 5] = 1
    # engine.py train_one_epoch: soft margin on x_cls.mean(-1) and on avgpool(head(x_patch)).
    torch.testing.assert_close(losses['loss_cls_token'],
                               F.multilabel_soft_margin_loss(tokens.mean(-1), target))
    torch.testing.assert_close(losses['loss_gap_bce'], F.multilabel_soft_margin_loss(
        F.adaptive_avg_pool2d(x_patch, 1).flatten(1), target))
    with torch.no_grad():
        out = toy_model.predict(data['inputs'], data['data_samples'])
    torch.testing.assert_close(out[0].cam, class_attention_cam(attentions, x_patch, 3)[0])
    torch.testing.assert_close(out[0].pred_score, torch.sigmoid(tokens[0].mean(-1)))
    torch.testing.assert_close(out[1].cam_cls, x_patch[1])


def test_cam_generation_sums_the_views_and_min_max_normalises(toy_model):
    image = torch.randint(0, 256, (3, 60, 76), generator=torch.Generator().manual_seed(2),
                          dtype=torch.uint8)
    inputs, flips = [image, image.flip(-1)], (False, True)
    views = dict(inputs=inputs, data_samples=[DataSample(metainfo=dict(
        ori_shape=(60, 76), flip=f)) for f in flips])
    record = tta_record(toy_model, views, num_classes=6, labels=np.array([1, 4]))
    # generate_attention_maps_ms: each view's map to the image size, un-flipped, summed;
    # then (x - min) / (max - min + 1e-8) per class.
    total = torch.zeros(6, 60, 76)
    with torch.no_grad():
        for view, flipped in zip(inputs, flips, strict=True):
            batch = toy_model.data_preprocessor(dict(inputs=[view]))
            cam = toy_model.predict(batch['inputs'])[0].cam
            cam = F.interpolate(cam[None], size=(60, 76), mode='bilinear',
                                align_corners=False)[0]
            total += cam.flip(-1) if flipped else cam
    for row, c in enumerate((1, 4)):
        expected = (total[c] - total[c].min()) / (total[c].max() - total[c].min() + 1e-8)
        np.testing.assert_allclose(record.cams[row], expected.numpy(), atol=1e-5)
    assert toy_model.cam_fusion == 'mctformer'


def _deit_small_state_dict() -> dict[str, torch.Tensor]:
    """A state dict with the key names and shapes of deit_small_patch16_224-cd65a155.pth."""
    generator = torch.Generator().manual_seed(3)
    shapes = {'cls_token': (1, 1, 384), 'pos_embed': (1, 197, 384),
              'patch_embed.proj.weight': (384, 3, 16, 16), 'patch_embed.proj.bias': (384, ),
              'norm.weight': (384, ), 'norm.bias': (384, ), 'head.weight': (1000, 384),
              'head.bias': (1000, )}
    for i in range(12):
        shapes.update({
            f'blocks.{i}.norm1.weight': (384, ), f'blocks.{i}.norm1.bias': (384, ),
            f'blocks.{i}.attn.qkv.weight': (1152, 384), f'blocks.{i}.attn.qkv.bias': (1152, ),
            f'blocks.{i}.attn.proj.weight': (384, 384), f'blocks.{i}.attn.proj.bias': (384, ),
            f'blocks.{i}.norm2.weight': (384, ), f'blocks.{i}.norm2.bias': (384, ),
            f'blocks.{i}.mlp.fc1.weight': (1536, 384), f'blocks.{i}.mlp.fc1.bias': (1536, ),
            f'blocks.{i}.mlp.fc2.weight': (384, 1536), f'blocks.{i}.mlp.fc2.bias': (384, )})
    return {k: torch.randn(*s, generator=generator) for k, s in shapes.items()}


def test_deit_converter_tiles_the_class_token_and_loads_strictly(tmp_path):
    converter = load_tool('tools/model_converters/convert_deit_class_tokens.py')
    deit = _deit_small_state_dict()
    src, dst = tmp_path / 'deit.pth', tmp_path / 'deit-s_20cls.pth'
    torch.save({'model': deit}, src)
    argv, sys.argv = sys.argv, ['convert', str(src), str(dst), '--num-classes', '20']
    try:
        converter.main()
    finally:
        sys.argv = argv
    state = torch.load(dst, map_location='cpu', weights_only=True)['state_dict']
    cfg = Config.fromfile(str(REPO / 'configs/mctformer/mctformer_v2_deit-s_voc.py'))
    cfg.model.backbone.init_cfg = None
    model = MODELS.build(cfg.model)
    backbone = {k[len('backbone.'):]: v for k, v in state.items()}
    missing, unexpected = model.backbone.load_state_dict(backbone, strict=False)
    assert not missing and not unexpected
    assert torch.equal(model.backbone.cls_token[0, 7], deit['cls_token'][0, 0])
    torch.testing.assert_close(model.backbone.pos_embed[0, :20],
                               deit['pos_embed'][0, :1].expand(20, -1))
    torch.testing.assert_close(model.backbone.pos_embed[0, 20:], deit['pos_embed'][0, 1:])
    torch.testing.assert_close(model.backbone.layers[11].ffn.layers[1].weight,
                               deit['blocks.11.mlp.fc2.weight'])
    assert not any(k.startswith('backbone.head') or k == 'backbone.norm.weight' for k in state)
    with pytest.raises(KeyError, match='not a DeiT'):
        converter.convert({'foo': torch.zeros(1)}, 20)


@pytest.mark.parametrize('config', list(REAL_CONFIGS))
def test_real_configs_hold_the_authors_settings(config):
    num_classes, hfpl = REAL_CONFIGS[config]
    cfg = Config.fromfile(str(REPO / config))
    backbone = cfg.model.backbone
    assert backbone.type == 'ClassTokenViT' and backbone.arch == 'deit-small'
    assert backbone.num_class_tokens == num_classes == cfg.model.head.num_classes
    assert backbone.drop_path_rate == 0.1 and backbone.patch_size == 16
    assert (cfg.model.head.kernel_size, cfg.model.head.bias) == (3, True)
    assert cfg.model.test_cfg == dict(cam_layers=3, refine=True)
    losses = {loss.type: loss for loss in cfg.model.head.losses}
    if hfpl:
        isl, fsl = losses['ImportanceSamplingLoss'], losses['FeatureSimilarityLoss']
        assert isl.lambda_ == 0.02 and (fsl.loss_weight, fsl.upsample) == (0.1, 4)
    else:
        assert set(losses) == {'GAPBCELoss'}
    optimizer = cfg.optim_wrapper.optimizer
    assert optimizer.type == 'AdamW' and optimizer.lr == pytest.approx(5e-4 * 64 / 512)
    assert optimizer.weight_decay == 0.05 and cfg.train_dataloader.batch_size == 64
    assert cfg.train_cfg.max_epochs == 60
    warmup, cosine = cfg.param_scheduler
    assert warmup.end == 5 and warmup.start_factor * optimizer.lr == pytest.approx(1e-6)
    assert (cosine.begin, cosine.end, cosine.eta_min) == (5, 60, 1e-5)
    types = [t.type for t in cfg.train_dataloader.dataset.pipeline]
    assert 'mmpretrain.RandAugment' in types and 'mmpretrain.RandomErasing' in types


def test_voc_model_has_the_real_size():
    _, model = build_model('configs/mctformer/mctformer_v2_deit-s_voc.py')
    total = sum(p.numel() for p in model.parameters())
    # DeiT-S (22,050,664) without its head (385,000) and final norm (768), plus 19 more
    # class tokens and their position embeddings, plus the 3x3 head.
    deit_s = 22_050_664 - 385_000 - 768 + 19 * 384 * 2
    assert total == deit_s + 384 * 20 * 9 + 20


@pytest.mark.parametrize('config', [*REAL_CONFIGS, *TOY_CONFIGS])
def test_every_config_trains_one_step(config, toy_root):
    real = config in REAL_CONFIGS
    num_classes, hfpl = {**REAL_CONFIGS, **TOY_CONFIGS}[config]
    torch.manual_seed(0)
    cfg, model = build_model(config)
    dataset = cfg.train_dataloader.dataset
    dataset.data_root = toy_root
    if real:
        dataset.ann_file = 'ImageSets/Segmentation/train.txt'
        dataset.data_prefix = dict(img_path='JPEGImages', seg_map_path='SegmentationClass')
    dataset = DATASETS.build(dataset)
    batch = pseudo_collate([dataset[i] for i in range(2)])
    assert batch['inputs'][0].shape[-2:] == ((224, 224) if real else (112, 112))
    optim_wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    before = model.backbone.cls_token.detach().clone()
    head_before = model.head.conv_cls.weight.detach().clone()
    model.train()
    log_vars = model.train_step(batch, optim_wrapper)
    expected = {'loss_gap_bce', 'loss_cls_token'} | ({'loss_isl', 'loss_fsl'} if hfpl else set())
    assert expected <= set(log_vars) and torch.isfinite(log_vars['loss'])
    assert not torch.equal(model.backbone.cls_token, before)
    assert not torch.equal(model.head.conv_cls.weight, head_before)
    if real:  # timm's create_optimizer: no decay on tokens, embeddings, biases and norms
        decay = {id(p): g['weight_decay'] for g in optim_wrapper.param_groups
                 for p in g['params']}
        for param in (model.backbone.cls_token, model.backbone.pos_embed,
                      model.backbone.layers[0].ln1.weight, model.head.conv_cls.bias):
            assert decay[id(param)] == 0
        assert decay[id(model.backbone.layers[0].attn.qkv.weight)] == pytest.approx(0.05)



def test_toy_training_resumes_like_an_uninterrupted_run(tmp_path, toy_root):
    # Drop path draws from torch's RNG, which checkpoints do not keep: without it the resumed
    # run must match the uninterrupted one exactly.
    assert_resumes_like_a_straight_run(TOY_CONFIG, toy_root, tmp_path,
                                       **{'model.backbone.drop_path_rate': 0.0})
