"""Train a model from an mmengine config (OpenMMLab ``tools/train.py`` shape).

Examples:
    python tools/train.py configs/toy/multilabel_r18_toy.py
    python tools/train.py CONFIG --work-dir work_dirs/run1 --resume
    bash tools/dist_train.sh CONFIG 2
"""

import argparse
import os
import os.path as osp

from mmengine.config import Config, DictAction
from mmengine.logging import print_log
from mmengine.runner import Runner

from mmhfpl.utils import close_launcher, merge_cfg_options, prepare_launcher, register_all_modules


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Train a model with mmhfpl')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='directory for logs and checkpoints')
    parser.add_argument(
        '--resume', nargs='?', type=str, const='auto',
        help='resume from CHECKPOINT, or from the latest checkpoint in the work dir '
        'when no path is given')
    parser.add_argument('--amp', action='store_true', help='mixed-precision training')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction,
        help='override config entries, e.g. "optim_wrapper.optimizer.lr=0.01" or '
        'train_cfg.max_iters=100 param_scheduler.PolyLR.end=100 (a new length needs its '
        'scheduler bounds too; list items may be named by type)')
    parser.add_argument(
        '--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'], default='none',
        help='job launcher')
    # torch.distributed.launch passes --local-rank; torchrun sets LOCAL_RANK.
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args()
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


def merge_args(cfg: Config, args: argparse.Namespace) -> Config:
    """Apply the command-line options to the config, as mmseg/mmpretrain do."""
    cfg.launcher = args.launcher
    merge_cfg_options(cfg, args.cfg_options)
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = osp.join('./work_dirs', osp.splitext(osp.basename(args.config))[0])
    if args.amp:
        optim_wrapper = cfg.optim_wrapper.get('type', 'OptimWrapper')
        if optim_wrapper not in ('OptimWrapper', 'AmpOptimWrapper'):
            raise ValueError(f'--amp needs an OptimWrapper, the config uses {optim_wrapper}')
        cfg.optim_wrapper.type = 'AmpOptimWrapper'
        cfg.optim_wrapper.setdefault('loss_scale', 'dynamic')
    if args.resume == 'auto':
        # mmengine would log "Auto resumed from the latest checkpoint None." in a fresh work
        # dir; say what happens instead.
        found = osp.isfile(osp.join(cfg.work_dir, 'last_checkpoint'))
        cfg.resume = found
        cfg.load_from = None
        print_log(f'--resume: {"resuming from the latest checkpoint" if found else "no checkpoint"}'
                  f' in {cfg.work_dir}{"" if found else "; training from the start"}',
                  logger='current')
    elif args.resume is not None:
        cfg.resume = True
        cfg.load_from = args.resume
    return cfg


def main() -> None:
    args = parse_args()
    register_all_modules(init_default_scope=False)
    cfg = merge_args(Config.fromfile(args.config), args)
    prepare_launcher(cfg, args.launcher)
    runner = Runner.from_cfg(cfg)
    runner.train()
    close_launcher()


if __name__ == '__main__':
    main()
