"""Diagnostic: J / F of dCRF pseudo-labels over background thresholds, for several CAM sets.

The benchmark protocol applies dCRF at the threshold that is best *without* CRF. This sweeps
the threshold *with* dCRF as well, to tell whether a method that loses after dCRF loses
because of that choice or at every threshold.

Example:
    python tools/analysis_tools/crf_threshold_sweep.py \\
        --cams work_dirs/benchmark_toy_v2/seed0/cam/cams \\
               work_dirs/benchmark_toy_v2/seed0/cam_hfpl/cams \\
        --names CAM CAM+ISL/FSL --data-root data/toy_voc_v2 --out work_dirs/crf_sweep
"""

import argparse
import json
import os.path as osp
import sys

from mmengine.config import Config

from mmhfpl.pseudo_labels import BackgroundRule, evaluate_label_dir, make_pseudo_labels
from mmhfpl.pseudo_labels.dataset_access import build_split, id_gt_pairs
from mmhfpl.utils import get_config_path, register_all_modules

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))
from run_pipeline import TOY_CRF, TRAIN_LIST  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--cams', nargs='+', required=True, help='CAM directories')
    parser.add_argument('--names', nargs='+', required=True, help='one name per directory')
    parser.add_argument('--data-root', default='data/toy_voc_v2')
    parser.add_argument('--thresholds', type=float, nargs='+',
                        default=[0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7])
    parser.add_argument('--out', required=True, help='directory for labels and results')
    parser.add_argument('--workers', type=int, default=2)
    args = parser.parse_args()
    if len(args.names) != len(args.cams):
        parser.error('give one --names entry per --cams directory')
    register_all_modules(init_default_scope=False)
    cfg = Config.fromfile(get_config_path('cam/cam_r18_toy.py'))
    cfg.test_dataloader.dataset.data_root = args.data_root
    dataset = build_split(cfg, TRAIN_LIST)
    samples = id_gt_pairs(dataset)
    num_classes = len(dataset.metainfo['classes'])
    ids = [sample_id for sample_id, _ in samples]
    results = {}
    for name, cam_dir in zip(args.names, args.cams, strict=True):
        rows = []
        for threshold in args.thresholds:
            label_dir = osp.join(args.out, name.replace('/', '_'), f'crf_{threshold:g}')
            make_pseudo_labels(cam_dir, ids, label_dir, BackgroundRule(bg_threshold=threshold),
                               image_dir=osp.join(args.data_root, 'JPEGImages'), crf=TOY_CRF,
                               num_workers=args.workers)
            scores = evaluate_label_dir(label_dir, samples, num_classes, progress=False)
            rows.append(dict(threshold=threshold, J=scores['J'], F=scores['F'],
                             JF=scores['J&F'], IoU=scores['IoU'].tolist()))
        results[name] = rows
    print('| threshold | ' + ' | '.join(f'{n} J | F' for n in args.names) + ' |')
    print('|---|' + '---|---|' * len(args.names))
    for index, threshold in enumerate(args.thresholds):
        cells = [f'{results[n][index]["J"]:.2f} | {results[n][index]["F"]:.2f}'
                 for n in args.names]
        print(f'| {threshold:g} | ' + ' | '.join(cells) + ' |')
    with open(osp.join(args.out, 'crf_sweep.json'), 'w') as handle:
        json.dump(results, handle, indent=2)


if __name__ == '__main__':
    main()
