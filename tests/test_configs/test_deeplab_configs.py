"""Stage-3 DeepLab configs (mmseg's DeepLabV3+ recipe and seed 000's DeepLab-v1 ResNet-38):
parsing, registry scopes, pseudo-label wiring, model, optimiser, CLI."""

import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.model import revert_sync_batchnorm
from mmengine.registry import DefaultScope
from mmengine.structures import PixelData
from PIL import Image

from mmhfpl.structures import save_label_png
from tests.conftest import REPO, as_cli, run_tool

VOC_CONFIG = str(REPO / 'configs/deeplab/deeplabv3plus_r101_voc_pseudo.py')
TOY_CONFIG = str(REPO / 'configs/deeplab/deeplabv3plus_r18_toy_pseudo.py')
V1_CONFIG = str(REPO / 'configs/deeplab/deeplabv1_r38_voc_pseudo.py')
V1_COCO_CONFIG = str(REPO / 'configs/deeplab/deeplabv1_r38_coco_pseudo.py')


@pytest.fixture(autouse=True)
def _mmseg_scope():
    """Build in the configs' default scope without leaking it into other tests."""
    with DefaultScope.overwrite_default_scope('mmseg'):
        yield


def test_configs_parse_and_wire_pseudo_labels():
    voc = Config.fromfile(VOC_CONFIG)
    assert voc.default_scope == 'mmseg' and 'mmhfpl' in voc.custom_imports.imports
    train = voc.train_dataloader.dataset
    assert train.type == 'mmhfpl.VOCWSSSDataset'
    assert train.ann_file == 'ImageSets/Segmentation/train_aug.txt'
    assert train.data_prefix.seg_map_path == voc.pseudo_label_dir
    assert Path(voc.pseudo_label_dir).resolve() == REPO / 'work_dirs/pseudo_labels/voc_train_aug'
    val = voc.val_dataloader.dataset
    assert (val.ann_file, val.data_prefix.seg_map_path) == (
        'ImageSets/Segmentation/val.txt', 'SegmentationClass')
    assert voc.val_evaluator.type == voc.test_evaluator.type == 'mmhfpl.ContourFMetric'
    # mmseg's VOC-aug recipe: R101-V1c d8, 512 crops, 4/GPU, SGD 0.01 poly, 20k iterations.
    assert voc.model.backbone.depth == 101 and voc.model.backbone.type == 'ResNetV1c'
    assert voc.model.pretrained.endswith('resnet101_v1c-e67eebb6.pth')
    assert voc.model.data_preprocessor.size == (512, 512)
    assert voc.train_dataloader.batch_size == 4
    assert voc.optim_wrapper.optimizer.type == 'SGD' and voc.optim_wrapper.optimizer.lr == 0.01
    assert voc.train_cfg.max_iters == 20000 and voc.param_scheduler[0].type == 'PolyLR'

    toy = Config.fromfile(TOY_CONFIG)
    assert toy.train_dataloader.dataset.type == 'mmhfpl.ToyVOCDataset'
    assert toy.train_dataloader.dataset.data_prefix.seg_map_path == toy.pseudo_label_dir
    assert toy.model.pretrained is None and 'SyncBN' not in toy.pretty_text
    assert toy.model.decode_head.num_classes == 7 == toy.model.auxiliary_head.num_classes
    assert toy.val_evaluator.type == 'mmhfpl.ContourFMetric'

    # mmhfpl types resolve from the mmseg scope through their prefix.
    from mmseg.registry import DATASETS, METRICS
    assert DATASETS.get(train.type).__name__ == 'VOCWSSSDataset'
    assert METRICS.get(voc.val_evaluator.type).__name__ == 'ContourFMetric'


