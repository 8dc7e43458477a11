"""Refine CAM pseudo-labels with a trained AffinityNet or IRN and write them as PNGs.

Examples:
    python tools/refine_labels.py configs/refine/affinitynet_r38_voc.py \
        work_dirs/affinitynet_r38_voc/epoch_8.pth --cams work_dirs/cams/seam_voc_train_aug \
        --out-dir work_dirs/pl_affinitynet --ann-file ImageSets/Segmentation/train_aug.txt
    python tools/eval_pseudo_labels.py configs/refine/affinitynet_r38_voc.py \
        --labels work_dirs/pl_affinitynet --ann-file ImageSets/Segmentation/train.txt

The config's test dataset (or --ann-file) names the images; each image is read with its
CAM file (``<cams>/<id>.npz``) and refined as the model's ``predict`` does (with --crf, the
refined scores then go through the dense CRF of tools/make_pseudo_labels.py). Labels are VOC
palette PNGs (0 background, c + 1 class c) written atomically; existing PNGs are kept, so
an interrupted run resumes. Under ``torchrun ... --launcher pytorch`` each rank refines every
world-size-th image.
"""

import argparse
import os

from mmengine.config import Config, DictAction
from mmengine.registry import init_default_scope
from mmengine.runner import load_checkpoint

from mmhfpl.models.refine import refine_labels, refine_pipeline
from mmhfpl.pseudo_labels.crf import CRFConfig
from mmhfpl.pseudo_labels.dataset_access import build_split
from mmhfpl.registry import MODELS
from mmhfpl.utils import close_launcher, merge_cfg_options, register_all_modules, start_launcher


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Refine CAM pseudo-labels (AffinityNet, IRN)')
    parser.add_argument('config', help='refinement config (configs/refine/)')
    parser.add_argument('checkpoint', help='trained refinement checkpoint')
    parser.add_argument('--cams', required=True, help='directory of CAM files')
    parser.add_argument('--out-dir', required=True, help='directory for the label PNGs')
    parser.add_argument('--ann-file', help='image list (default: the config\'s test split)')
    parser.add_argument('--crf', action='store_true',
                        help='refine the random-walk scores with a dense CRF')
    parser.add_argument('--crf-iterations', type=int, default=CRFConfig.iterations)
    parser.add_argument('--crf-scale-factor', type=float, default=CRFConfig.scale_factor,
                        help='divide the CRF spatial widths by this (e.g. 4 for 128-pixel '
                        'toy images)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config entries, e.g. model.test_cfg.beta=10')
    parser.add_argument('--launcher', choices=['none', 'pytorch'], default='none',
                        help='shard the images over the ranks of a torchrun launch')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args()
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


def main() -> None:
    args = parse_args()
    register_all_modules(init_default_scope=False)
    cfg = Config.fromfile(args.config)
    merge_cfg_options(cfg, args.cfg_options)
    start_launcher(cfg, args.launcher)
    init_default_scope(cfg.get('default_scope', 'mmhfpl'))
    model = MODELS.build(cfg.model)
    load_checkpoint(model, args.checkpoint, map_location='cpu')
    dataset = build_split(cfg, args.ann_file, refine_pipeline(args.cams))
    crf = (CRFConfig(iterations=args.crf_iterations, scale_factor=args.crf_scale_factor)
           if args.crf else None)
    counts = refine_labels(model, dataset, args.out_dir, crf=crf)
    print(f'\nrefined labels in {args.out_dir}: {counts["written"]} written, '
          f'{counts["skipped"]} already present (this rank)')
    close_launcher()


if __name__ == '__main__':
    main()
