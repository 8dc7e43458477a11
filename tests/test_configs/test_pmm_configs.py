"""PMM's configs: stage 1 (SEAM's recipe with PMM's batch and learning rate) and stage 3
(PSPNet with pretended under-fitting, PMM's test with --tta, the cyclic step)."""

import json
from pathlib import Path

import pytest
from mmengine.config import Config
from mmengine.structures import PixelData

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


def test_pmm_pspnet_configs_use_pretended_under_fitting_on_both_heads():
    """Stage 3: PSPNet with PUF (beta = k = 0.5) on ResNet-38d (VOC) and on the toy DeepLab's
    backbone (toy); the data wiring of the DeepLab configs."""
    import torch
    from mmengine.model import revert_sync_batchnorm
    from mmengine.registry import DefaultScope

    voc = Config.fromfile(str(REPO / 'configs/pmm/pspnet_r38_voc_pseudo.py'))
    deeplab = Config.fromfile(str(REPO / 'configs/deeplab/deeplabv3plus_r101_voc_pseudo.py'))
    assert voc.train_dataloader == deeplab.train_dataloader
    assert voc.val_evaluator == deeplab.val_evaluator and voc.train_cfg == deeplab.train_cfg
    assert voc.model.backbone.type == 'mmhfpl.ResNet38d' and voc.model.pretrained is None
    assert voc.model.backbone.init_cfg.checkpoint == 'checkpoints/resnet38d_ilsvrc.pth'
    assert (voc.model.decode_head.type, voc.model.decode_head.in_channels) == ('PSPHead', 4096)
    assert voc.model.auxiliary_head.in_channels == 1024
    toy = Config.fromfile(str(REPO / 'configs/pmm/pspnet_r18_toy_pseudo.py'))
    toy_deeplab = Config.fromfile(str(REPO / 'configs/deeplab/deeplabv3plus_r18_toy_pseudo.py'))
    assert toy.model.backbone == toy_deeplab.model.backbone
    assert toy.train_dataloader == toy_deeplab.train_dataloader
    for cfg, size in ((voc, 64), (toy, 48)):
        for head, weight in (('decode_head', 1.0), ('auxiliary_head', 0.4)):
            assert cfg.model[head].loss_decode == dict(
                type='mmhfpl.PretendedUnderFittingLoss', beta=0.5, k=0.5, loss_weight=weight)
        with DefaultScope.overwrite_default_scope('mmseg'):
            from mmseg.registry import MODELS
            from mmseg.structures import SegDataSample

            cfg.model.backbone.pop('init_cfg', None)  # no weights in tests
            cfg.model.data_preprocessor.size = (size, size)
            model = revert_sync_batchnorm(MODELS.build(cfg.model)).train()
            generator = torch.Generator().manual_seed(0)
            samples = []
            for _ in range(2):
                sample = SegDataSample()
                sample.gt_sem_seg = PixelData(data=torch.randint(
                    0, cfg.model.decode_head.num_classes, (1, size, size), generator=generator))
                sample.set_metainfo(dict(img_shape=(size, size), ori_shape=(size, size),
                                         pad_shape=(size, size)))
                samples.append(sample)
            inputs = [torch.randint(0, 256, (3, size, size), generator=generator,
                                    dtype=torch.uint8) for _ in range(2)]
            data = model.data_preprocessor(dict(inputs=inputs, data_samples=samples), True)
            losses = model(**data, mode='loss')
        total = losses['decode.loss_ce'] + losses['aux.loss_ce']
        assert torch.isfinite(total) and total.item() > 0
        total.backward()


