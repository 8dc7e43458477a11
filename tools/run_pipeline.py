"""Run the whole WSSS pipeline on the toy benchmark: baseline vs +ISL/FSL.

Examples:
    python tools/run_pipeline.py            # full demo (make demo), about 30-45 min on 2 cores
    python tools/run_pipeline.py --quick    # smoke run on a small toy set, a few minutes
    python tools/run_pipeline.py --refine affinitynet   # + AffinityNet rows (or irn)

Stages: toy data -> CAM models -> CAMs -> threshold sweep -> pseudo-labels (+dCRF) ->
DeepLab -> table (J / F / J&F) and an overlay figure. Finished steps are skipped on a re-run.

Steps, each skipped when its outputs exist (so an interrupted run resumes):

1. write the toy set if absent;
2. train the CAM baseline and the +ISL/FSL model (stage 1);
3. generate their multi-scale + flip CAMs on the training split;
4. sweep the background threshold on those CAMs and keep the best J;
5. make pseudo-labels at that threshold, without and with dCRF, and evaluate them;
6. optionally (``refine='affinitynet'|'irn'``) train the refinement network on each model's
   CAMs and write refined pseudo-labels, without and with dCRF;
7. train DeepLab on each model's dCRF pseudo-labels (and on the refined ones) and evaluate
   it on val (stage 3);
8. print one table and save a figure of CAM and pseudo-label overlays.

Every stage runs through mmengine's ``Runner`` with the repository configs, so the demo
exercises exactly what a user runs with ``tools/``.
"""


import argparse
import copy
import json
import os
import os.path as osp
import sys
import time
from dataclasses import asdict, dataclass, field

import numpy as np
import torch
from mmengine.config import Config
from mmengine.logging import print_log
from mmengine.registry import init_default_scope
from mmengine.runner import Runner, load_checkpoint

from mmhfpl.models.refine import refine_labels, refine_pipeline
from mmhfpl.pseudo_labels import (
    BackgroundRule,
    cam_tta_pipeline,
    evaluate_cams,
    evaluate_label_dir,
    generate_cams,
    make_pseudo_labels,
    tta_record,
)
from mmhfpl.pseudo_labels.crf import CRFConfig
from mmhfpl.pseudo_labels.dataset_access import build_split, id_gt_pairs
from mmhfpl.pseudo_labels.make_labels import record_to_label
from mmhfpl.registry import MODELS
from mmhfpl.structures import VOID, load_label_png
from mmhfpl.utils import get_config_path, merge_cfg_options, register_all_modules

# The toy generator is a tool too (tools/dataset_converters/make_toy_voc.py).
sys.path.insert(0, osp.join(osp.dirname(osp.abspath(__file__)), 'dataset_converters'))
from make_toy_voc import ToyVOCConfig, make_toy_voc  # noqa: E402

VARIANTS = {'baseline': 'cam/cam_r18_toy.py',
            '+ISL/FSL': 'cam/cam_hfpl_r18_toy.py'}
DEEPLAB_CONFIG = 'deeplab/deeplabv3plus_r18_toy_pseudo.py'
REFINE_CONFIGS = {'affinitynet': 'refine/affinitynet_r18_toy.py',
                  'irn': 'refine/irn_r18_toy.py'}
REFINE_NAMES = {'affinitynet': 'AffinityNet', 'irn': 'IRN'}
BG_THRESHOLDS = (0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5)
# SEAM's dCRF widths (Gaussian sxy 3, bilateral sxy 80) are meant for ~500-pixel VOC images;
# toy images are 128 pixels, so the spatial widths are divided by 4. Measured on 120 toy val
# images (+ISL/FSL CAMs, bg 0.4): no CRF J 54.8 / F 31.9, SEAM widths 54.5 / 54.6, /4: 61.4 / 62.6.
TOY_CRF = CRFConfig(scale_factor=4.0)


