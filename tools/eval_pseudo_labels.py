"""Evaluate CAMs (with a background-threshold sweep) or pseudo-labels: J, F and J&F.

Examples:
    python tools/eval_pseudo_labels.py CONFIG --cams work_dirs/cams \
        --bg-thresholds 0.1 0.15 0.2 0.25 0.3 0.35 0.4
    python tools/eval_pseudo_labels.py CONFIG --labels work_dirs/pseudo_labels

GT masks come from the config's test dataset (or --ann-file). J is mmseg's mIoU including
background; F is the DAVIS contour F-measure averaged over foreground classes.
"""

import argparse
import json

from mmengine.config import Config, DictAction

from mmhfpl.pseudo_labels import BackgroundRule, evaluate_cams, evaluate_label_dir
from mmhfpl.pseudo_labels.dataset_access import build_split, id_gt_pairs
from mmhfpl.pseudo_labels.evaluate import format_table
from mmhfpl.utils import merge_cfg_options, register_all_modules


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Evaluate CAMs or pseudo-labels')
    parser.add_argument('config', help='config whose test dataset holds the GT masks')
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument('--cams', help='directory of CAM files')
    source.add_argument('--labels', help='directory of label PNGs')
    parser.add_argument('--ann-file', help='image list (default: the config\'s test split)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config entries, e.g. test_dataloader.dataset.data_root=D')
    parser.add_argument('--bg-thresholds', type=float, nargs='+',
                        default=[0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5])
    parser.add_argument('--alphas', type=float, nargs='+',
                        help='sweep (1 - max CAM)^alpha backgrounds instead')
    parser.add_argument('--bg-scales', type=float, nargs='+',
                        help='sweep factors of the stored background map (SIPE) instead')
    parser.add_argument('--void-excluded', action='store_true',
                        help='exclude GT void pixels from F instead of treating them as bg')
    parser.add_argument('--json', help='write the results to this file')
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    register_all_modules(init_default_scope=False)
    cfg = Config.fromfile(args.config)
    merge_cfg_options(cfg, args.cfg_options)
    dataset = build_split(cfg, args.ann_file)
    samples = id_gt_pairs(dataset)
    num_classes = len(dataset.metainfo['classes'])
    options = dict(void_as_background=not args.void_excluded)
    if args.labels:
        rows = [dict(name=args.labels, **evaluate_label_dir(args.labels, samples, num_classes,
                                                            **options))]
    else:
        if args.alphas and args.bg_scales:
            raise SystemExit('give --alphas or --bg-scales, not both')
        if args.bg_scales:
            rules = [BackgroundRule(bg_scale=k) for k in args.bg_scales]
            names = [f'bg_scale={k:g}' for k in args.bg_scales]
        elif args.alphas:
            rules = [BackgroundRule(alpha=a) for a in args.alphas]
            names = [f'alpha={a:g}' for a in args.alphas]
        else:
            rules = [BackgroundRule(bg_threshold=t) for t in args.bg_thresholds]
            names = [f'bg_thr={t:g}' for t in args.bg_thresholds]
        results = evaluate_cams(args.cams, samples, num_classes, rules, **options)
        rows = [dict(name=name, **res) for name, res in zip(names, results, strict=True)]
    print(f'{len(samples)} images, {num_classes} classes')
    print(format_table(rows, 'setting'))
    if len(rows) > 1:
        best = max(rows, key=lambda row: row['J'])
        print(f'best J: {best["name"]} (J {best["J"]:.2f}, F {best["F"]:.2f})')
    if args.json:
        with open(args.json, 'w') as handle:
            json.dump([{k: (v.tolist() if hasattr(v, 'tolist') else v) for k, v in row.items()}
                       for row in rows], handle, indent=2)


if __name__ == '__main__':
    main()
