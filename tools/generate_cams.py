"""Generate multi-scale + flip CAMs of a trained stage-1 model for a dataset split.

Examples:
    python tools/generate_cams.py configs/cam/cam_r50_voc.py work_dirs/cam/epoch_5.pth \
        --ann-file ImageSets/Segmentation/train.txt --out-dir work_dirs/cam/cams_train
    bash: torchrun --nproc_per_node 2 tools/generate_cams.py CONFIG CKPT --out-dir D \
        --launcher pytorch
    python tools/generate_cams.py configs/pmm/pmm_multicrop_scalenet101_voc.py CKPT --out-dir D \
        --crop-size 448 --crop-stride 300 --scales 0.75 1 1.25 1.5 1.75 2 2.25 2.5 2.75 3
        # PMM's multi-crop CAMs

Writes ``<out-dir>/<id>.npz`` (format: mmhfpl/pseudo_labels/cam_io.py). Re-running skips
images whose file exists, so a killed run resumes. ``--cam-key`` picks another prediction
field than ``cam``, e.g. ``cam_cls`` for SEAM's CAM before the pixel correlation module.
"""

import argparse
import os

from mmengine.config import Config, DictAction
from mmengine.registry import init_default_scope
from mmengine.runner import load_checkpoint

from mmhfpl.pseudo_labels import DEFAULT_SCALES, cam_tta_pipeline, generate_cams
from mmhfpl.pseudo_labels.dataset_access import build_split
from mmhfpl.registry import MODELS
from mmhfpl.utils import close_launcher, merge_cfg_options, register_all_modules, start_launcher


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Generate CAMs with test-time augmentation')
    parser.add_argument('config', help='stage-1 config')
    parser.add_argument('checkpoint', help='stage-1 checkpoint')
    parser.add_argument('--out-dir', required=True, help='directory for the CAM files')
    parser.add_argument('--ann-file', help='image list (default: the test split of the config)')
    parser.add_argument('--scales', type=float, nargs='+', default=list(DEFAULT_SCALES))
    parser.add_argument('--no-flip', action='store_true', help='no horizontal-flip TTA')
    parser.add_argument('--crop-size', type=int,
                        help="PMM's multi-crop inference: views are windows of this size at "
                             'each of --scales (PMM: 448, with --crop-stride 300 and scales '
                             '0.75 1 1.25 ... 3) instead of whole rescaled images')
    parser.add_argument('--crop-stride', type=int, help='step between multi-crop windows')
    parser.add_argument('--cam-key', default='cam',
                        help='prediction field to save (e.g. cam_cls: SEAM\'s CAM before the '
                             'PCM)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    parser.add_argument('--launcher', choices=['none', 'pytorch'], default='none')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args()
    if (args.crop_size is None) != (args.crop_stride is None):
        parser.error('--crop-size and --crop-stride go together')
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
    dataset = build_split(cfg, args.ann_file, cam_tta_pipeline(args.scales, not args.no_flip,
                                                               args.crop_size, args.crop_stride))
    counts = generate_cams(model, dataset, args.out_dir, model.head.num_classes,
                           cam_key=args.cam_key)
    print(f'\nCAMs in {args.out_dir}: {counts["written"]} written '
          f'({counts["rewritten"]} of them replacing unreadable files), '
          f'{counts["skipped"]} already present (this rank)')
    close_launcher()


if __name__ == '__main__':
    main()