def test_voc_model_builds_and_computes_losses_without_weights():
    from mmseg.registry import MODELS
    from mmseg.structures import SegDataSample

    cfg = Config.fromfile(VOC_CONFIG)
    cfg.model.pretrained = None  # no weights in tests
    cfg.model.data_preprocessor.size = (64, 64)  # pad to 64, not to the 512 crop
    model = revert_sync_batchnorm(MODELS.build(cfg.model))  # SyncBN needs a process group
    assert model.backbone.init_cfg is None or model.backbone.init_cfg[0]['type'] != 'Pretrained'
    assert model.decode_head.num_classes == 21 and len(model.backbone.layer3) == 23

    generator = torch.Generator().manual_seed(0)
    inputs, samples = [], []
    for _ in range(2):  # batch 2: the ASPP image-pool BN needs more than one value
        inputs.append(torch.randint(0, 256, (3, 64, 64), generator=generator,
                                    dtype=torch.uint8))
        sample = SegDataSample(gt_sem_seg=PixelData(
            data=torch.randint(0, 21, (1, 64, 64), generator=generator)))
        sample.set_metainfo(dict(img_shape=(64, 64), ori_shape=(64, 64), pad_shape=(64, 64)))
        samples.append(sample)
    model.train()
    data = model.data_preprocessor(dict(inputs=inputs, data_samples=samples), True)
    losses = model(**data, mode='loss')
    assert set(losses) >= {'decode.loss_ce', 'aux.loss_ce'}
    total = losses['decode.loss_ce'] + losses['aux.loss_ce']
    assert torch.isfinite(total) and total.item() > 0
    total.backward()
    assert model.backbone.stem[0].weight.grad.abs().sum() > 0


def test_deeplabv1_r38_config_holds_seed000s_final_stage():
    """arvijj/hfpl's voc12/config_voc2012.py, train_final_voc.py and eval_final_voc.py."""
    cfg = Config.fromfile(V1_CONFIG)
    base = Config.fromfile(VOC_CONFIG)
    assert cfg.train_dataloader.dataset.ann_file == base.train_dataloader.dataset.ann_file
    assert cfg.train_dataloader.dataset.data_prefix == base.train_dataloader.dataset.data_prefix
    assert cfg.val_dataloader.dataset.ann_file == base.val_dataloader.dataset.ann_file
    assert cfg.val_evaluator == base.val_evaluator
    backbone, head = cfg.model.backbone, cfg.model.decode_head
    assert backbone.type == 'mmhfpl.ResNet38d' and backbone.out_indices == (6, )
    assert backbone.init_cfg.checkpoint == 'checkpoints/resnet38d_ilsvrc.pth'
    assert backbone.norm_eval is False and cfg.model.get('auxiliary_head') is None
    assert backbone.norm_cfg == head.norm_cfg == dict(type='BN', momentum=3e-4,
                                                      requires_grad=False)
    assert (head.type, head.in_channels, head.channels, head.dilation, head.dropout_ratio) == (
        'mmhfpl.DeepLabV1Head', 4096, 512, 12, 0.5)
    assert head.align_corners is True and head.loss_decode.avg_non_ignore is True
    assert cfg.model.data_preprocessor.size == (448, 448)
    assert cfg.train_dataloader.batch_size == 10 and cfg.train_cfg.max_iters == 20000
    assert cfg.optim_wrapper.optimizer == dict(type='SGD', lr=1e-3, momentum=0.9,
                                               weight_decay=5e-4)
    assert cfg.param_scheduler == [dict(type='PolyLR', eta_min=0.0, power=0.9, begin=0,
                                        end=20000, by_epoch=False)]
    steps = {step['type']: step for step in cfg.train_dataloader.dataset.pipeline}
    assert steps['mmhfpl.RandomHSVShift'] == dict(type='mmhfpl.RandomHSVShift', hue_delta=10,
                                                  saturation_delta=10, value_delta=10)
    assert steps['RandomResize']['ratio_range'] == (0.5, 1.5)
    assert steps['RandomCrop']['crop_size'] == (448, 448)
    assert 'Resize' not in {step['type'] for step in cfg.val_dataloader.dataset.pipeline}
    views = cfg.tta_pipeline[1].transforms[0]
    assert [v['scale_factor'] for v in views] == [0.5, 0.75, 1.0, 1.25, 1.5, 1.75]
    tta_model = {k: v for k, v in cfg.tta_model.items() if k != '_scope_'}
    assert tta_model == dict(type='mmhfpl.DenseCRFSegTTAModel', fuse='logits', crf=dict(
        iterations=1, gaussian_sxy=3, gaussian_compat=3, bilateral_sxy=32, bilateral_srgb=13,
        bilateral_compat=10))


