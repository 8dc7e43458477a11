"""Spatial-BCE on the toy set: which part of the recipe decides whether training collapses.

Trains the toy Spatial-BCE config (``configs/spatial_bce/spatial_bce_r18_toy.py``) once per
arm, from the CAM baseline and Q file of a benchmark seed (``tools/run_pipeline.py`` work
dir), and scores each arm the way the benchmark does: Eq. 9 labels (no sweep), the best
background threshold of the same sweep, and the share of images whose Eq. 9 labels are all
background (a collapse). Arms change one thing against the authors' setting: the T/NT KL
direction (seed 003 Eq. 7-8 as the authors' code: forward, KL(m || q); mmhfpl's toy
deviation: reverse), the optimiser (the toy's AdamW 1e-3; the paper's SGD 1e-2; the
authors' code SGD 1e-3), the batch size (paper 24, code 12), one run with in-training Q
updates (paper) against one run per phase from the previous weights with a fresh optimiser
and schedule (code, ``train_adaptive_threshold.sh``), and random-scale crops (paper: 368)
against the whole image resized to a square (code: ``T.Resize((369, 369))``);
``forward_resize_fixed_q`` keeps the initial Q throughout (no Q update: a diagnosis of the Q
loop, neither the paper's nor the code's recipe). Every arm sets
its input and KL direction itself: the study's baseline is the toy recipe of toy-v2 protocol
1 (random-scale crops); the toy config has used the ``forward_resize`` setting since
protocol 2.

Example:
    python tools/analysis_tools/spatial_bce_recipe_study.py \\
        --benchmark work_dirs/benchmark_toy_v2 --seed 0 --arms forward reverse \\
        --out work_dirs/spatial_bce_study
"""

import argparse
import copy
import json
import os.path as osp
import sys
import time
from dataclasses import dataclass, field

import numpy as np
from mmengine.config import Config

from mmhfpl.pseudo_labels import (
    BackgroundRule,
    cam_tta_pipeline,
    evaluate_cams,
    evaluate_label_dir,
    generate_cams,
    make_pseudo_labels,
)
from mmhfpl.pseudo_labels.dataset_access import build_split, id_gt_pairs
from mmhfpl.structures import load_label_png
from mmhfpl.utils import merge_cfg_options, register_all_modules

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))
import run_pipeline as rp  # noqa: E402

_SGD = {'optim_wrapper.optimizer': dict(type='SGD', momentum=0.9,
                                        weight_decay=5e-4)}
_FORWARD = {'model.head.loss_tnt.direction': 'forward'}
#: The toy input up to toy-v2 protocol 1 (configs/_base_/datasets/toy_voc_cls.py): random
#: scale, 112 crops, flip. Every arm but ``forward_resize`` trains on it.
_CROP = {'train_dataloader.dataset.pipeline': [
    dict(type='LoadImageFromFile'),
    dict(type='RandomResize', scale=(128, 128), ratio_range=(0.9, 1.25), keep_ratio=True),
    dict(type='mmpretrain.RandomCrop', crop_size=112, pad_if_needed=True),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='mmpretrain.PackInputs'),
]}
#: The authors' training input: the whole image resized to a square of the crop size
#: (their 369 for VOC; the toy's 112), no random scale or crop; the flip stays. The toy
#: config's input since toy-v2 protocol 2.
_RESIZE = {'train_dataloader.dataset.pipeline': [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(112, 112), keep_ratio=False),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='mmpretrain.PackInputs'),
]}


@dataclass(frozen=True)
class Arm:
    """One change of the toy config.

    Attributes:
        options: Named cfg-options (``optim_wrapper.optimizer`` replaces the optimiser).
        separate_runs: Train each phase as its own run from the previous phase's weights
            (fresh optimiser, the phase's own learning-rate curve, Q from the previous run).
    """

    options: dict = field(default_factory=dict)
    separate_runs: bool = False


#: Each arm: what it sets in the toy config (all of them set the input and KL direction, so
#: an arm means the same whatever the toy config's defaults are).
ARMS = {
    'reverse': Arm({**_CROP, 'model.head.loss_tnt.direction': 'reverse'}),
    'forward': Arm({**_CROP, **_FORWARD}),
    'forward_sgd_paper': Arm({**_CROP, **_FORWARD, **_SGD, 'optim_wrapper.optimizer.lr': 1e-2,
                              'train_dataloader.batch_size': 24}),
    'forward_sgd_code': Arm({**_CROP, **_FORWARD, **_SGD, 'optim_wrapper.optimizer.lr': 1e-3,
                             'train_dataloader.batch_size': 12}),
    'forward_batch12': Arm({**_CROP, **_FORWARD, 'train_dataloader.batch_size': 12}),
    'forward_batch24': Arm({**_CROP, **_FORWARD, 'train_dataloader.batch_size': 24}),
    'forward_separate_runs': Arm({**_CROP, **_FORWARD}, separate_runs=True),
    'forward_resize': Arm({**_RESIZE, **_FORWARD}),
    # Diagnosis, not a recipe: Q stays the initial one (no re-count), so a class the first
    # phase inflates is not locked in by the Q loop.
    'forward_resize_fixed_q': Arm({**_RESIZE, **_FORWARD,
                                   'custom_hooks.QUpdateHook.interval': 10**9}),
}


def apply_arm(cfg: Config, arm: Arm) -> None:
    """Change ``cfg`` in place as ``arm`` says (options only; see :func:`phase_configs`)."""
    options = dict(arm.options)
    optimizer = options.pop('optim_wrapper.optimizer', None)
    if optimizer is not None:
        cfg.optim_wrapper.optimizer = optimizer
    merge_cfg_options(cfg, options)


