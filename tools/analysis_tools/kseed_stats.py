"""Mean ± std of J (mIoU), F and J&F over k runs, optionally training the runs first.

The standard deviation is the sample standard deviation (ddof=1), as in "mean ± std over
five runs". Each run is a metric JSON file (``tools/test.py --out``) or an mmengine work dir
(its newest ``<timestamp>/`` log holding the metrics; the last such record is used).

Examples:
    python tools/analysis_tools/kseed_stats.py run1/metrics.json run2/metrics.json \\
        run3/metrics.json
    python tools/analysis_tools/kseed_stats.py work_dirs/exp/seed0 work_dirs/exp/seed1 \\
        --json summary.json
    python tools/analysis_tools/kseed_stats.py RUNS... --keys mIoU mAcc
    # train CONFIG once per seed in <base-dir>/seed<k> (finished seeds are skipped,
    # interrupted ones resumed), then summarise:
    python tools/analysis_tools/kseed_stats.py --run CONFIG --seeds 0 1 2 3 4 \\
        --base-dir work_dirs/exp \\
        --cfg-options train_dataloader.dataset.data_prefix.seg_map_path=/abs/pseudo

Mean ± std of evaluation metrics over k training runs (e.g. k seeds).

Papers report segmentation results as "mean ± std over k runs". This module collects the
final metrics of k runs, summarises them and, optionally, launches the runs:

* :func:`collect_metrics` reads one run: a metric JSON file (``tools/test.py --out``; an
  mmengine scalar log in JSON-lines form) or an mmengine work dir, whose newest run
  directory ``<timestamp>/`` holds ``vis_data/scalars.json`` (training with validation) or
  ``<timestamp>.json`` (``tools/test.py``). The last record holding all metric keys wins.
* :func:`summarize` gives mean, sample standard deviation (``ddof=1``, the unbiased
  estimate papers report), min and max per key; :func:`format_table` prints them.
* :func:`plan_seed_runs` / :func:`run_seed_plan` train one work dir per seed with
  ``tools/train.py``, skipping finished seeds and resuming interrupted ones.

Only the standard library, numpy and mmengine are used.
"""

from __future__ import annotations

import argparse
import json
import math
import os.path as osp
import re
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from mmengine.config import DictAction

DEFAULT_KEYS = ('mIoU', 'F', 'J&F')
_TIMESTAMP = re.compile(r'\d{8}_\d{6}')
_CHECKPOINT = re.compile(r'(iter|epoch)_(\d+)\.pth')


class MetricsNotFoundError(ValueError):
    """A run (file or work dir) does not hold the requested metrics."""


@dataclass
class RunMetrics:
    """Final metrics of one run.

    Attributes:
        run: The file or directory the user named.
        source: The JSON file the metrics were read from.
        metrics: Metric values by key.
        step: The ``step`` of the record (iteration or epoch of the evaluation), if any.
    """

    run: str
    source: str
    metrics: dict[str, float]
    step: int | None = None


def read_json_records(path: str | Path) -> list[dict]:
    """Read the records of a JSON file: one object, a list of objects or JSON lines.

    Args:
        path: The JSON file.

    Returns:
        The JSON objects of the file in order.

    Raises:
        ValueError: The file is neither JSON nor JSON lines (the message names the line).
    """
    path = Path(path)
    text = path.read_text(encoding='utf-8')
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        records = []
        for lineno, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError as err:
                raise ValueError(f'{path}:{lineno}: neither JSON nor JSON lines '
                                 f'({err.msg})') from None
        return [record for record in records if isinstance(record, dict)]
    if isinstance(data, dict):
        return [data]
    if isinstance(data, list):
        return [record for record in data if isinstance(record, dict)]
    raise ValueError(f'{path}: expected a JSON object, a list of objects or JSON lines')


def _last_record_with(records: Sequence[dict], keys: Sequence[str]) -> dict | None:
    for record in reversed(records):
        if all(key in record for key in keys):
            return record
    return None


