"""Mean ± std of J (mIoU), F and J&F over k runs, optionally training the runs first.

The standard deviation is the sample standard deviation (ddof=1), as in "mean ± std over
five runs". Each run is a metric JSON file (``tools/test.py --out``) or an mmengine work dir
(its newest ``<timestamp>/`` log holding the metrics; the last such record is used).

Examples:
    python tools/kseed_stats.py run1/metrics.json run2/metrics.json run3/metrics.json
    python tools/kseed_stats.py work_dirs/exp/seed0 work_dirs/exp/seed1 --json summary.json
    python tools/kseed_stats.py RUNS... --keys mIoU mAcc
    # train CONFIG once per seed in <base-dir>/seed<k> (finished seeds are skipped,
    # interrupted ones resumed), then summarise:
    python tools/kseed_stats.py --run CONFIG --seeds 0 1 2 3 4 --base-dir work_dirs/exp \
        --cfg-options train_dataloader.dataset.data_prefix.seg_map_path=/abs/pseudo
"""

import argparse
import json
import os.path as osp
import sys
from pathlib import Path

from mmengine.config import DictAction

from mmhfpl.evaluation.kseed import (
    DEFAULT_KEYS,
    MetricsNotFoundError,
    collect_metrics,
    config_training_length,
    format_table,
    plan_seed_runs,
    run_seed_plan,
    summarize_runs,
)

TRAIN_SCRIPT = Path(__file__).resolve().with_name('train.py')


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Mean ± sample std (ddof=1) and max of metrics over k runs')
    parser.add_argument('runs', nargs='*',
                        help='metric JSON files or mmengine work dirs, one per run')
    parser.add_argument('--keys', nargs='+', default=list(DEFAULT_KEYS),
                        help='metric keys to summarise (default: %(default)s)')
    parser.add_argument('--json', metavar='OUT', help='also write the summary to this file')
    parser.add_argument('--digits', type=int, default=2, help='decimals in the table')
    run = parser.add_argument_group('training the runs (--run)')
    run.add_argument('--run', metavar='CONFIG', help='train CONFIG once per seed first')
    run.add_argument('--seeds', nargs='+', type=int, help='seeds for --run, e.g. 0 1 2 3 4')
    run.add_argument('--base-dir', help='parent of the per-seed work dirs seed<k> '
                     '(default: work_dirs/<config name>_kseed)')
    run.add_argument('--cfg-options', nargs='+', default=[], metavar='KEY=VALUE',
                     help='overrides passed to every tools/train.py run')
    run.add_argument('--dry-run', action='store_true',
                     help='print what --run would do and exit')
    args = parser.parse_args(argv)
    if args.run:
        if not args.seeds:
            parser.error('--run needs --seeds')
        if args.runs:
            parser.error('give either run paths or --run CONFIG --seeds ..., not both')
    elif not args.runs:
        parser.error('give metric files / work dirs, or --run CONFIG --seeds ...')
    return args


def _parse_cfg_options(options: list[str]) -> dict:
    """``key=value`` strings parsed exactly as ``tools/train.py --cfg-options`` does."""
    parser = argparse.ArgumentParser()
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, default={})
    return parser.parse_args(['--cfg-options', *options] if options else []).cfg_options


def train_seeds(args: argparse.Namespace) -> list[str]:
    """Plan and launch the per-seed runs of ``--run``; return their work dirs."""
    base_dir = args.base_dir or osp.join(
        'work_dirs', osp.splitext(osp.basename(args.run))[0] + '_kseed')
    length = config_training_length(args.run, _parse_cfg_options(args.cfg_options))
    plan = plan_seed_runs(args.run, args.seeds, base_dir, length, TRAIN_SCRIPT,
                          args.cfg_options)
    if args.dry_run:
        for job in plan:
            print(f'seed {job.seed} [{job.status}] {job.work_dir}'
                  + (f': {" ".join(job.command)}' if job.command else ''))
        return []
    run_seed_plan(plan)
    return [str(job.work_dir) for job in plan]


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        runs = train_seeds(args) if args.run else args.runs
        if not runs:
            return 0
        results = [collect_metrics(run, args.keys) for run in runs]
    except (MetricsNotFoundError, FileNotFoundError, ValueError, RuntimeError) as err:
        print(f'error: {err}', file=sys.stderr)
        return 1
    summary = summarize_runs(results, args.keys)
    print(format_table(summary, args.digits))
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        with open(args.json, 'w', encoding='utf-8') as f:
            json.dump(summary, f, indent=2, ensure_ascii=False)
    return 0


if __name__ == '__main__':
    sys.exit(main())