@dataclass
class PipelineSettings:
    """What the pipeline runs; ``quick`` shrinks data and schedules for a smoke run.

    Attributes:
        work_dir: Where every step writes (one sub-directory per step and variant).
        data_root: The toy set (written there when absent).
        quick: Small toy set, short schedules, two CAM scales.
        seed: Random seed of the training runs.
        workers: Processes for dCRF.
        toy: Generator parameters of the toy set.
        cam_iters: Stage-1 iterations.
        deeplab_iters: Stage-3 iterations (None: the config's schedule).
        cam_scales: CAM test-time scales.
        refine: Refinement method after the CAMs (``'affinitynet'``, ``'irn'`` or None).
        refine_iters: Iterations of the refinement network's training.
    """

    work_dir: str = 'work_dirs/pipeline'
    data_root: str = 'data/toy_voc'
    quick: bool = False
    seed: int = 0
    workers: int = 2
    toy: ToyVOCConfig = field(default_factory=ToyVOCConfig)
    cam_iters: int = 300
    deeplab_iters: int | None = None
    cam_scales: tuple[float, ...] = (1.0, 0.5, 1.5, 2.0)
    refine: str | None = None
    refine_iters: int = 300

    def __post_init__(self) -> None:
        if self.refine is not None and self.refine not in REFINE_CONFIGS:
            raise ValueError(f'refine must be one of {sorted(REFINE_CONFIGS)} or None, got '
                             f'{self.refine!r}')

    @classmethod
    def quick_settings(cls, work_dir: str = 'work_dirs/pipeline_quick',
                       data_root: str = 'data/toy_voc_quick') -> 'PipelineSettings':
        return cls(work_dir=work_dir, data_root=data_root, quick=True,
                   toy=ToyVOCConfig(num_train=120, num_val=40), cam_iters=60,
                   deeplab_iters=60, cam_scales=(1.0, 0.5), refine_iters=40)


def _log(message: str) -> None:
    print_log(f'[pipeline] {message}', logger='current')


def _config(path: str, settings: PipelineSettings, work_dir: str) -> Config:
    cfg = Config.fromfile(get_config_path(path))
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        if cfg.get(loader) is not None:
            cfg[loader].dataset.data_root = settings.data_root
    cfg.work_dir = work_dir
    cfg.randomness = dict(seed=settings.seed)
    # Unique per step; mmengine appends a timestamp.
    cfg.experiment_name = '_'.join(osp.normpath(work_dir).split(os.sep)[-2:])
    return cfg


def _set_iters(cfg: Config, iters: int) -> None:
    cfg.train_cfg.max_iters = iters
    if cfg.get('val_cfg') is not None:
        cfg.train_cfg.val_interval = iters
    for scheduler in cfg.param_scheduler:
        scheduler['end'] = iters
    cfg.default_hooks.checkpoint.interval = iters


def _final_checkpoint(work_dir: str, iters: int) -> str:
    return osp.join(work_dir, f'iter_{iters}.pth')


def _train(cfg: Config) -> Runner:
    """Train ``cfg``, resuming from its work dir's last checkpoint if a run was cut short."""
    cfg.resume = osp.isfile(osp.join(cfg.work_dir, 'last_checkpoint'))
    if cfg.resume:
        _log(f'resuming the interrupted run in {cfg.work_dir}')
    runner = Runner.from_cfg(cfg)
    runner.train()
    return runner


def train_cam_model(name: str, settings: PipelineSettings) -> tuple[Config, str]:
    """Stage 1 for one variant; returns its config and final checkpoint."""
    work_dir = osp.join(settings.work_dir, 'stage1', _slug(name))
    cfg = _config(VARIANTS[name], settings, work_dir)
    _set_iters(cfg, settings.cam_iters)
    checkpoint = _final_checkpoint(work_dir, settings.cam_iters)
    if osp.exists(checkpoint):
        _log(f'{name}: stage-1 checkpoint present, skipping training')
    else:
        _log(f'{name}: training the CAM model ({settings.cam_iters} iterations)')
        _train(cfg)
    return cfg, checkpoint


def _load_model(cfg: Config, checkpoint: str) -> torch.nn.Module:
    init_default_scope('mmhfpl')
    model = MODELS.build(copy.deepcopy(cfg.model))
    load_checkpoint(model, checkpoint, map_location='cpu', logger='silent')
    return model.eval()


def _slug(name: str) -> str:
    return name.strip('+').replace('/', '_').lower()