def metrics_from_file(path: str | Path, keys: Sequence[str] = DEFAULT_KEYS) -> RunMetrics:
    """Read the last record of a JSON metric file that holds all ``keys``.

    Args:
        path: A JSON object (``tools/test.py --out``) or JSON-lines scalar log.
        keys: Metric keys to read.

    Returns:
        The metrics of the record.

    Raises:
        MetricsNotFoundError: No record holds all keys; names the file and the keys missing.
    """
    records = read_json_records(path)
    record = _last_record_with(records, keys)
    if record is None:
        present = sorted({key for rec in records for key in rec})
        missing = [key for key in keys if key not in present]
        detail = (f'missing {missing}' if missing
                  else 'they never appear together in one record')
        raise MetricsNotFoundError(
            f'{path}: no record holds the metric keys {list(keys)} ({detail}); keys in the '
            f'file: {present}')
    return RunMetrics(run=str(path), source=str(path), step=record.get('step'),
                      metrics={key: float(record[key]) for key in keys})


def _log_files(run_dir: Path) -> list[Path]:
    """JSON logs of one mmengine run directory, scalar logs first."""
    name = run_dir.name
    ordered = [run_dir / 'vis_data' / 'scalars.json', run_dir / 'vis_data' / f'{name}.json',
               run_dir / f'{name}.json']
    others = sorted({*run_dir.glob('*.json'), *run_dir.glob('vis_data/*.json')} - set(ordered))
    return [path for path in ordered if path.is_file()] + others


def metrics_from_work_dir(work_dir: str | Path,
                          keys: Sequence[str] = DEFAULT_KEYS) -> RunMetrics:
    """Final metrics of an mmengine work dir.

    mmengine writes one ``<timestamp>/`` directory per launch: training logs scalars (and
    validation metrics) to ``vis_data/scalars.json``, ``tools/test.py`` dumps its metrics to
    ``<timestamp>.json``. The newest launch whose logs hold all ``keys`` is used, and within
    it the last record with them. A run directory itself may also be given.

    Args:
        work_dir: The work dir (or one ``<timestamp>`` directory of it).
        keys: Metric keys to read.

    Returns:
        The metrics, with the log file they come from.

    Raises:
        MetricsNotFoundError: No log of the directory holds all keys (names the directory
            and the logs searched).
    """
    work_dir = Path(work_dir)
    if not work_dir.is_dir():
        raise MetricsNotFoundError(f'{work_dir}: not a file or directory')
    run_dirs = sorted((d for d in work_dir.iterdir()
                       if d.is_dir() and _TIMESTAMP.fullmatch(d.name)),
                      key=lambda d: d.name, reverse=True)
    if not run_dirs:
        run_dirs = [work_dir]
    searched, present = [], set()
    for run_dir in run_dirs:
        for log in _log_files(run_dir):
            searched.append(log)
            try:
                records = read_json_records(log)
            except (ValueError, UnicodeDecodeError):
                continue
            present.update(key for record in records for key in record)
            record = _last_record_with(records, keys)
            if record is not None:
                return RunMetrics(run=str(work_dir), source=str(log), step=record.get('step'),
                                  metrics={key: float(record[key]) for key in keys})
    if not searched:
        raise MetricsNotFoundError(
            f'{work_dir}: no metrics with the keys {list(keys)} found; it holds no mmengine '
            'JSON log (<timestamp>/vis_data/scalars.json or <timestamp>/<timestamp>.json)')
    missing = [key for key in keys if key not in present]
    detail = f'missing {missing}' if missing else 'they never appear together in one record'
    raise MetricsNotFoundError(
        f'{work_dir}: no metrics with the keys {list(keys)} found ({detail}); searched '
        f'{", ".join(str(p) for p in searched)}')


def collect_metrics(run: str | Path, keys: Sequence[str] = DEFAULT_KEYS) -> RunMetrics:
    """Final metrics of one run given as a JSON file or an mmengine work dir.

    Args:
        run: A metric JSON file or a work dir.
        keys: Metric keys to read.

    Returns:
        The metrics of the run.

    Raises:
        FileNotFoundError: ``run`` does not exist.
        MetricsNotFoundError: The run holds no record with all keys.
    """
    path = Path(run)
    if path.is_file():
        return metrics_from_file(path, keys)
    if path.is_dir():
        return metrics_from_work_dir(path, keys)
    raise FileNotFoundError(f'no such metric file or work dir: {run}')