def test_toy_pspnet_trains_and_tests_with_pmms_tta_through_the_tools(tmp_path, toy_root):
    import json
    import sys

    from tests.conftest import as_cli, run_tool

    config = str(REPO / 'configs/pmm/pspnet_r18_toy_pseudo.py')
    options = {
        'train_dataloader.dataset.data_prefix.seg_map_path': f'{toy_root}/SegmentationClass',
        'train_cfg.max_iters': 2, 'train_cfg.val_interval': 2, 'param_scheduler.0.end': 2,
        'default_hooks.checkpoint.interval': 2, 'train_dataloader.batch_size': 2}
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        options[f'{loader}.dataset.data_root'] = toy_root
        options[f'{loader}.num_workers'] = 0
        options[f'{loader}.persistent_workers'] = False
    work = tmp_path / 'work'
    run_tool([sys.executable, 'tools/train.py', config, '--work-dir', str(work),
              *as_cli(options)])
    out = tmp_path / 'metrics.json'
    result = run_tool([sys.executable, 'tools/test.py', config, str(work / 'iter_2.pth'),
                       '--tta', '--work-dir', str(tmp_path / 'test'), '--out', str(out),
                       *as_cli(options)])
    # The logged config: the TTA model wraps the segmentor (without --tta, model is PSPNet's).
    assert "module=dict(" in result.stdout + result.stderr
    metrics = json.loads(out.read_text())
    assert 0.0 <= metrics['mIoU'] <= 100.0 and 0.0 <= metrics['F'] <= 100.0
    # PMM's cyclic step (README "PMM"): the trained model's TTA + dCRF predictions of the
    # training images become the next run's masks.
    cyclic = tmp_path / 'cyclic'
    run_tool([sys.executable, 'tools/test.py', config, str(work / 'iter_2.pth'), '--tta',
              '--work-dir', str(tmp_path / 'predict'), *as_cli({
                  **options,
                  'test_dataloader.dataset.ann_file': 'ImageSets/Segmentation/train.txt',
                  'test_evaluator.type': 'IoUMetric', 'test_evaluator.format_only': True,
                  'test_evaluator.output_dir': str(cyclic)})])
    ids = (Path(toy_root) / 'ImageSets/Segmentation/train.txt').read_text().split()
    assert sorted(p.stem for p in cyclic.glob('*.png')) == sorted(ids)
    from mmhfpl.structures import load_label_png
    assert load_label_png(cyclic / f'{ids[0]}.png').shape == (128, 128)