def test_deeplabv1_r38_trains_the_authors_parameter_groups():
    """One SGD step: conv weights at lr x1 (backbone) / x10 (head), the classifier's bias at
    x20 without weight decay; BN affine parameters fixed, BN running statistics updated."""
    from mmengine.optim import build_optim_wrapper
    from mmseg.registry import MODELS
    from mmseg.structures import SegDataSample

    cfg = Config.fromfile(V1_CONFIG)
    cfg.model.backbone.pop('init_cfg')  # no weights in tests
    cfg.model.data_preprocessor.size = (64, 64)
    model = MODELS.build(cfg.model)
    model.init_weights()
    # The authors' head: 3x3 4096 -> 512 and 1x1 512 -> 512 without biases, two BNs, the
    # 21-class classifier with its bias.
    head_size = 9 * 4096 * 512 + 512 * 512 + 2 * 2 * 512 + 21 * 512 + 21
    assert sum(p.numel() for p in model.decode_head.parameters()) == head_size
    wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    groups = {id(group['params'][0]): group for group in wrapper.optimizer.param_groups}
    named = dict(model.named_parameters())
    expected = {'backbone.conv1a.weight': (1e-3, 5e-4),
                'decode_head.fov.conv.weight': (1e-2, 5e-4),
                'decode_head.fov2.conv.weight': (1e-2, 5e-4),
                'decode_head.conv_seg.weight': (1e-2, 5e-4),
                'decode_head.conv_seg.bias': (2e-2, 0.0)}
    for name, (lr, decay) in expected.items():
        group = groups[id(named[name])]
        assert (group['lr'], group['weight_decay']) == pytest.approx((lr, decay)), name
    norms = [p for n, p in named.items() if '.bn' in n or 'bn7' in n]
    assert norms and not any(p.requires_grad for p in norms)

    generator = torch.Generator().manual_seed(0)
    inputs = [torch.randint(0, 256, (3, 64, 64), generator=generator, dtype=torch.uint8)
              for _ in range(2)]
    samples = []
    for _ in range(2):
        sample = SegDataSample(gt_sem_seg=PixelData(
            data=torch.randint(0, 21, (1, 64, 64), generator=generator)))
        sample.set_metainfo(dict(img_shape=(64, 64), ori_shape=(64, 64), pad_shape=(64, 64)))
        samples.append(sample)
    before = {n: t.detach().clone() for n, t in model.state_dict().items()}
    model.train()
    data = model.data_preprocessor(dict(inputs=inputs, data_samples=samples), True)
    wrapper.update_params(model(**data, mode='loss')['decode.loss_ce'])
    after = model.state_dict()
    for name in ('backbone.conv1a.weight', 'decode_head.conv_seg.weight',
                 'decode_head.conv_seg.bias', 'decode_head.fov.bn.running_mean',
                 'backbone.bn7.running_var'):
        assert not torch.equal(before[name], after[name]), f'{name} did not change'
    for name in ('decode_head.fov.bn.weight', 'backbone.bn7.bias'):
        assert torch.equal(before[name], after[name]), f'{name} changed'


def test_deeplabv1_r38_coco_config_is_the_voc_recipe_on_coco(tmp_path):
    """coco/config_coco2014.py: 81 classes and 200k iterations, the rest as on VOC; its
    training set reads a tiny COCO-layout tree's images and the pseudo-label dir."""
    from mmseg.registry import DATASETS

    cfg, voc = Config.fromfile(V1_COCO_CONFIG), Config.fromfile(V1_CONFIG)
    assert cfg.model.decode_head.num_classes == 81
    assert {k: v for k, v in cfg.model.decode_head.items() if k != 'num_classes'} == {
        k: v for k, v in voc.model.decode_head.items() if k != 'num_classes'}
    assert cfg.model.backbone == voc.model.backbone and cfg.tta_model == voc.tta_model
    assert cfg.optim_wrapper == voc.optim_wrapper
    assert cfg.train_cfg.max_iters == cfg.param_scheduler[0].end == 200000
    assert cfg.train_dataloader.batch_size == 10
    assert Path(cfg.pseudo_label_dir).resolve() == REPO / 'work_dirs/pseudo_labels/coco_train2014'
    assert (cfg.val_dataloader.dataset.split, cfg.val_dataloader.dataset.type) == (
        'val2014', 'mmhfpl.COCOWSSSDataset')
    coco_steps = [dict(s) for s in cfg.train_dataloader.dataset.pipeline]
    voc_steps = [dict(s) for s in voc.train_dataloader.dataset.pipeline]
    for step in coco_steps + voc_steps:
        step.pop('scale', None)  # the only difference: 640- against 500-pixel long sides
    assert coco_steps == voc_steps

    root, pseudo = tmp_path / 'coco2014', tmp_path / 'pseudo'
    ids = ['COCO_train2014_000000000009', 'COCO_train2014_000000000025']
    (root / 'train2014').mkdir(parents=True)
    (root / 'ImageSets').mkdir()
    (root / 'ImageSets/train2014.txt').write_text('\n'.join(ids) + '\n')
    for sample_id in ids:
        Image.fromarray(np.full((48, 64, 3), 120, np.uint8)).save(
            root / 'train2014' / f'{sample_id}.jpg')
        save_label_png(pseudo / f'{sample_id}.png', np.full((48, 64), 7, np.uint8))
    cfg.merge_from_dict({'train_dataloader.dataset.data_root': str(root),
                         'train_dataloader.dataset.data_prefix.seg_map_path': str(pseudo)})
    dataset = DATASETS.build(cfg.train_dataloader.dataset)
    assert len(dataset) == 2
    values = set(np.unique(dataset[0]['data_samples'].gt_sem_seg.data.numpy()).tolist())
    assert values == {7}