def summarize(values: Mapping[str, Sequence[float]]) -> dict[str, dict[str, float | None]]:
    """Mean, sample std (``ddof=1``), min and max of each metric over the runs.

    Args:
        values: Per key, the value of each run.

    Returns:
        Per key ``{'mean', 'std', 'min', 'max', 'n'}``; ``std`` is None for a single run.
    """
    summary = {}
    for key, vals in values.items():
        arr = np.asarray(vals, dtype=np.float64)
        if arr.size == 0:
            raise ValueError(f'no values for {key!r}')
        summary[key] = dict(
            mean=float(arr.mean()),
            std=float(arr.std(ddof=1)) if arr.size > 1 else None,
            min=float(arr.min()),
            max=float(arr.max()),
            n=int(arr.size))
    return summary


def summarize_runs(runs: Sequence[RunMetrics], keys: Sequence[str]) -> dict:
    """The summary of :func:`summarize` for a list of runs, plus the runs themselves.

    Args:
        runs: The runs' metrics.
        keys: Metric keys, in display order.

    Returns:
        A JSON-serialisable dict with ``keys``, ``std_ddof``, ``runs`` and ``summary``.
    """
    summary = summarize({key: [run.metrics[key] for run in runs] for key in keys})
    return dict(
        keys=list(keys),
        std_ddof=1,
        runs=[dict(run=run.run, source=run.source, step=run.step, metrics=run.metrics)
              for run in runs],
        summary=summary)


def format_table(result: Mapping, digits: int = 2) -> str:
    """A plain-text table of the runs and their mean ± std and max.

    Args:
        result: The output of :func:`summarize_runs`.
        digits: Decimal places.

    Returns:
        The table (one line per run, then mean ± std, min and max).
    """
    keys = result['keys']
    summary = result['summary']
    n = len(result['runs'])

    def num(value: float | None) -> str:
        return 'n/a' if value is None or math.isnan(value) else f'{value:.{digits}f}'

    rows = [[run['run'], '' if run['step'] is None else str(run['step']),
             *(num(run['metrics'][key]) for key in keys)] for run in result['runs']]
    rows.append([f'mean ± std (n={n}, ddof=1)', '',
                 *(f'{num(summary[k]["mean"])} ± {num(summary[k]["std"])}' for k in keys)])
    rows.append(['min', '', *(num(summary[k]['min']) for k in keys)])
    rows.append(['max', '', *(num(summary[k]['max']) for k in keys)])
    header = ['run', 'step', *keys]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]

    def line(cells: Sequence[str]) -> str:
        return '  '.join([cells[0].ljust(widths[0]), cells[1].rjust(widths[1]),
                          *(c.rjust(w) for c, w in zip(cells[2:], widths[2:], strict=True))])

    rule = '-' * len(line(header))
    out = [line(header), rule, *(line(r) for r in rows[:-3]), rule,
           *(line(r) for r in rows[-3:])]
    if n < 2:
        out.append('(the standard deviation needs at least two runs)')
    return '\n'.join(out)


# ----------------------------------------------------------------------------------------
# Launching one training run per seed.


@dataclass
class SeedRun:
    """One seed's training job.

    Attributes:
        seed: The random seed (``randomness.seed``).
        work_dir: Its work dir, ``<base_dir>/seed<seed>``.
        status: ``'done'`` (a checkpoint of the last iteration/epoch exists: skipped),
            ``'resume'`` (an earlier checkpoint exists: continued with ``--resume``) or
            ``'new'``.
        command: The ``tools/train.py`` command line (empty when done).
    """

    seed: int
    work_dir: Path
    status: str
    command: list[str] = field(default_factory=list)


def training_length(train_cfg: Mapping) -> tuple[str, int]:
    """The unit and length of a training schedule.

    Args:
        train_cfg: A config's ``train_cfg``.

    Returns:
        ``('iter', max_iters)`` or ``('epoch', max_epochs)``.

    Raises:
        ValueError: The schedule sets neither.
    """
    if train_cfg.get('max_iters') is not None:
        return 'iter', int(train_cfg['max_iters'])
    if train_cfg.get('max_epochs') is not None:
        return 'epoch', int(train_cfg['max_epochs'])
    raise ValueError(f'train_cfg sets neither max_iters nor max_epochs: {dict(train_cfg)}')