def _scalenet_structure(path: Path, depth_blocks: int = 33) -> str:
    """A made-up ScaleNet structure (the authors' file is not available): per block, the
    3x3 width split 1/2, 1/4, 1/8, 1/8 over the four scales of a 56-pixel map."""
    entries = []
    for planes, count in zip((64, 128, 256, 512), (3, 4, 23, 3), strict=True):
        entries += [[planes // 2, planes // 4, planes // 8, planes // 8, 56]] * count
    assert len(entries) == depth_blocks
    path.write_text(json.dumps(entries))
    return str(path)


def test_pmm_multicrop_voc_configs_build_scalenet101_seam_and_train_a_step(tmp_path):
    import torch
    from mmengine.registry import DefaultScope
    from mmpretrain.structures import DataSample

    from mmhfpl.registry import MODELS

    base = Config.fromfile(str(REPO / 'configs/pmm/pmm_multicrop_scalenet101_voc.py'))
    hfpl = Config.fromfile(str(REPO / 'configs/pmm/pmm_multicrop_hfpl_scalenet101_voc.py'))
    for cfg in (base, hfpl):
        assert cfg.train_dataloader.batch_size == 16 and cfg.train_cfg.max_epochs == 20
        assert cfg.optim_wrapper.optimizer.lr == 0.02 and cfg.model.cam_dropout == 0.0
        crop = cfg.train_dataloader.dataset.pipeline[1]
        assert crop.type == 'HeatmapGuidedCrop' and (crop.crop_size, crop.stride) == (448, 300)
        backbone = cfg.model.backbone
        assert (backbone.type, backbone.depth, backbone.out_indices) == ('ScaleNet', 101,
                                                                         (1, 2, 3))
        assert backbone.init_cfg.checkpoint == 'checkpoints/scalenet101.pth'
    assert hfpl.train_dataloader.dataset.pipeline[1].heat_dir != base.train_dataloader.dataset \
        .pipeline[1].heat_dir
    assert {loss.type for loss in hfpl.model.head.losses} == {'GAPBCELoss',
                                                              'FeatureSimilarityLoss'}
    # Apart from the heat maps and the losses, the two stay the same recipe.
    for key in ('optim_wrapper', 'param_scheduler', 'train_cfg'):
        assert hfpl[key] == base[key]
    cfg = base
    cfg.model.backbone.structure = _scalenet_structure(tmp_path / 'scalenet101.json')
    cfg.model.backbone.pop('init_cfg')
    with DefaultScope.overwrite_default_scope('mmhfpl'):
        torch.manual_seed(0)
        model = MODELS.build(cfg.model)
        model.init_weights()
        model.train()
        inputs = [torch.randint(0, 256, (3, 64, 64), dtype=torch.uint8) for _ in range(2)]
        samples = [DataSample().set_gt_label(torch.tensor(labels, dtype=torch.long))
                   for labels in ([3, 7], [])]  # a window may show no class
        data = model.data_preprocessor(dict(inputs=inputs, data_samples=samples), True)
        losses = model(**data, mode='loss')
    total = sum(value for key, value in losses.items() if key.startswith('loss'))
    assert torch.isfinite(total)
    total.backward()
    assert model.backbone.layer2[0].conv1.weight.grad is not None
    assert model.backbone.layer1[0].conv1.weight.grad is None  # stage 1 fixed, as PMM


@pytest.mark.slow
def test_toy_multicrop_stage_through_the_tools(tmp_path, toy_root):
    """Heat maps (dCRF of (1 - max CAM)^24, posterior > 0.9) of CAMs, multi-crop training
    on them, multi-crop CAMs, PMM's pseudo-masks."""
    import sys

    from mmhfpl.pseudo_labels import BackgroundRule, make_pseudo_labels
    from mmhfpl.pseudo_labels.crf import CRFConfig
    from mmhfpl.structures import load_cam_file, load_label_png
    from tests.conftest import as_cli, run_tool, tiny_options, write_gt_cams

    ids = write_gt_cams(toy_root, tmp_path / 'gt_cams')
    heat = tmp_path / 'heat'
    config = str(REPO / 'configs/pmm/pmm_multicrop_r18_toy.py')
    seg_list = {'test_dataloader.dataset.ann_file': 'ImageSets/Segmentation/train.txt'}
    run_tool([sys.executable, 'tools/make_pseudo_labels.py', config, '--cams',
              str(tmp_path / 'gt_cams'), '--out-dir', str(heat), '--alpha', '24', '--crf',
              '--crf-scale-factor', '4', '--min-confidence', '0.9',
              *as_cli({**tiny_options(toy_root), **seg_list})])
    maps = [load_label_png(heat / f'{i}.png') for i in ids]
    assert any((m == 255).any() for m in maps) and any(((m > 0) & (m < 255)).any()
                                                        for m in maps)
    options = {**tiny_options(toy_root, max_iters=2, interval=2),
               'train_dataloader.dataset.pipeline.1.heat_dir': str(heat)}
    work = tmp_path / 'work'
    run_tool([sys.executable, 'tools/train.py', config, '--work-dir', str(work),
              *as_cli(options)])
    cams = tmp_path / 'cams'
    run_tool([sys.executable, 'tools/generate_cams.py', config, str(work / 'iter_2.pth'),
              '--out-dir', str(cams), '--crop-size', '112', '--crop-stride', '75',
              '--scales', '1', '2', *as_cli(tiny_options(toy_root))])
    val = (Path(toy_root) / 'ImageSets/Segmentation/val.txt').read_text().split()
    record = load_cam_file(cams / f'{val[0]}.npz')
    assert record.cams.shape[1:] == (128, 128) and record.cams.max() <= 1.0
    counts = make_pseudo_labels(str(cams), val, str(tmp_path / 'ppg'),
                                BackgroundRule(ppg_alpha=11),
                                image_dir=str(Path(toy_root) / 'JPEGImages'),
                                crf=CRFConfig(gaussian_compat=10, scale_factor=4.0),
                                progress=False)
    assert counts['written'] == len(val)
