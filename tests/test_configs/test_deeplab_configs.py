"""Stage-3 DeepLabV3+ configs: parsing, registry scopes, pseudo-label wiring, model, CLI."""

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

from mmhfpl.structures import save_label_png
from tests.conftest import REPO, as_cli, run_tool

VOC_CONFIG = str(REPO / 'configs/deeplab/deeplabv3plus_r101_voc_pseudo.py')
TOY_CONFIG = str(REPO / 'configs/deeplab/deeplabv3plus_r18_toy_pseudo.py')


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


def test_voc_train_set_reads_masks_from_pseudo_label_dir(tmp_path, toy_root):
    """The VOC train set with the toy images and a pseudo-label dir distinct from the GT."""
    from mmseg.registry import DATASETS

    ids = Path(toy_root, 'ImageSets/Segmentation/train.txt').read_text().split()
    pseudo = tmp_path / 'pseudo'
    for index, sample_id in enumerate(ids):
        label = np.full((128, 128), 0 if index == 0 else 3, dtype=np.uint8)
        label[:8] = 255
        save_label_png(pseudo / f'{sample_id}.png', label)

    cfg = Config.fromfile(VOC_CONFIG)
    cfg.merge_from_dict({  # the documented command-line override
        'train_dataloader.dataset.data_prefix.seg_map_path': str(pseudo),
        'train_dataloader.dataset.data_root': toy_root,
        'train_dataloader.dataset.ann_file': 'ImageSets/Segmentation/train.txt'})
    dataset = DATASETS.build(cfg.train_dataloader.dataset)
    assert len(dataset) == len(ids), 'no image is filtered, even an all-background one'
    assert dataset.get_data_info(0)['seg_map_path'] == str(pseudo / f'{ids[0]}.png')
    sample = dataset[1]['data_samples']
    values = set(np.unique(sample.gt_sem_seg.data.numpy()).tolist())
    assert values <= {3, 255} and 3 in values  # pseudo-labels, not the toy GT classes
    assert tuple(sample.gt_sem_seg.data.shape[-2:]) == (512, 512)  # mmseg's 512 crop + pad


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