def config_training_length(config: str, cfg_options: Mapping | None = None) -> tuple[str, int]:
    """:func:`training_length` of a config file after ``--cfg-options`` overrides.

    Args:
        config: The config file.
        cfg_options: Overrides as ``tools/train.py`` would apply them.

    Returns:
        ``('iter', n)`` or ``('epoch', n)``.
    """
    from mmengine.config import Config

    from mmhfpl.utils import merge_cfg_options

    cfg = Config.fromfile(config)
    if cfg_options:
        merge_cfg_options(cfg, dict(cfg_options))
    return training_length(cfg.get('train_cfg') or {})


def checkpoint_progress(work_dir: str | Path) -> tuple[str, int] | None:
    """Progress recorded by mmengine's ``last_checkpoint`` file in a work dir.

    Args:
        work_dir: An mmengine work dir.

    Returns:
        ``('iter', n)`` / ``('epoch', n)`` of the checkpoint ``last_checkpoint`` names
        (``iter_<n>.pth`` / ``epoch_<n>.pth``), or None without one, when the checkpoint
        file is gone or its name has another form.
    """
    marker = Path(work_dir) / 'last_checkpoint'
    if not marker.is_file():
        return None
    checkpoint = Path(marker.read_text(encoding='utf-8').strip())
    if not (checkpoint.is_file() or (Path(work_dir) / checkpoint.name).is_file()):
        return None
    match = _CHECKPOINT.fullmatch(checkpoint.name)
    if match is None:
        return None
    return match.group(1), int(match.group(2))


def plan_seed_runs(config: str, seeds: Sequence[int], base_dir: str | Path,
                   length: tuple[str, int], train_script: str | Path,
                   cfg_options: Sequence[str] = (),
                   python: str = sys.executable) -> list[SeedRun]:
    """Decide, per seed, whether to skip, resume or start its training run.

    The command of seed ``k`` is ``python train_script config --work-dir base_dir/seed<k>
    [--resume] --cfg-options *cfg_options randomness.seed=<k>``; the seed comes last, so it
    overrides any seed in ``cfg_options``.

    Args:
        config: The training config.
        seeds: The seeds, in launch order.
        base_dir: Parent of the per-seed work dirs.
        length: ``(unit, n)`` of the schedule (:func:`config_training_length`); a run is
            done when its last checkpoint has that unit and reached ``n``.
        train_script: Path of ``tools/train.py``.
        cfg_options: Extra ``key=value`` overrides for every run.
        python: Interpreter for the training script.

    Returns:
        One :class:`SeedRun` per seed.
    """
    if len(set(seeds)) != len(seeds):
        raise ValueError(f'duplicate seeds: {list(seeds)}')
    unit, total = length
    plan = []
    for seed in seeds:
        work_dir = Path(base_dir) / f'seed{seed}'
        progress = checkpoint_progress(work_dir)
        if progress is not None and progress[0] == unit and progress[1] >= total:
            plan.append(SeedRun(seed, work_dir, 'done'))
            continue
        status = 'new' if progress is None else 'resume'
        command = [python, str(train_script), str(config), '--work-dir', str(work_dir)]
        if status == 'resume':
            command.append('--resume')
        command += ['--cfg-options', *cfg_options, f'randomness.seed={seed}']
        plan.append(SeedRun(seed, work_dir, status, command))
    return plan


def run_seed_plan(plan: Sequence[SeedRun],
                  runner: Callable[[list[str]], int] | None = None,
                  log: Callable[[str], None] = print) -> None:
    """Launch the planned runs one after the other.

    Args:
        plan: The output of :func:`plan_seed_runs`; ``'done'`` entries are skipped.
        runner: Runs a command and returns its exit code (default: ``subprocess.run``
            with the output passed through).
        log: Receives one progress line per seed.

    Raises:
        RuntimeError: A run failed (names the seed, its work dir and the exit code).
    """
    if runner is None:
        def runner(command: list[str]) -> int:
            return subprocess.run(command, check=False).returncode

    for job in plan:
        if job.status == 'done':
            log(f'seed {job.seed}: finished run in {job.work_dir}, skipped')
            continue
        log(f'seed {job.seed}: {"resuming" if job.status == "resume" else "starting"} '
            f'in {job.work_dir}: {" ".join(job.command)}')
        code = runner(job.command)
        if code != 0:
            raise RuntimeError(f'seed {job.seed}: training in {job.work_dir} exited with '
                               f'code {code}; rerun to resume it')


TRAIN_SCRIPT = Path(__file__).resolve().parents[1] / 'train.py'


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