@pytest.mark.parametrize('config', [VOC_CONFIG, V1_CONFIG], ids=['deeplabv3plus', 'deeplabv1'])
def test_voc_train_set_reads_masks_from_pseudo_label_dir(config, tmp_path, toy_root):
    """The VOC train set with the toy images and a pseudo-label dir distinct from the GT,
    through each config's training pipeline."""
    from mmseg.registry import DATASETS

    ids = Path(toy_root, 'ImageSets/Segmentation/train.txt').read_text().split()
    pseudo = tmp_path / 'pseudo'
    for index, sample_id in enumerate(ids):
        label = np.full((128, 128), 0 if index == 0 else 3, dtype=np.uint8)
        label[:8] = 255
        save_label_png(pseudo / f'{sample_id}.png', label)

    cfg = Config.fromfile(config)
    cfg.merge_from_dict({  # the documented command-line override
        'train_dataloader.dataset.data_prefix.seg_map_path': str(pseudo),
        'train_dataloader.dataset.data_root': toy_root,
        'train_dataloader.dataset.ann_file': 'ImageSets/Segmentation/train.txt'})
    dataset = DATASETS.build(cfg.train_dataloader.dataset)
    assert len(dataset) == len(ids), 'no image is filtered, even an all-background one'
    assert dataset.get_data_info(0)['seg_map_path'] == str(pseudo / f'{ids[0]}.png')
    packed = dataset[1]  # one draw of the random pipeline
    sample = packed['data_samples']
    values = set(np.unique(sample.gt_sem_seg.data.numpy()).tolist())
    assert values <= {3, 255} and 3 in values  # pseudo-labels, not the toy GT classes
    shape = tuple(sample.gt_sem_seg.data.shape[-2:])
    if config == VOC_CONFIG:
        assert shape == (512, 512)  # mmseg's 512 crop + pad
    else:  # the long side scaled to 250-750, cropped to at most 448; padded in the batch
        assert max(shape) <= 448 and min(shape) >= 250
        assert packed['inputs'].shape[-2:] == shape


def test_toy_config_trains_and_tests_through_the_tools(tmp_path, toy_root):
    options = {
        'train_dataloader.dataset.data_prefix.seg_map_path': f'{toy_root}/SegmentationClass',
        'train_cfg.max_iters': 2,
        'train_cfg.val_interval': 2,
        'param_scheduler.0.end': 2,
        'default_hooks.checkpoint.interval': 2,
        'default_hooks.logger.interval': 1,
        'train_dataloader.batch_size': 2,
        'val_dataloader.batch_size': 4,
    }
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        options[f'{loader}.dataset.data_root'] = toy_root
        options[f'{loader}.num_workers'] = 0
        options[f'{loader}.persistent_workers'] = False
    work = tmp_path / 'work'
    run_tool([sys.executable, 'tools/train.py', TOY_CONFIG, '--work-dir', str(work),
              *as_cli(options)])
    assert (work / 'iter_2.pth').is_file()

    out = tmp_path / 'metrics.json'
    result = run_tool([sys.executable, 'tools/test.py', TOY_CONFIG, str(work / 'iter_2.pth'),
                       '--work-dir', str(tmp_path / 'test'), '--out', str(out),
                       *as_cli(options)])
    metrics = json.loads(out.read_text())
    for key in ('mIoU', 'F', 'J&F'):
        assert 0.0 <= metrics[key] <= 100.0
    assert metrics['J&F'] == pytest.approx((metrics['mIoU'] + metrics['F']) / 2, abs=0.01)
    assert 'per class contour F' in result.stdout + result.stderr