def pseudo_labels_for(name: str, cfg: Config, checkpoint: str,
                      settings: PipelineSettings) -> dict:
    """Stage 2 for one variant: CAMs, threshold sweep, pseudo-labels (+dCRF), scores."""
    root = osp.join(settings.work_dir, 'stage2', _slug(name))
    train_list = 'ImageSets/Segmentation/train.txt'
    dataset = build_split(cfg, train_list, cam_tta_pipeline(settings.cam_scales, flip=True))
    model = _load_model(cfg, checkpoint)
    _log(f'{name}: CAMs of {len(dataset)} training images')
    generate_cams(model, dataset, osp.join(root, 'cams'), model.head.num_classes)
    samples = id_gt_pairs(build_split(cfg, train_list))
    num_classes = len(dataset.metainfo['classes'])
    sweep_path = osp.join(root, 'sweep.json')
    if not osp.exists(sweep_path):
        rules = [BackgroundRule(bg_threshold=t) for t in BG_THRESHOLDS]
        scores = evaluate_cams(osp.join(root, 'cams'), samples, num_classes, rules)
        with open(sweep_path, 'w') as handle:
            json.dump([dict(bg_threshold=t, J=s['J'], F=s['F'], JF=s['J&F'])
                       for t, s in zip(BG_THRESHOLDS, scores, strict=True)], handle, indent=2)
    with open(sweep_path) as handle:
        sweep = json.load(handle)
    best = max(sweep, key=lambda row: row['J'])
    _log(f'{name}: best background threshold {best["bg_threshold"]} (J {best["J"]:.2f})')
    rule = BackgroundRule(bg_threshold=best['bg_threshold'])
    ids = [sample_id for sample_id, _ in samples]
    image_dir = osp.join(settings.data_root, 'JPEGImages')
    result = dict(threshold=best['bg_threshold'], cam=best)
    for tag, crf in (('pl', None), ('pl_crf', TOY_CRF)):
        label_dir = osp.join(root, tag)
        make_pseudo_labels(osp.join(root, 'cams'), ids, label_dir, rule, image_dir=image_dir,
                           crf=crf, num_workers=settings.workers)
        result[tag] = evaluate_label_dir(label_dir, samples, num_classes)
        result[f'{tag}_dir'] = label_dir
    return result


def refine_for(name: str, checkpoint: str, cam_dir: str, settings: PipelineSettings) -> dict:
    """Refinement for one variant: train AffinityNet / IRN on its CAMs, write and score labels.

    The refinement network's backbone starts from the variant's stage-1 checkpoint and its
    seed labels come from the variant's CAMs (cached per variant).
    """
    method = settings.refine
    work_dir = osp.join(settings.work_dir, 'refine', _slug(name), method)
    cfg = _config(REFINE_CONFIGS[method], settings, work_dir)
    cfg.model.backbone.init_cfg.checkpoint = osp.abspath(checkpoint)
    seed_step = 'AlphaSeedLabels' if method == 'affinitynet' else 'ThresholdSeedLabels'
    merge_cfg_options(cfg, {
        'train_dataloader.dataset.pipeline.LoadCAMFromFile.cam_dir': osp.abspath(cam_dir),
        f'train_dataloader.dataset.pipeline.{seed_step}.cache_dir': osp.join(work_dir, 'seeds'),
    })
    _set_iters(cfg, settings.refine_iters)
    final = _final_checkpoint(work_dir, settings.refine_iters)
    if osp.exists(final):
        _log(f'{name}: {REFINE_NAMES[method]} checkpoint present, skipping training')
    else:
        _log(f'{name}: training {REFINE_NAMES[method]} ({settings.refine_iters} iterations)')
        _train(cfg)
    model = _load_model(cfg, final)
    train_list = 'ImageSets/Segmentation/train.txt'
    dataset = build_split(cfg, train_list, refine_pipeline(osp.abspath(cam_dir)))
    samples = id_gt_pairs(build_split(cfg, train_list))
    num_classes = len(dataset.metainfo['classes'])
    result = {}
    for tag, crf in (('pl', None), ('pl_crf', TOY_CRF)):
        label_dir = osp.join(work_dir, tag)
        refine_labels(model, dataset, label_dir, crf=crf)
        result[tag] = evaluate_label_dir(label_dir, samples, num_classes)
        result[f'{tag}_dir'] = label_dir
    return result