def phase_configs(cfg: Config) -> list[Config]:
    """One config per phase of ``cfg``'s ``PhasePolyLR`` schedule, each a run of one phase.

    Run k keeps phase k's learning-rate curve (``start_factors[k]`` to ``end_factors[k]``)
    and works in ``<work_dir>/phase<k>``; :func:`train_separate_runs` chains them.
    """
    scheduler = cfg.param_scheduler[0]
    phase = scheduler['phase_iters']
    runs = []
    for k, (start, end) in enumerate(zip(scheduler['start_factors'],
                                         scheduler['end_factors'], strict=True)):
        run = copy.deepcopy(cfg)
        run.param_scheduler = [dict(scheduler, start_factors=(start, ), end_factors=(end, ))]
        run.train_cfg.max_iters = phase
        run.train_cfg.val_interval = phase
        run.work_dir = osp.join(cfg.work_dir, f'phase{k}')
        run.experiment_name = f'{cfg.experiment_name}_phase{k}'
        runs.append(run)
    return runs


def train_separate_runs(cfg: Config, name: str) -> str:
    """Train the phases of ``cfg`` as separate runs; return the last checkpoint.

    Every run after the first loads the previous run's final weights (``load_from``, a new
    optimiser and iteration count) and starts from the Q it wrote at its end.
    """
    checkpoint = None
    for k, run in enumerate(phase_configs(cfg)):
        if checkpoint is not None:
            run.load_from = checkpoint
            previous = osp.join(osp.dirname(checkpoint), 'q',
                                f'q_iter_{run.train_cfg.max_iters}.npz')
            merge_cfg_options(run, {'custom_hooks.QUpdateHook.q_file': previous})
        checkpoint = rp._train_once(run, None, f'Spatial-BCE arm {name}, phase {k}')
    return checkpoint


def run_arm(name: str, settings: rp.PipelineSettings, seed: int, out: str) -> dict:
    """Train one arm and score its CAMs; cached in ``out/<name>/result.json``."""
    root = osp.join(out, name)
    done = osp.join(root, 'result.json')
    if osp.exists(done):
        return rp._read_json(done)
    start = time.time()
    cfg = rp._config(rp.METHODS['spatial_bce'].configs[0], settings, osp.join(root, 'train'),
                     seed)
    arm = ARMS[name]
    merge_cfg_options(cfg, rp.Pipeline(settings).spatial_bce_start(cfg, seed))  # baseline, Q
    apply_arm(cfg, arm)
    if arm.separate_runs:
        checkpoint = train_separate_runs(cfg, name)
    else:
        checkpoint = rp._train_once(cfg, None, f'Spatial-BCE arm {name}')
    dataset = build_split(cfg, rp.TRAIN_LIST, cam_tta_pipeline(settings.cam_scales))
    model = rp._load_model(cfg, checkpoint)
    cam_dir = osp.join(root, 'cams')
    generate_cams(model, dataset, cam_dir, model.head.num_classes)
    samples = id_gt_pairs(build_split(cfg, rp.TRAIN_LIST))
    num_classes = len(dataset.metainfo['classes'])
    sweep = evaluate_cams(cam_dir, samples, num_classes,
                          [BackgroundRule(bg_threshold=t) for t in rp.BG_THRESHOLDS])
    best = int(np.argmax([s['J'] for s in sweep]))
    label_dir = osp.join(root, 'eq9')
    make_pseudo_labels(cam_dir, [i for i, _ in samples], label_dir, BackgroundRule(adaptive=True))
    eq9 = evaluate_label_dir(label_dir, samples, num_classes, progress=False)
    empty = np.mean([not (load_label_png(osp.join(label_dir, f'{i}.png')) > 0).any()
                     for i, _ in samples])
    result = dict(arm=name, options={k: str(v) for k, v in arm.options.items()},
                  separate_runs=arm.separate_runs,
                  eq9={k: eq9[k] for k in ('J', 'F', 'J&F')}, all_background=float(empty),
                  best_threshold=rp.BG_THRESHOLDS[best],
                  swept={k: sweep[best][k] for k in ('J', 'F', 'J&F')},
                  seconds=time.time() - start)
    rp._write_json(done, result)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--benchmark', default='work_dirs/benchmark_toy_v2',
                        help='run_pipeline work dir with the seed\'s CAM baseline (trained '
                        'there first if missing)')
    parser.add_argument('--data-root', default='data/toy_voc_v2')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--arms', nargs='+', choices=sorted(ARMS), default=['forward',
                                                                           'reverse'])
    parser.add_argument('--out', default='work_dirs/spatial_bce_study')
    args = parser.parse_args()
    register_all_modules(init_default_scope=False)
    settings = rp.PipelineSettings(work_dir=args.benchmark, data_root=args.data_root)
    rows = [run_arm(arm, settings, args.seed, args.out) for arm in args.arms]
    print('| arm | Eq. 9 J | F | J&F | images all background | best swept bg | J | F | J&F |\n'
          '|---|---|---|---|---|---|---|---|---|')
    for row in rows:
        eq9, swept = row['eq9'], row['swept']
        print(f'| {row["arm"]} | {eq9["J"]:.2f} | {eq9["F"]:.2f} | {eq9["J&F"]:.2f} | '
              f'{100 * row["all_background"]:.1f}% | {row["best_threshold"]:g} | '
              f'{swept["J"]:.2f} | {swept["F"]:.2f} | {swept["J&F"]:.2f} |')
    print(json.dumps({row['arm']: row['seconds'] for row in rows}))


if __name__ == '__main__':
    main()
