"""Evaluate a checkpoint on a config's test set (OpenMMLab ``tools/test.py`` shape).

Examples:
    python tools/test.py CONFIG CHECKPOINT
    python tools/test.py CONFIG CHECKPOINT --out results.json
    python tools/test.py CONFIG CHECKPOINT --tta   # the config's tta_pipeline / tta_model
    bash tools/dist_test.sh CONFIG CHECKPOINT 2
"""

import argparse
import os
import os.path as osp

from mmengine.config import Config, DictAction
from mmengine.runner import Runner

from mmhfpl.utils import close_launcher, merge_cfg_options, prepare_launcher, register_all_modules


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Test a model with mmhfpl')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--work-dir', help='directory for the evaluation log')
    parser.add_argument('--out', help='dump the metrics to this JSON/YAML file')
    parser.add_argument('--tta', action='store_true',
                        help="test-time augmentation: the config's tta_pipeline and tta_model "
                             '(e.g. mmhfpl.DenseCRFSegTTAModel, PMM\'s test)')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction,
        help='override config entries, e.g. test_dataloader.batch_size=4')
    parser.add_argument(
        '--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'], default='none',
        help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args()
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


def main() -> None:
    args = parse_args()
    register_all_modules(init_default_scope=False)
    cfg = Config.fromfile(args.config)
    cfg.launcher = args.launcher
    merge_cfg_options(cfg, args.cfg_options)
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = osp.join('./work_dirs', osp.splitext(osp.basename(args.config))[0])
    cfg.load_from = args.checkpoint
    if args.tta:
        missing = [key for key in ('tta_pipeline', 'tta_model') if cfg.get(key) is None]
        if missing:
            raise SystemExit(f'--tta: {args.config} defines no {" / ".join(missing)}')
        cfg.test_dataloader.dataset.pipeline = cfg.tta_pipeline
        cfg.tta_model.module = cfg.model
        cfg.model = cfg.tta_model
    prepare_launcher(cfg, args.launcher)
    runner = Runner.from_cfg(cfg)
    metrics = runner.test()
    if args.out and runner.rank == 0:
        from mmengine.fileio import dump
        dump(metrics, args.out)
    close_launcher()


if __name__ == '__main__':
    main()