def train_deeplab(name: str, label_dir: str, settings: PipelineSettings) -> dict:
    """Stage 3 for one variant: DeepLab on its dCRF pseudo-labels, scored on val GT."""
    work_dir = osp.join(settings.work_dir, 'stage3', _slug(name))
    cfg = _config(DEEPLAB_CONFIG, settings, work_dir)
    cfg.train_dataloader.dataset.data_prefix = dict(
        img_path='JPEGImages', seg_map_path=osp.abspath(label_dir))
    if settings.deeplab_iters is not None:
        _set_iters(cfg, settings.deeplab_iters)
    # No validation inside training (IterBasedTrainLoop would also validate at the last
    # iteration): one validation below, whose metrics are kept.
    cfg.train_cfg.val_begin = cfg.train_cfg.max_iters + 1
    metrics_path = osp.join(work_dir, 'val_metrics.json')
    if not osp.exists(metrics_path):
        _log(f'{name}: training DeepLab on {label_dir}')
        runner = _train(cfg)
        metrics = runner.val_loop.run()
        with open(metrics_path, 'w') as handle:
            json.dump({k: float(v) for k, v in metrics.items()}, handle, indent=2)
    with open(metrics_path) as handle:
        metrics = json.load(handle)
    return dict(J=metrics['mIoU'], F=metrics['F'], **{'J&F': metrics['J&F']})


def results_table(results: dict) -> str:
    """Each variant (and its refinement): pseudo-label and final J / F / J&F (percent)."""
    rows = []
    for name, res in results.items():
        rows.append((name, res))
        if 'refine' in res:
            rows.append((f'{name}+{res["refine"]["method"]}', res['refine']))
    width = max([10] + [len(label) for label, _ in rows])
    header = (f'{"":{width}} | {"pseudo-labels (train)":^23} | {"+ dCRF (train)":^23} | '
              f'{"DeepLab (val)":^23}\n{"method":{width}} | ' + ' | '.join(
                  [f'{"J":>7}{"F":>8}{"J&F":>8}'] * 3))
    lines = [header, '-' * len(header.splitlines()[1])]
    for label, row in rows:
        cells = [row['pl'], row['pl_crf'], row['deeplab']]
        lines.append(f'{label:{width}} | ' + ' | '.join(
            f'{c["J"]:7.2f}{c["F"]:8.2f}{c["J&F"]:8.2f}' for c in cells))
    return '\n'.join(lines)


