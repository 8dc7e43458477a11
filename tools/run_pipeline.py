"""Run the WSSS pipeline on the toy benchmark: methods with and without ISL/FSL, k seeds.

Examples:
    python tools/run_pipeline.py            # the demo (make demo): CAM baseline vs +ISL/FSL,
                                            # seed 0, with its table and overlay figure
    python tools/run_pipeline.py --quick    # smoke run: tiny set and schedules (checks the
                                            # chain; its numbers are not results)
    python tools/run_pipeline.py --methods cam seam spatial_bce --seeds 0 1 2 --refine \\
        --work-dir work_dirs/benchmark_toy_v2   # the benchmark (README "Benchmark protocol")
    python tools/run_pipeline.py --methods sipe mctformer --seeds 0 1 2 --refine \\
        --work-dir work_dirs/benchmark_toy_v2   # adds SIPE and MCTformer to the work dir
    python tools/run_pipeline.py --methods seam pmm --seeds 0 --work-dir \\
        work_dirs/benchmark_toy_v2   # PMM: SEAM's stage 1, PPG masks, PSPNet with PUF

Steps, per seed and variant, each skipped when its outputs exist (an interrupted run resumes,
training steps from their last checkpoint):

1. write the toy set if absent (a data root made with other generator parameters is an error);
2. train the stage-1 model (Spatial-BCE starts from the same seed's CAM baseline: its backbone
   and the initial Q of its dCRF pseudo-labels, as the authors' recipe);
3. generate multi-scale + flip CAMs of the training split;
4. sweep the background threshold (``BG_THRESHOLDS``, the same for every method) on them and
   keep the best J; a best value at the edge of the grid is flagged; Spatial-BCE also gets its
   adaptive Eq. 9 labels, SIPE its labels of the IS-CAM background and PMM its proportional
   pseudo-masks (a dCRF per class), without any sweep;
5. pseudo-labels at that threshold without and with dCRF;
6. with ``--refine``: the refinement network of the method's paper (IRN for the CAM baseline,
   Spatial-BCE and SIPE, AffinityNet for SEAM and MCTformer; PMM has none) trained on the
   variant's CAMs, and its labels;
7. DeepLab on the variant's best training labels (highest J of +dCRF, refinement, the
   method's own labels + dCRF), for the seeds in ``--deeplab-seeds`` (default: the first
   seed), scored on val. PMM instead trains its own stage 3, PSPNet with the pretended
   under-fitting loss, on its proportional pseudo-masks, as its paper does;
8. one table (mean ± std over the seeds), ``results.json`` and a figure of CAM and
   pseudo-label overlays.

Every stage runs through mmengine's ``Runner`` with the repository configs, so the pipeline
exercises what a user runs with ``tools/``. A work dir remembers its settings; reusing it
with other settings is an error.
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
    ratios_from_label_dir,
    save_q_file,
    tta_record,
)
from mmhfpl.pseudo_labels.crf import CRFConfig
from mmhfpl.pseudo_labels.dataset_access import build_split, id_gt_pairs
from mmhfpl.pseudo_labels.make_labels import ADAPTIVE_CRF_KERNELS, record_to_label
from mmhfpl.pseudo_labels.proportional_masks import PMM_CRF
from mmhfpl.registry import MODELS
from mmhfpl.structures import VOID, atomic_save, load_label_png
from mmhfpl.utils import get_config_path, merge_cfg_options, register_all_modules

# The toy generator and the k-seed statistics are tools too.
_TOOLS = osp.dirname(osp.abspath(__file__))
sys.path[:0] = [osp.join(_TOOLS, 'dataset_converters'), osp.join(_TOOLS, 'analysis_tools')]
from kseed_stats import summarize  # noqa: E402
from make_toy_voc import ToyVOCConfig, make_toy_voc  # noqa: E402

#: Version of the benchmark protocol (README "Benchmark protocol"); a change of protocol is a
#: new version.
PROTOCOL = 'toy-v2 protocol 2 (2026-12-03)'
#: Background thresholds of the sweep, the same for every method: 0.05 to 0.95.
BG_THRESHOLDS = tuple(round(0.05 * k, 2) for k in range(1, 20))
# SEAM's dCRF widths (Gaussian sxy 3, bilateral sxy 80) are meant for ~500-pixel VOC images;
# toy images are 128 pixels, so the spatial widths are divided by 4 (measured on the version-1
# toy: 120 val images, +ISL/FSL CAMs, bg 0.4: no CRF J 54.8 / F 31.9, SEAM widths 54.5 / 54.6,
# /4: 61.4 / 62.6).
TOY_CRF = CRFConfig(scale_factor=4.0)
#: The Spatial-BCE authors' label dCRF of Eq. 9 labels, widths divided as ``TOY_CRF``.
TOY_ADAPTIVE_CRF = CRFConfig(**ADAPTIVE_CRF_KERNELS, scale_factor=4.0)
#: PMM's per-class dCRF of proportional pseudo-masks, widths divided as ``TOY_CRF``.
TOY_PPG_CRF = CRFConfig(**{**asdict(PMM_CRF), 'scale_factor': 4.0})
DEEPLAB_CONFIG = 'deeplab/deeplabv3plus_r18_toy_pseudo.py'
REFINE_CONFIGS = {'affinitynet': 'refine/affinitynet_r18_toy.py',
                  'irn': 'refine/irn_r18_toy.py'}
REFINE_NAMES = {'affinitynet': 'AffinityNet', 'irn': 'IRN'}
#: Labels a method makes by its own rule, without a sweep: result key -> (table name, rule
#: name, rule, dCRF, whether labels without the dCRF exist). Spatial-BCE's Eq. 9 labels get
#: the authors' label dCRF; SIPE's labels of the IS-CAM background (its ``eval_cam.py``) the
#: dCRF every method gets; PMM's proportional pseudo-masks are made by a dCRF per class
#: (α = 11), so they have no version without one.
OWN_LABELS = {
    'eq9': ('Eq. 9', 'adaptive', BackgroundRule(adaptive=True), TOY_ADAPTIVE_CRF, True),
    'bgmap': ('IS-CAM bg', 'bg map', BackgroundRule(bg_scale=1.0), TOY_CRF, True),
    'ppg': ('PPG', 'PPG α 11', BackgroundRule(ppg_alpha=11.0), TOY_PPG_CRF, False),
}
TRAIN_LIST = 'ImageSets/Segmentation/train.txt'


@dataclass(frozen=True)
class Method:
    """A baseline of the benchmark and how its paper refines its CAMs.

    Attributes:
        name: Display name.
        configs: Stage-1 toy configs without and with ISL/FSL.
        refine: The refinement network of the method's paper (None: it has none).
        refine_options: Named ``--cfg-options`` of the refinement config, without and with
            ISL/FSL (the papers' seed and inference settings).
        refine_config: The refinement config (default: ``REFINE_CONFIGS[refine]``).
        own_labels: Key of :data:`OWN_LABELS`: labels by the method's own rule.
        spatial_bce: Starts from the CAM baseline and a Q file.
        refine_from_baseline: The refinement backbone starts from the same seed's CAM
            baseline instead of the method's own stage-1 network (a ViT for MCTformer; the
            toy's stand-in for the authors' ImageNet ResNet38d).
        stage1_of: Key of the method whose stage 1 (networks and CAMs, with and without
            ISL/FSL) this one shares instead of training its own (PMM: SEAM's).
        seg_config: The method's own stage-3 config, trained on its own labels + dCRF
            instead of DeepLab on the best labels (PMM: PSPNet with pretended under-fitting).
    """

    name: str
    configs: tuple[str, str]
    refine: str | None
    refine_options: tuple[dict, dict] = ({}, {})
    refine_config: str | None = None
    own_labels: str | None = None
    spatial_bce: bool = False
    refine_from_baseline: bool = False
    stage1_of: str | None = None
    seg_config: str | None = None


_SEEDS = 'train_dataloader.dataset.pipeline'
METHODS = {
    'cam': Method('CAM', ('cam/cam_r18_toy.py', 'cam/cam_hfpl_r18_toy.py'), 'irn'),
    # SEAM + ISL/FSL: AffinityNet background powers 1 / 24 instead of 4 / 24 (seed 000 §5.1).
    'seam': Method('SEAM', ('seam/seam_r18_toy.py', 'seam/seam_hfpl_r18_toy.py'),
                   'affinitynet', ({}, {f'{_SEEDS}.AlphaSeedLabels.alpha_low': 1})),
    # Spatial-BCE: IRN seeds at 0.60 / 0.25; semantic threshold 0.25, 0.40 with FSL (§5.1).
    'spatial_bce': Method(
        'Spatial-BCE', ('spatial_bce/spatial_bce_r18_toy.py',
                        'spatial_bce/spatial_bce_hfpl_r18_toy.py'), 'irn',
        ({f'{_SEEDS}.ThresholdSeedLabels.fg_threshold': 0.6,
          f'{_SEEDS}.ThresholdSeedLabels.bg_threshold': 0.25},
         {f'{_SEEDS}.ThresholdSeedLabels.fg_threshold': 0.6,
          f'{_SEEDS}.ThresholdSeedLabels.bg_threshold': 0.25,
          'model.test_cfg.bg_threshold': 0.4}),
        own_labels='eq9', spatial_bce=True),
    # SIPE: IRN with SIPE's seeds (IS-CAM background) and inference; no ISL/FSL change (§5.1).
    'sipe': Method('SIPE', ('sipe/sipe_r18_toy.py', 'sipe/sipe_hfpl_r18_toy.py'), 'irn',
                   refine_config='refine/irn_r18_sipe_toy.py', own_labels='bgmap'),
    # MCTformer-V2: AffinityNet with its seeds (alpha 1 / 12) and constant background 0.39.
    'mctformer': Method('MCTformer', ('mctformer/mctformer_v2_vit-t_toy.py',
                                      'mctformer/mctformer_v2_hfpl_vit-t_toy.py'),
                        'affinitynet', refine_config='refine/affinitynet_r18_mctformer_toy.py',
                        refine_from_baseline=True),
    # PMM: SEAM's stage 1 on the toy (PMM's stage 1 is SEAM with another batch size and
    # learning rate; the ScaleNet multi-crop stage is not reproduced), its proportional
    # pseudo-masks, and PSPNet with pretended under-fitting on them.
    'pmm': Method('PMM', ('seam/seam_r18_toy.py', 'seam/seam_hfpl_r18_toy.py'), None,
                  own_labels='ppg', stage1_of='seam', seg_config='pmm/pspnet_r18_toy_pseudo.py'),
}


@dataclass(frozen=True)
class Variant:
    """A method with (``hfpl``) or without the ISL/FSL add-on."""

    method: str
    hfpl: bool

    @property
    def name(self) -> str:
        return METHODS[self.method].name + ('+ISL/FSL' if self.hfpl else '')

    @property
    def slug(self) -> str:
        return self.method + ('_hfpl' if self.hfpl else '')

    @property
    def config(self) -> str:
        return METHODS[self.method].configs[self.hfpl]


@dataclass
class PipelineSettings:
    """What the pipeline runs; ``quick`` shrinks data and schedules for a smoke run.

    Attributes:
        work_dir: Where every step writes (``seed<k>/<variant>/...``).
        data_root: The toy set (written there when absent).
        quick: Small toy set, short schedules, two CAM scales: a smoke run.
        methods: Keys of :data:`METHODS`; each runs without and with ISL/FSL.
        seeds: Training seeds (each step of every variant runs once per seed).
        deeplab_seeds: Seeds whose best labels train DeepLab (None: the first seed).
        refine: Also run each method's refinement network.
        workers: Processes for dCRF.
        toy: Generator parameters of the toy set.
        cam_iters: Stage-1 iterations (None: each config's schedule).
        refine_iters: Refinement iterations (None: the config's schedule).
        deeplab_iters: Stage-3 iterations (None: the config's schedule).
        cam_scales: CAM test-time scales.
    """

    work_dir: str = 'work_dirs/pipeline_toy_v2'
    data_root: str = 'data/toy_voc_v2'
    quick: bool = False
    methods: tuple[str, ...] = ('cam', )
    seeds: tuple[int, ...] = (0, )
    deeplab_seeds: tuple[int, ...] | None = None
    refine: bool = False
    workers: int = 2
    toy: ToyVOCConfig = field(default_factory=ToyVOCConfig)
    cam_iters: int | None = None
    refine_iters: int | None = None
    deeplab_iters: int | None = None
    cam_scales: tuple[float, ...] = (1.0, 0.5, 1.5, 2.0)

    def __post_init__(self) -> None:
        unknown = sorted(set(self.methods) - set(METHODS))
        if unknown:
            raise ValueError(f'unknown methods {unknown}; choose from {sorted(METHODS)}')
        if not self.seeds or len(set(self.seeds)) != len(self.seeds):
            raise ValueError(f'seeds must be distinct and at least one, got {self.seeds}')
        if self.deeplab_seeds is None:
            self.deeplab_seeds = self.seeds[:1]
        if set(self.deeplab_seeds) - set(self.seeds):
            raise ValueError(f'deeplab_seeds {self.deeplab_seeds} must be among the seeds')

    @classmethod
    def quick_settings(cls, work_dir: str = 'work_dirs/pipeline_quick',
                       data_root: str = 'data/toy_voc_v2_quick') -> 'PipelineSettings':
        return cls(work_dir=work_dir, data_root=data_root, quick=True,
                   toy=ToyVOCConfig(num_train=64, num_val=24), cam_iters=40,
                   refine_iters=30, deeplab_iters=40, cam_scales=(1.0, 0.5))

    @property
    def variants(self) -> list[Variant]:
        return [Variant(method, hfpl) for method in self.methods for hfpl in (False, True)]

    def fingerprint(self) -> dict:
        """What makes two runs' results comparable (kept in the work dir)."""
        return json.loads(json.dumps(dict(
            protocol=PROTOCOL, data_root=osp.abspath(self.data_root), quick=self.quick,
            toy=asdict(self.toy), cam_iters=self.cam_iters, refine_iters=self.refine_iters,
            deeplab_iters=self.deeplab_iters, cam_scales=self.cam_scales)))


def _log(message: str) -> None:
    print_log(f'[pipeline] {message}', logger='current')


def _write_json(path: str, content) -> None:
    text = json.dumps(content, indent=2, default=lambda v: np.asarray(v).tolist())

    def write(tmp: str) -> None:
        with open(tmp, 'w') as handle:
            handle.write(text)

    atomic_save(write, path, '.json.tmp')


def _read_json(path: str):
    with open(path) as handle:
        return json.load(handle)


def _config(path: str, settings: PipelineSettings, work_dir: str, seed: int) -> Config:
    cfg = Config.fromfile(get_config_path(path))
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        if cfg.get(loader) is not None:
            cfg[loader].dataset.data_root = settings.data_root
    cfg.work_dir = work_dir
    cfg.randomness = dict(seed=seed)
    # Unique per step; mmengine appends a timestamp.
    cfg.experiment_name = '_'.join(osp.normpath(work_dir).split(os.sep)[-3:])
    return cfg


def _set_iters(cfg: Config, iters: int) -> int:
    """Shorten a schedule to ``iters`` (Spatial-BCE: three phases of ``iters // 3``)."""
    phased = [s for s in cfg.param_scheduler if s['type'].endswith('PhasePolyLR')]
    if phased:
        phase = max(2, iters // 3)
        iters = 3 * phase
        phased[0]['phase_iters'] = phase
        for hook in cfg.custom_hooks:
            if hook['type'].endswith('QUpdateHook'):
                hook['interval'] = phase
            if hook['type'].endswith('AlternatingPhaseHook'):
                hook['period'] = min(hook['period'], phase)
                hook['prob_iters'] = max(1, min(hook['prob_iters'], hook['period'] - 1))
    for scheduler in cfg.param_scheduler:
        if 'end' in scheduler:
            scheduler['end'] = iters
    cfg.train_cfg.max_iters = iters
    if cfg.get('val_cfg') is not None:
        cfg.train_cfg.val_interval = iters
    cfg.default_hooks.checkpoint.interval = iters
    return iters


def _train(cfg: Config) -> Runner:
    """Train ``cfg``, resuming from its work dir's last checkpoint if a run was cut short."""
    cfg.resume = osp.isfile(osp.join(cfg.work_dir, 'last_checkpoint'))
    if cfg.resume:
        _log(f'resuming the interrupted run in {cfg.work_dir}')
    runner = Runner.from_cfg(cfg)
    runner.train()
    return runner


def _train_once(cfg: Config, iters: int | None, what: str) -> str:
    """Train ``cfg`` unless its final checkpoint exists; return that checkpoint."""
    if iters is not None:
        iters = _set_iters(cfg, iters)
    final = osp.join(cfg.work_dir, f'iter_{cfg.train_cfg.max_iters}.pth')
    if osp.exists(final):  # checkpoints are written atomically: present means complete
        _log(f'{what}: checkpoint present, skipping training')
    else:
        _log(f'{what}: training ({cfg.train_cfg.max_iters} iterations)')
        _train(cfg)
    return final


def _load_model(cfg: Config, checkpoint: str) -> torch.nn.Module:
    init_default_scope('mmhfpl')
    model = MODELS.build(copy.deepcopy(cfg.model))
    load_checkpoint(model, checkpoint, map_location='cpu', logger='silent')
    return model.eval()


class Pipeline:
    """The steps of :mod:`run_pipeline` for given settings (module docstring)."""

    def __init__(self, settings: PipelineSettings) -> None:
        self.settings = settings
        self.samples: list[tuple[str, str]] | None = None
        self.num_classes = 0  # with background, set with ``samples``

    def root(self, seed: int, variant: Variant) -> str:
        return osp.join(self.settings.work_dir, f'seed{seed}', variant.slug)

    # --- stage 1 ---------------------------------------------------------------------
    def stage1(self, variant: Variant, seed: int) -> tuple[Config, str]:
        shared = METHODS[variant.method].stage1_of
        if shared is not None:
            return self.stage1(Variant(shared, variant.hfpl), seed)
        root = self.root(seed, variant)
        cfg = _config(variant.config, self.settings, osp.join(root, 'stage1'), seed)
        if METHODS[variant.method].spatial_bce:
            merge_cfg_options(cfg, self.spatial_bce_start(cfg, seed))
        checkpoint = _train_once(cfg, self.settings.cam_iters, f'{variant.name} seed {seed}')
        return cfg, checkpoint

    def spatial_bce_start(self, cfg: Config, seed: int) -> dict[str, str]:
        """Named options that start Spatial-BCE from the seed's CAM baseline: its backbone
        and the initial Q of its dCRF pseudo-labels (written once per seed)."""
        baseline = self.stage2(Variant('cam', False), seed)
        q_file = osp.join(self.settings.work_dir, f'seed{seed}', 'q_init.npz')
        if not osp.exists(q_file):
            ids = [sample_id for sample_id, _ in self._samples(cfg)]
            save_q_file(q_file, ratios_from_label_dir(baseline['pl_crf_dir'], ids,
                                                      cfg.model.head.num_classes))
        return {'model.backbone.init_cfg.checkpoint': baseline['checkpoint'],
                'custom_hooks.QUpdateHook.q_file': q_file}

    def _samples(self, cfg: Config) -> list[tuple[str, str]]:
        if self.samples is None:
            dataset = build_split(cfg, TRAIN_LIST)
            self.samples = id_gt_pairs(dataset)
            self.num_classes = len(dataset.metainfo['classes'])
        return self.samples

    # --- stage 2 ---------------------------------------------------------------------
    def stage2(self, variant: Variant, seed: int) -> dict:
        """CAMs, sweep, pseudo-labels (+dCRF), the method's own labels; cached."""
        root = self.root(seed, variant)
        done = osp.join(root, 'stage2.json')
        if osp.exists(done):
            return _read_json(done)
        start = time.time()
        shared = METHODS[variant.method].stage1_of
        if shared is not None:  # the shared method's CAMs and sweep, then the own labels
            base = self.stage2(Variant(shared, variant.hfpl), seed)
            result = {key: value for key, value in base.items()
                      if key.split('_')[0] not in OWN_LABELS}
            self._own_labels(self.stage1(variant, seed)[0], variant, root, result)
            result['seconds'] = time.time() - start
            _write_json(done, result)
            return result
        cfg, checkpoint = self.stage1(variant, seed)
        cam_dir = osp.join(root, 'cams')
        dataset = build_split(cfg, TRAIN_LIST,
                              cam_tta_pipeline(self.settings.cam_scales, flip=True))
        model = _load_model(cfg, checkpoint)
        _log(f'{variant.name} seed {seed}: CAMs of {len(dataset)} training images')
        generate_cams(model, dataset, cam_dir, model.head.num_classes)
        samples = self._samples(cfg)
        num_classes = self.num_classes
        _log(f'{variant.name} seed {seed}: background-threshold sweep')
        rules = [BackgroundRule(bg_threshold=t) for t in BG_THRESHOLDS]
        sweep = [dict(bg_threshold=t, **{k: s[k] for k in ('J', 'F', 'J&F')})
                 for t, s in zip(BG_THRESHOLDS, evaluate_cams(cam_dir, samples, num_classes,
                                                              rules), strict=True)]
        best = max(sweep, key=lambda row: row['J'])
        edge = best['bg_threshold'] in (BG_THRESHOLDS[0], BG_THRESHOLDS[-1])
        _log(f'{variant.name} seed {seed}: best background threshold {best["bg_threshold"]} '
             f'(J {best["J"]:.2f}){" AT THE EDGE OF THE GRID" if edge else ""}')
        result = dict(checkpoint=osp.abspath(checkpoint), cam_dir=osp.abspath(cam_dir),
                      threshold=best['bg_threshold'], threshold_at_edge=edge, sweep=sweep)
        self._labelings(cfg, root, result, [
            ('pl', BackgroundRule(bg_threshold=best['bg_threshold']), None),
            ('pl_crf', BackgroundRule(bg_threshold=best['bg_threshold']), TOY_CRF)])
        self._own_labels(cfg, variant, root, result)
        result['seconds'] = time.time() - start
        _write_json(done, result)
        return result

    def _own_labels(self, cfg: Config, variant: Variant, root: str, result: dict) -> None:
        """The labels of the method's own rule (:data:`OWN_LABELS`), into ``result``."""
        own = METHODS[variant.method].own_labels
        if own is not None:
            _, _, rule, crf, plain = OWN_LABELS[own]
            self._labelings(cfg, root, result,
                            [(own, rule, None)] * plain + [(f'{own}_crf', rule, crf)])

    def _labelings(self, cfg: Config, root: str, result: dict,
                   labelings: list[tuple[str, BackgroundRule, CRFConfig | None]]) -> None:
        """Write and score the training labels of each ``(tag, rule, dCRF)`` from the CAMs
        in ``result['cam_dir']``."""
        samples = self._samples(cfg)
        ids = [sample_id for sample_id, _ in samples]
        image_dir = osp.join(self.settings.data_root, 'JPEGImages')
        for tag, rule, crf in labelings:
            label_dir = osp.join(root, tag)
            make_pseudo_labels(result['cam_dir'], ids, label_dir, rule, image_dir=image_dir,
                               crf=crf, num_workers=self.settings.workers)
            result[tag] = evaluate_label_dir(label_dir, samples, self.num_classes,
                                             progress=False)
            result[f'{tag}_dir'] = osp.abspath(label_dir)

    # --- refinement ------------------------------------------------------------------
    def refine(self, variant: Variant, seed: int, stage2: dict) -> dict:
        """The method's refinement network on the variant's CAMs, and its labels; cached."""
        method = METHODS[variant.method]
        work_dir = osp.join(self.root(seed, variant), method.refine)
        done = osp.join(work_dir, 'refine.json')
        if osp.exists(done):
            return _read_json(done)
        start = time.time()
        cfg = _config(method.refine_config or REFINE_CONFIGS[method.refine], self.settings,
                      work_dir, seed)
        seed_step = next(t['type'] for t in cfg.train_dataloader.dataset.pipeline
                         if t['type'].endswith('SeedLabels'))
        backbone = (osp.abspath(self.stage1(Variant('cam', False), seed)[1])
                    if method.refine_from_baseline else stage2['checkpoint'])
        merge_cfg_options(cfg, {
            'model.backbone.init_cfg.checkpoint': backbone,
            f'{_SEEDS}.LoadCAMFromFile.cam_dir': stage2['cam_dir'],
            f'{_SEEDS}.{seed_step}.cache_dir': osp.join(work_dir, 'seeds'),
            **method.refine_options[variant.hfpl],
        })
        what = f'{variant.name} seed {seed}: {REFINE_NAMES[method.refine]}'
        final = _train_once(cfg, self.settings.refine_iters, what)
        model = _load_model(cfg, final)
        dataset = build_split(cfg, TRAIN_LIST, refine_pipeline(stage2['cam_dir']))
        label_dir = osp.join(work_dir, 'labels')
        _log(f'{what}: refined labels')
        refine_labels(model, dataset, label_dir)
        result = dict(method=REFINE_NAMES[method.refine], labels_dir=osp.abspath(label_dir),
                      labels=evaluate_label_dir(label_dir, self._samples(cfg),
                                                len(dataset.metainfo['classes']),
                                                progress=False),
                      seconds=time.time() - start)
        _write_json(done, result)
        return result

    # --- stage 3 ---------------------------------------------------------------------
    def deeplab(self, variant: Variant, seed: int, label_dir: str) -> dict:
        """DeepLab (or the method's own ``seg_config``) on ``label_dir``, scored on val GT;
        cached."""
        seg_config = METHODS[variant.method].seg_config
        work_dir = osp.join(self.root(seed, variant), 'seg' if seg_config else 'deeplab')
        done = osp.join(work_dir, 'val_metrics.json')
        if osp.exists(done):
            return _read_json(done)
        start = time.time()
        cfg = _config(seg_config or DEEPLAB_CONFIG, self.settings, work_dir, seed)
        cfg.train_dataloader.dataset.data_prefix = dict(img_path='JPEGImages',
                                                        seg_map_path=label_dir)
        if self.settings.deeplab_iters is not None:
            _set_iters(cfg, self.settings.deeplab_iters)
        # Checkpoints every quarter of the schedule (the newest kept), so an interrupted
        # DeepLab resumes where it stopped instead of at iteration 0.
        cfg.default_hooks.checkpoint.interval = max(1, cfg.train_cfg.max_iters // 4)
        cfg.default_hooks.checkpoint.max_keep_ckpts = 1
        # No validation inside training (IterBasedTrainLoop would also validate at the last
        # iteration): one validation below, whose metrics are kept.
        cfg.train_cfg.val_begin = cfg.train_cfg.max_iters + 1
        _log(f'{variant.name} seed {seed}: training {seg_config or "DeepLab"} on {label_dir}')
        runner = _train(cfg)
        metrics = runner.val_loop.run()
        # mAcc = 100 / classes: every pixel predicted as one class (background).
        constant = abs(float(metrics['mAcc']) * len(runner.val_dataloader.dataset.metainfo[
            'classes']) - 100.0) < 0.5
        result = dict(J=float(metrics['mIoU']), F=float(metrics['F']),
                      **{'J&F': float(metrics['J&F'])}, labels_dir=label_dir,
                      constant_prediction=constant, seconds=time.time() - start)
        _write_json(done, result)
        return result

    # --- one variant -----------------------------------------------------------------
    def run_variant(self, variant: Variant, seed: int) -> dict:
        stage2 = self.stage2(variant, seed)
        row = dict(threshold=stage2['threshold'], threshold_at_edge=stage2['threshold_at_edge'],
                   pl=stage2['pl'], pl_crf=stage2['pl_crf'],
                   seconds=stage2.get('seconds', 0.0))
        candidates = [(stage2['pl_crf']['J'], stage2['pl_crf_dir'], '+dCRF')]
        for own, (title, *_) in OWN_LABELS.items():
            if f'{own}_crf' in stage2:
                row[f'{own}_crf'] = stage2[f'{own}_crf']
                if own in stage2:
                    row[own] = stage2[own]
                candidates.append((stage2[f'{own}_crf']['J'], stage2[f'{own}_crf_dir'],
                                   f'{title} + dCRF'))
        method = METHODS[variant.method]
        if self.settings.refine and method.refine is not None:
            refined = self.refine(variant, seed, stage2)
            row['refine'] = refined['labels']
            row['refine_method'] = refined['method']
            row['seconds'] += refined['seconds']
            candidates.append((refined['labels']['J'], refined['labels_dir'], refined['method']))
        if seed in self.settings.deeplab_seeds:
            if method.seg_config is not None:  # the method's stage 3 on its own labels
                label_dir = stage2[f'{method.own_labels}_crf_dir']
                source = f'{OWN_LABELS[method.own_labels][0]} + dCRF'
            else:
                _, label_dir, source = max(candidates, key=lambda c: c[0])
            row['deeplab'] = self.deeplab(variant, seed, label_dir)
            row['deeplab_labels'] = source
            row['seconds'] += row['deeplab']['seconds']
        return row

    def run(self) -> dict:
        """Every variant for every seed; returns ``{variant name: {seed: row}}``."""
        results: dict[str, dict[int, dict]] = {}
        for seed in self.settings.seeds:
            for variant in self.settings.variants:
                results.setdefault(variant.name, {})[seed] = self.run_variant(variant, seed)
        return results


# --- reporting -------------------------------------------------------------------------
_COLUMNS = (('pl', 'CAM labels, no CRF'), ('pl_crf', '+ dCRF'), ('refine', '+ refinement'),
            ('deeplab', 'DeepLab (val)'))


def _cell(rows: list[dict], key: str) -> list[str]:
    """J, F, J&F of ``key`` over the seeds' rows: mean ± std (or the value for one seed).

    A DeepLab that predicted one class everywhere is marked with a dagger.
    """
    values = [row[key] for row in rows if key in row]
    if not values:
        return ['–'] * 3
    stats = summarize({metric: [v[metric] for v in values] for metric in ('J', 'F', 'J&F')})
    mark = '†' if any(v.get('constant_prediction') for v in values) else ''
    cells = []
    for metric in ('J', 'F', 'J&F'):
        entry = stats[metric]
        cells.append((f'{entry["mean"]:.2f}' if entry['std'] is None
                      else f'{entry["mean"]:.2f} ± {entry["std"]:.2f}') + mark)
    return cells


def _method_of(name: str) -> str:
    """The :data:`METHODS` key of a variant's display name."""
    base = name.removesuffix('+ISL/FSL')
    return next(key for key, method in METHODS.items() if method.name == base)


def results_table(results: dict, quick: bool = False) -> str:
    """A markdown table: one row per variant (and the labels of methods' own rules)."""
    header = ['method', 'seeds', 'bg thr.']
    for _, title in _COLUMNS:
        header += [f'{title} J', 'F', 'J&F']
    lines = ['| ' + ' | '.join(header) + ' |', '|' + '---|' * len(header)]
    notes = []
    for name, by_seed in results.items():
        rows = list(by_seed.values())
        thresholds = sorted({row['threshold'] for row in rows})
        marks = '*' if any(row['threshold_at_edge'] for row in rows) else ''
        cells = [name, str(len(rows)), '/'.join(f'{t:g}' for t in thresholds) + marks]
        for key, _ in _COLUMNS:
            cells += _cell(rows, key)
        lines.append('| ' + ' | '.join(cells) + ' |')
        for own, (title, rule_name, *_) in OWN_LABELS.items():
            if f'{own}_crf' in rows[0]:
                cells = [f'{name} ({title})', str(len(rows)), rule_name]
                cells += _cell(rows, own) + _cell(rows, f'{own}_crf') + ['–'] * 6
                lines.append('| ' + ' | '.join(cells) + ' |')
        sources = sorted({row['deeplab_labels'] for row in rows if 'deeplab_labels' in row})
        deeplab_seeds = sum('deeplab' in row for row in rows)
        if sources:
            model = ('DeepLab' if METHODS[_method_of(name)].seg_config is None
                     else f'its own stage 3 ({METHODS[_method_of(name)].seg_config})')
            notes.append(f'{name}: {model} on its {"/".join(sources)} labels, '
                         f'{deeplab_seeds} seed(s)')
    if any(row['threshold_at_edge'] for by_seed in results.values()
           for row in by_seed.values()):
        notes.append('* the best background threshold lies at the edge of the sweep '
                     f'({BG_THRESHOLDS[0]}-{BG_THRESHOLDS[-1]})')
    if any(row.get('deeplab', {}).get('constant_prediction') for by_seed in results.values()
           for row in by_seed.values()):
        notes.append('† DeepLab predicted background everywhere (a schedule too short to '
                     'learn the classes, or training labels that are nearly all background)')
    if quick:
        notes.insert(0, 'SMOKE TEST (--quick): tiny set and schedules; these figures check '
                     'that the chain runs and are not results')
    return '\n'.join(lines + [''] + [f'- {note}' for note in notes])


def paired_deltas(results: dict) -> str:
    """A markdown table of +ISL/FSL minus the baseline, seed by seed (mean ± std).

    Each method's two variants share their training seeds, so the paired difference
    removes the seed-to-seed spread both variants have in common. Only seeds both variants
    finished count; a column needs two of them.
    """
    lines = ['| method | labels | seeds | Δ J | Δ F | Δ J&F |', '|---|---|---|---|---|---|']
    titles = dict(_COLUMNS)
    titles.update({own: f'{title} (own rule)' for own, (title, *_) in OWN_LABELS.items()})
    titles.update({f'{own}_crf': f'{title} + dCRF' for own, (title, *_) in OWN_LABELS.items()})
    for name, with_addon in results.items():
        base = results.get(name.removesuffix('+ISL/FSL')) if name.endswith('+ISL/FSL') else None
        if base is None:
            continue
        for key, title in titles.items():
            seeds = [s for s in base if s in with_addon and key in base[s]
                     and key in with_addon[s]]
            if len(seeds) < 2:
                continue
            stats = summarize({m: [with_addon[s][key][m] - base[s][key][m] for s in seeds]
                               for m in ('J', 'F', 'J&F')})
            cells = [f'{stats[m]["mean"]:+.2f} ± {stats[m]["std"]:.2f}'
                     for m in ('J', 'F', 'J&F')]
            lines.append(f'| {name.removesuffix("+ISL/FSL")} | {title} | {len(seeds)} | '
                         + ' | '.join(cells) + ' |')
    return '\n'.join(lines) if len(lines) > 2 else ''


def save_figure(pipeline: Pipeline, path: str, num_images: int = 4) -> None:
    """CAM and pseudo-label overlays of a few validation images (first seed), with a legend.

    A method that shares another's stage 1 (PMM) shows as that method (same CAMs).
    """
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    settings = pipeline.settings
    seed = settings.seeds[0]
    loaded = []
    variants = list(dict.fromkeys(
        Variant(METHODS[v.method].stage1_of or v.method, v.hfpl) for v in settings.variants))
    for variant in variants:
        stage2 = pipeline.stage2(variant, seed)
        cfg = _config(variant.config, settings, osp.join(pipeline.root(seed, variant),
                                                         'stage1'), seed)
        loaded.append((variant, _load_model(cfg, stage2['checkpoint']), stage2['threshold']))
    dataset = build_split(cfg, 'ImageSets/Segmentation/val.txt',
                          cam_tta_pipeline(settings.cam_scales, flip=True))
    picks = [i for i in range(len(dataset)) if len(dataset.get_data_info(i)['gt_label'])]
    picks = picks[:num_images]
    classes = dataset.metainfo['classes']
    palette = np.zeros((256, 3))
    palette[:len(classes)] = np.asarray(dataset.metainfo['palette'][:len(classes)]) / 255.0
    palette[VOID] = 1.0  # void drawn white
    columns = 2 + 2 * len(loaded)
    fig, axes = plt.subplots(len(picks), columns, figsize=(2.2 * columns, 2.2 * len(picks) + 0.6),
                             squeeze=False)
    for row, index in enumerate(picks):
        info = dataset.get_data_info(index)
        views = dataset[index]
        image = views['inputs'][0].numpy()[::-1].transpose(1, 2, 0)  # BGR view -> RGB
        gt = load_label_png(info['seg_map_path'])
        panels = [(image, 'image'), (palette[gt], 'GT')]
        for variant, model, threshold in loaded:
            # each model fills the data samples with its own fields: give it fresh ones
            record = tta_record(model, copy.deepcopy(views), model.head.num_classes,
                                info['gt_label'])
            heat = record.cams.max(axis=0) if len(record.labels) else np.zeros(gt.shape)
            label = record_to_label(record, BackgroundRule(bg_threshold=threshold),
                                    np.ascontiguousarray(image), TOY_CRF)
            panels.append((heat, f'{variant.name}: CAM'))
            panels.append((0.5 * image / 255.0 + 0.5 * palette[label], f'{variant.name}: PL+dCRF'))
        for col, (panel, title) in enumerate(panels):
            ax = axes[row, col]
            if panel.ndim == 2:
                ax.imshow(image)
                ax.imshow(panel, cmap='jet', alpha=0.5, vmin=0, vmax=1)
            else:
                ax.imshow(panel)
            ax.set_title(title if row == 0 else '', fontsize=7)
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
    found = _read_json(meta_path).get('generator', {})
    if found != wanted:
        changed = sorted(key for key in wanted if found.get(key) != wanted[key])
        raise ValueError(
            f'{settings.data_root} holds a toy set made with other generator parameters '
            f'({", ".join(f"{k}: {found.get(k)!r} there, {wanted[k]!r} here" for k in changed)}'
            '); pass another --data-root or delete that directory')


def _check_work_dir(settings: PipelineSettings) -> None:
    """Refuse to mix results of different settings in one work dir."""
    path = osp.join(settings.work_dir, 'settings.json')
    wanted = settings.fingerprint()
    if osp.exists(path):
        found = _read_json(path)
        if found != wanted:
            changed = sorted(k for k in set(found) | set(wanted) if found.get(k) != wanted.get(k))
            raise ValueError(f'{settings.work_dir} holds results made with other settings '
                             f'({", ".join(changed)} differ); pass another --work-dir')
    else:
        _write_json(path, wanted)


def run_pipeline(settings: PipelineSettings) -> dict:
    """Run every step (skipping finished ones); print and save the table and the figure."""
    start = time.time()
    _ensure_toy_set(settings)
    _check_work_dir(settings)
    pipeline = Pipeline(settings)
    results = pipeline.run()
    table = results_table(results, settings.quick)
    deltas = paired_deltas(results)
    if deltas:
        table += ('\n\nPaired differences, +ISL/FSL minus the baseline of the same seed:\n\n'
                  + deltas)
    figure = osp.join(settings.work_dir, 'overlays.png')
    save_figure(pipeline, figure)
    compute = sum(row['seconds'] for by_seed in results.values() for row in by_seed.values())
    _write_json(osp.join(settings.work_dir, 'results.json'),
                dict(protocol=PROTOCOL, settings=settings.fingerprint(),
                     results={name: {str(seed): row for seed, row in by_seed.items()}
                              for name, by_seed in results.items()}))
    text = (f'{table}\n\n{PROTOCOL}; figure: {figure}\n'
            f'this run: {time.time() - start:.0f} s; recorded compute of all steps: '
            f'{compute:.0f} s')
    with open(osp.join(settings.work_dir, 'table.md'), 'w') as handle:
        handle.write(text + '\n')
    print(f'\n{text}')
    return dict(results=results, table=table, figure=figure)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--quick', action='store_true',
                        help='smoke run: small toy set, short schedules (figures mean nothing)')
    parser.add_argument('--methods', nargs='+', choices=sorted(METHODS), default=['cam'],
                        help='baselines to run, each without and with ISL/FSL')
    parser.add_argument('--seeds', nargs='+', type=int, default=[0], help='training seeds')
    parser.add_argument('--deeplab-seeds', nargs='*', type=int,
                        help='seeds whose best labels train DeepLab (default: the first seed)')
    parser.add_argument('--refine', action='store_true',
                        help="also run each method's refinement network (IRN / AffinityNet)")
    parser.add_argument('--style', choices=('texture', 'uniform'), default='texture',
                        help="toy generator style: 'texture' (version 2) or 'uniform' (v1)")
    parser.add_argument('--work-dir', help='output directory')
    parser.add_argument('--data-root', help='toy set location (written when absent)')
    parser.add_argument('--workers', type=int, default=2, help='dCRF processes')
    args = parser.parse_args()
    register_all_modules(init_default_scope=False)
    settings = (PipelineSettings.quick_settings() if args.quick else PipelineSettings())
    settings.toy = ToyVOCConfig(**{**asdict(settings.toy), 'style': args.style})
    if args.style == 'uniform':
        settings.work_dir += '_uniform'
        settings.data_root = settings.data_root.replace('_v2', '_v1')
    settings.work_dir = args.work_dir or settings.work_dir
    settings.data_root = args.data_root or settings.data_root
    settings = PipelineSettings(**{**settings.__dict__, 'methods': tuple(args.methods),
                                   'seeds': tuple(args.seeds), 'refine': args.refine,
                                   'workers': args.workers,
                                   'deeplab_seeds': tuple(args.deeplab_seeds)
                                   if args.deeplab_seeds is not None else None})
    run_pipeline(settings)


if __name__ == '__main__':
    main()
