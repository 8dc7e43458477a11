"""SIPE on the toy set: does the general-specific consistency (GSC) loss or the prototypes
lose the objects?

Trains the toy SIPE config (``configs/sipe/sipe_r18_toy.py``) once per arm and scores two
maps of each checkpoint on the first ``--num-images`` training images, with the benchmark's
scales, flip and background-threshold sweep (best J, no CRF):

* the IS-CAM (``cam``, SIPE's fusion: what the benchmark scores for SIPE);
* the head's own CAM (``cam_cls``), fused as the CAM baseline's CAMs (IRN rule).

Arms change one thing against the toy config: ``default`` (as the benchmark; its stage-1
checkpoint is reused when the ``--benchmark`` work dir has it), ``no_gsc`` (GSC loss weight
0: the head trains as the CAM baseline's, the side convolutions keep their initial weights)
and ``from_cam_baseline`` (the backbone starts from the same seed's toy CAM baseline, the
toy's stand-in for SIPE's ImageNet weights). The CAM baseline's own CAMs on the same images
are scored for reference.

Example:
    python tools/analysis_tools/sipe_gsc_study.py --benchmark work_dirs/benchmark_toy_v2_sipe \\
        --seed 0 --out work_dirs/sipe_gsc_study
"""

import argparse
import json
import os.path as osp
import sys
import time

from mmhfpl.pseudo_labels import BackgroundRule, cam_tta_pipeline, evaluate_cams, generate_cams
from mmhfpl.pseudo_labels.cam_generation import cam_fusion_of
from mmhfpl.pseudo_labels.dataset_access import build_split, id_gt_pairs
from mmhfpl.utils import merge_cfg_options, register_all_modules

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))
import run_pipeline as rp  # noqa: E402

#: Each arm: what it changes against the toy config (named cfg-options; ``{baseline}`` is
#: the seed's CAM-baseline checkpoint).
ARMS = {
    'default': {},
    'no_gsc': {'model.gsc_loss.loss_weight': 0.0},
    'from_cam_baseline': {'model.backbone.init_cfg': dict(
        type='Pretrained', checkpoint='{baseline}', prefix='backbone.')},
}
#: Map name -> (data-sample field, CAM fusion rule).
MAPS = {'IS-CAM': ('cam', 'sipe'), 'head CAM': ('cam_cls', 'irn')}


def _best(cam_dir: str, samples: list, num_classes: int) -> dict:
    """Best J of the benchmark's threshold sweep, with its threshold and F."""
    sweep = evaluate_cams(cam_dir, samples, num_classes,
                          [BackgroundRule(bg_threshold=t) for t in rp.BG_THRESHOLDS],
                          progress=False)
    best = max(range(len(sweep)), key=lambda i: sweep[i]['J'])
    return dict(threshold=rp.BG_THRESHOLDS[best], J=sweep[best]['J'], F=sweep[best]['F'])


def _score(cfg, checkpoint: str, maps: dict, out: str, settings: rp.PipelineSettings,
           num_images: int) -> dict:
    """Best sweep result of each map of ``maps`` (name -> (field, fusion))."""
    dataset = build_split(cfg, rp.TRAIN_LIST,
                          cam_tta_pipeline(settings.cam_scales, flip=True)).get_subset(num_images)
    samples = id_gt_pairs(build_split(cfg, rp.TRAIN_LIST))[:num_images]
    num_classes = len(dataset.metainfo['classes'])
    model = rp._load_model(cfg, checkpoint)
    scores = {}
    for name, (field, fusion) in maps.items():
        if cam_fusion_of(model) != fusion:  # the head's CAM of SIPE: the CAM baseline's rule
            model.cam_fusion = fusion
        cam_dir = osp.join(out, field)
        generate_cams(model, dataset, cam_dir, model.head.num_classes, cam_key=field)
        scores[name] = _best(cam_dir, samples, num_classes)
    return scores


def run_arm(name: str, settings: rp.PipelineSettings, seed: int, out: str,
            num_images: int) -> dict:
    """Train one arm (or reuse the benchmark's checkpoint) and score its maps; cached."""
    root = osp.join(out, name)
    done = osp.join(root, 'result.json')
    if osp.exists(done):
        return rp._read_json(done)
    start = time.time()
    pipeline = rp.Pipeline(settings)
    if name == 'default':
        cfg, checkpoint = pipeline.stage1(rp.Variant('sipe', False), seed)
    else:
        baseline = pipeline.stage1(rp.Variant('cam', False), seed)[1]
        options = {key: (dict(value, checkpoint=osp.abspath(baseline))
                         if isinstance(value, dict) else value)
                   for key, value in ARMS[name].items()}
        cfg = rp._config(rp.METHODS['sipe'].configs[0], settings, osp.join(root, 'train'),
                         seed)
        merge_cfg_options(cfg, options)
        checkpoint = rp._train_once(cfg, None, f'SIPE arm {name}')
    result = dict(arm=name, maps=_score(cfg, checkpoint, MAPS, root, settings, num_images),
                  seconds=time.time() - start)
    rp._write_json(done, result)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--benchmark', default='work_dirs/benchmark_toy_v2_sipe',
                        help="run_pipeline work dir with the seed's SIPE and CAM-baseline "
                        'stage 1 (trained there first if missing)')
    parser.add_argument('--data-root', default='data/toy_voc_v2')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--arms', nargs='+', choices=sorted(ARMS), default=sorted(ARMS))
    parser.add_argument('--num-images', type=int, default=200,
                        help='score the first N training images')
    parser.add_argument('--out', default='work_dirs/sipe_gsc_study')
    args = parser.parse_args()
    register_all_modules(init_default_scope=False)
    settings = rp.PipelineSettings(work_dir=args.benchmark, data_root=args.data_root)
    rows = [run_arm(arm, settings, args.seed, args.out, args.num_images)
            for arm in args.arms]
    cam_cfg, cam_checkpoint = rp.Pipeline(settings).stage1(rp.Variant('cam', False), args.seed)
    reference = osp.join(args.out, 'cam_baseline')
    done = osp.join(reference, 'result.json')
    if not osp.exists(done):
        rp._write_json(done, _score(cam_cfg, cam_checkpoint, {'CAM': ('cam', 'irn')},
                                    reference, settings, args.num_images))
    baseline = rp._read_json(done)['CAM']
    print(f'First {args.num_images} training images, seed {args.seed}; best J of the sweep '
          '(threshold), F\n')
    print('| arm | IS-CAM J | F | head CAM J | F |\n|---|---|---|---|---|')
    for row in rows:
        cells = [f'{m["J"]:.2f} ({m["threshold"]:g}) | {m["F"]:.2f}'
                 for m in (row['maps']['IS-CAM'], row['maps']['head CAM'])]
        print(f'| {row["arm"]} | ' + ' | '.join(cells) + ' |')
    print(f'| CAM baseline | – | – | {baseline["J"]:.2f} ({baseline["threshold"]:g}) | '
          f'{baseline["F"]:.2f} |')
    print(json.dumps({row['arm']: round(row['seconds']) for row in rows}))


if __name__ == '__main__':
    main()