def save_figure(models: dict, settings: PipelineSettings, path: str, num_images: int = 4) -> None:
    """CAM and pseudo-label overlays of a few validation images, one row per image."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    first_cfg = next(iter(models.values()))[0]
    dataset = build_split(first_cfg, 'ImageSets/Segmentation/val.txt',
                          cam_tta_pipeline(settings.cam_scales, flip=True))
    picks = [i for i in range(len(dataset)) if len(dataset.get_data_info(i)['gt_label'])]
    picks = picks[:num_images]
    classes = dataset.metainfo['classes']
    palette = np.zeros((256, 3))
    palette[:len(classes)] = np.asarray(dataset.metainfo['palette'][:len(classes)]) / 255.0
    palette[VOID] = 1.0  # void drawn white
    columns = 2 + 2 * len(models)
    fig, axes = plt.subplots(len(picks), columns, figsize=(2.2 * columns, 2.2 * len(picks) + 0.6),
                             squeeze=False)
    loaded = {name: (_load_model(cfg, ckpt), res) for name, (cfg, ckpt, res) in models.items()}
    for row, index in enumerate(picks):
        info = dataset.get_data_info(index)
        views = dataset[index]
        image = views['inputs'][0].numpy()[::-1].transpose(1, 2, 0)  # BGR view -> RGB
        gt = load_label_png(info['seg_map_path'])
        panels = [(image, 'image'), (palette[gt], 'GT')]
        for name, (model, res) in loaded.items():
            record = tta_record(model, views, model.head.num_classes, info['gt_label'])
            heat = record.cams.max(axis=0) if len(record.labels) else np.zeros(gt.shape)
            label = record_to_label(record, BackgroundRule(bg_threshold=res['threshold']),
                                    np.ascontiguousarray(image), TOY_CRF)
            panels.append((heat, f'{name} CAM'))
            panels.append((0.5 * image / 255.0 + 0.5 * palette[label], f'{name} PL+CRF'))
        for col, (panel, title) in enumerate(panels):
            ax = axes[row, col]
            if panel.ndim == 2:
                ax.imshow(image)
                ax.imshow(panel, cmap='jet', alpha=0.5, vmin=0, vmax=1)
            else:
                ax.imshow(panel)
            ax.set_title(title if row == 0 else '', fontsize=8)
            ax.axis('off')
    handles = [Patch(facecolor=palette[index], edgecolor='grey', label=name)
               for index, name in enumerate(classes)]
    handles.append(Patch(facecolor=palette[VOID], edgecolor='grey', label='void (not scored)'))
    fig.legend(handles=handles, loc='lower center', ncol=min(len(handles), 8), fontsize=7,
               frameon=False)
    fig.tight_layout(rect=(0, 0.6 / (2.2 * len(picks) + 0.6), 1, 1))
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _ensure_toy_set(settings: PipelineSettings) -> None:
    """Write the toy set unless ``data_root`` holds one made with the same parameters."""
    meta_path = osp.join(settings.data_root, 'toy_meta.json')
    wanted = json.loads(json.dumps(asdict(settings.toy)))
    if not osp.exists(meta_path):
        _log(f'writing the toy set (style {settings.toy.style}) to {settings.data_root}')
        make_toy_voc(settings.data_root, settings.toy)
        return
    with open(meta_path) as handle:
        found = json.load(handle).get('generator', {})
    if found != wanted:
        changed = sorted(key for key in wanted if found.get(key) != wanted[key])
        raise ValueError(
            f'{settings.data_root} holds a toy set made with other generator parameters '
            f'({", ".join(f"{k}: {found.get(k)!r} there, {wanted[k]!r} here" for k in changed)}'
            '); pass another --data-root or delete that directory')


def run_pipeline(settings: PipelineSettings) -> dict:
    """Run every step (skipping finished ones); return the results and print the table."""
    start = time.time()
    _ensure_toy_set(settings)
    models, results = {}, {}
    for name in VARIANTS:
        cfg, checkpoint = train_cam_model(name, settings)
        result = pseudo_labels_for(name, cfg, checkpoint, settings)
        result['deeplab'] = train_deeplab(name, result['pl_crf_dir'], settings)
        if settings.refine is not None:
            refined = refine_for(name, checkpoint, osp.join(
                settings.work_dir, 'stage2', _slug(name), 'cams'), settings)
            refined['method'] = REFINE_NAMES[settings.refine]
            refined['deeplab'] = train_deeplab(f'{name}_{settings.refine}',
                                               refined['pl_crf_dir'], settings)
            result['refine'] = refined
        models[name] = (cfg, checkpoint, result)
        results[name] = result
    table = results_table(results)
    figure = osp.join(settings.work_dir, 'overlays.png')
    save_figure(models, settings, figure)
    summary = {name: {k: res[k] for k in ('threshold', 'pl', 'pl_crf', 'deeplab', 'refine')
                      if k in res}
               for name, res in results.items()}
    with open(osp.join(settings.work_dir, 'results.json'), 'w') as handle:
        json.dump(summary, handle, indent=2, default=lambda v: np.asarray(v).tolist())
    print(f'\n{table}\n\nfigure: {figure}\ntotal time: {time.time() - start:.0f} s')
    return dict(results=results, table=table, figure=figure)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--quick', action='store_true', help='small data, short schedules')
    parser.add_argument('--work-dir', help='output directory')
    parser.add_argument('--data-root', help='toy set location (written when absent)')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--workers', type=int, default=2, help='dCRF processes')
    parser.add_argument('--refine', choices=['affinitynet', 'irn'],
                        help='also refine the CAMs with AffinityNet or IRN (extra table rows)')
    args = parser.parse_args()
    register_all_modules(init_default_scope=False)
    settings = PipelineSettings.quick_settings() if args.quick else PipelineSettings()
    if args.work_dir:
        settings.work_dir = args.work_dir
    if args.data_root:
        settings.data_root = args.data_root
    settings.seed = args.seed
    settings.workers = args.workers
    settings.refine = args.refine
    run_pipeline(settings)


if __name__ == '__main__':
    main()
