"""Turn CAM files into VOC-palette pseudo-label PNGs, optionally refined by dCRF.

Examples:
    python tools/make_pseudo_labels.py CONFIG --cams work_dirs/cams --out-dir work_dirs/pl \
        --bg-threshold 0.3
    python tools/make_pseudo_labels.py CONFIG --cams D --out-dir D2 --alpha 4 --crf --workers 8
    python tools/make_pseudo_labels.py CONFIG --cams D --out-dir D2 --adaptive   # seed 003 Eq. 9
    python tools/make_pseudo_labels.py CONFIG --cams D --out-dir D2 --bg-scale 1  # SIPE
    python tools/make_pseudo_labels.py CONFIG --cams D --out-dir D2 --ppg-alpha 11  # PMM
    python tools/make_pseudo_labels.py CONFIG --cams D --out-dir heat --alpha 24 --crf \
        --min-confidence 0.9  # PMM's heat maps for multi-crop training

The config's test dataset (or --ann-file) names the images. Existing PNGs are kept, so an
interrupted run resumes. Under ``torchrun ... --launcher pytorch`` each rank labels every
world-size-th image (a COCO-sized run spreads over nodes with the usual launcher).
"""

import argparse
import os
import os.path as osp
from dataclasses import replace

from mmengine.config import Config, DictAction

from mmhfpl.pseudo_labels import BackgroundRule, make_pseudo_labels
from mmhfpl.pseudo_labels.crf import CRFConfig
from mmhfpl.pseudo_labels.dataset_access import build_split
from mmhfpl.pseudo_labels.make_labels import ADAPTIVE_CRF_KERNELS
from mmhfpl.pseudo_labels.proportional_masks import PMM_CRF
from mmhfpl.structures import image_id
from mmhfpl.utils import close_launcher, merge_cfg_options, register_all_modules, start_launcher


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Make pseudo-labels from CAMs')
    parser.add_argument('config', help='config whose test dataset names the images')
    parser.add_argument('--cams', required=True, help='directory of CAM files')
    parser.add_argument('--out-dir', required=True, help='directory for the label PNGs')
    parser.add_argument('--ann-file', help='image list (default: the config\'s test split)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config entries, e.g. test_dataloader.dataset.data_root=D')
    rule = parser.add_mutually_exclusive_group(required=True)
    rule.add_argument('--bg-threshold', type=float, help='constant background score')
    rule.add_argument('--alpha', type=float, help='background (1 - max CAM)^alpha')
    rule.add_argument('--adaptive', action='store_true',
                      help='per-class thresholds stored with the CAMs (Spatial-BCE)')
    rule.add_argument('--bg-scale', type=float,
                      help='the background map stored with the CAMs (SIPE) times this factor')
    rule.add_argument('--ppg-alpha', type=float,
                      help="PMM's proportional pseudo-masks with this background power (11)")
    parser.add_argument('--cv-scale', type=float, default=0.3,
                        help='--ppg-alpha: factor of the coefficient of variation (0.3)')
    parser.add_argument('--cam-threshold', type=float, default=0.05,
                        help='--ppg-alpha: CAM threshold of CV smoothing (0.05)')
    parser.add_argument('--raw-probs', action='store_true',
                        help='--adaptive: compare the thresholds with the raw probabilities '
                             '(the training rule) instead of max-normalised ones (the authors\' '
                             'inference)')
    parser.add_argument('--crf', action='store_true',
                        help='refine with a dense CRF (with --adaptive: the authors\' label dCRF '
                             'of the hard labels)')
    parser.add_argument('--crf-iterations', type=int, default=CRFConfig.iterations)
    parser.add_argument('--crf-scale-factor', type=float, default=CRFConfig.scale_factor,
                        help='divide the dCRF spatial widths by this (4 for the 128 px toy set; '
                             "with --ppg-alpha, PMM's per-class dCRF)")
    parser.add_argument('--min-confidence', type=float,
                        help='with --crf: label 255 (ignored) where the dCRF posterior is not '
                             'above this (PMM\'s heat maps: --alpha 24 --crf --min-confidence 0.9)')
    parser.add_argument('--workers', type=int, default=1, help='worker processes')
    parser.add_argument('--launcher', choices=['none', 'pytorch'], default='none',
                        help='shard the images over the ranks of a torchrun launch')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args()
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    if args.raw_probs and not args.adaptive:
        parser.error('--raw-probs applies to --adaptive only')
    if args.ppg_alpha is not None and args.crf:
        parser.error('--ppg-alpha runs its own dCRF per class; drop --crf')
    if args.min_confidence is not None and (not args.crf or args.adaptive):
        parser.error('--min-confidence needs --crf and a rule other than --adaptive')
    return args


def main() -> None:
    args = parse_args()
    register_all_modules(init_default_scope=False)
    cfg = Config.fromfile(args.config)
    merge_cfg_options(cfg, args.cfg_options)
    start_launcher(cfg, args.launcher)
    dataset = build_split(cfg, args.ann_file)
    infos = [dataset.get_data_info(i) for i in range(len(dataset))]
    image_dirs = {osp.dirname(info['img_path']) for info in infos}
    suffixes = {osp.splitext(info['img_path'])[1] for info in infos}
    if len(image_dirs) != 1 or len(suffixes) != 1:
        raise ValueError('the images of the split must share one directory and suffix')
    kernels = ADAPTIVE_CRF_KERNELS if args.adaptive else {}
    crf = (CRFConfig(**kernels, iterations=args.crf_iterations,
                     scale_factor=args.crf_scale_factor) if args.crf else None)
    if args.ppg_alpha is not None:  # PMM's per-class dCRF, with the widths and iterations
        crf = replace(PMM_CRF, iterations=args.crf_iterations,
                      scale_factor=args.crf_scale_factor)
    rule = BackgroundRule(bg_threshold=args.bg_threshold, alpha=args.alpha,
                          adaptive=args.adaptive, normalize=not args.raw_probs,
                          bg_scale=args.bg_scale, ppg_alpha=args.ppg_alpha,
                          cv_scale=args.cv_scale, cam_threshold=args.cam_threshold)
    counts = make_pseudo_labels(args.cams, [image_id(info['img_path']) for info in infos],
                                args.out_dir, rule, image_dir=image_dirs.pop(),
                                image_suffix=suffixes.pop(), crf=crf, num_workers=args.workers,
                                min_confidence=args.min_confidence)
    print(f'pseudo-labels in {args.out_dir}: {counts["written"]} written, '
          f'{counts["skipped"]} already present (this rank)')
    close_launcher()


if __name__ == '__main__':
    main()
