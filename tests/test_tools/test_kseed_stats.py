"""k-seed statistics: metric files, mmengine work dirs, error messages and the --run mode."""

import json
from pathlib import Path

import pytest

from tests.conftest import REPO, load_tool

kseed = load_tool('tools/analysis_tools/kseed_stats.py')
MetricsNotFoundError = kseed.MetricsNotFoundError
collect_metrics = kseed.collect_metrics
plan_seed_runs = kseed.plan_seed_runs
run_seed_plan = kseed.run_seed_plan
summarize_runs = kseed.summarize_runs

TOY_DEEPLAB = str(REPO / 'configs/deeplab/deeplabv3plus_r18_toy_pseudo.py')


def _load_cli():
    return kseed


def _write_json(path: Path, data) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))
    return path


def _write_jsonl(path: Path, records: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(''.join(json.dumps(r) + '\n' for r in records))
    return path


# Three runs. By hand: mIoU 60/62/64 -> mean 62, sample std sqrt((4 + 0 + 4) / 2) = 2
# (population std would be 1.633); F 40/43/46 -> 43 ± 3; J&F 50/52.5/55 -> 52.5 ± 2.5.
RUNS = [dict(mIoU=60.0, F=40.0, **{'J&F': 50.0}, aAcc=90.0),
        dict(mIoU=62.0, F=43.0, **{'J&F': 52.5}, aAcc=91.0),
        dict(mIoU=64.0, F=46.0, **{'J&F': 55.0}, aAcc=92.0)]


def test_mean_and_sample_std_of_metric_files(tmp_path, capsys):
    files = [str(_write_json(tmp_path / f'run{i}.json', run)) for i, run in enumerate(RUNS)]
    out = tmp_path / 'summary' / 'kseed.json'
    assert _load_cli().main([*files, '--json', str(out)]) == 0

    summary = json.loads(out.read_text())
    assert summary['std_ddof'] == 1
    expected = {'mIoU': (62.0, 2.0, 64.0), 'F': (43.0, 3.0, 46.0), 'J&F': (52.5, 2.5, 55.0)}
    for key, (mean, std, best) in expected.items():
        assert summary['summary'][key]['mean'] == pytest.approx(mean)
        assert summary['summary'][key]['std'] == pytest.approx(std)
        assert summary['summary'][key]['max'] == pytest.approx(best)
    assert [run['source'] for run in summary['runs']] == files

    table = capsys.readouterr().out
    assert '62.00 ± 2.00' in table and '43.00 ± 3.00' in table and '52.50 ± 2.50' in table
    assert 'ddof=1' in table


def test_other_keys_and_single_run(tmp_path):
    files = [_write_json(tmp_path / f'run{i}.json', run) for i, run in enumerate(RUNS)]
    result = summarize_runs([collect_metrics(f, ['aAcc']) for f in files], ['aAcc'])
    assert result['summary']['aAcc']['mean'] == pytest.approx(91.0)
    assert result['summary']['aAcc']['std'] == pytest.approx(1.0)

    single = summarize_runs([collect_metrics(files[0])], list(kseed.DEFAULT_KEYS))
    assert single['summary']['mIoU']['std'] is None
    assert 'at least two runs' in kseed.format_table(single)


def test_json_lines_log_takes_last_record_with_the_keys(tmp_path):
    log = _write_jsonl(tmp_path / 'scalars.json', [
        {'loss': 1.0, 'step': 50},
        {'mIoU': 30.0, 'F': 10.0, 'J&F': 20.0, 'step': 100},
        {'loss': 0.5, 'step': 150},
        {'mIoU': 40.0, 'F': 20.0, 'J&F': 30.0, 'step': 200},
        {'loss': 0.4, 'step': 250},
    ])
    run = collect_metrics(log)
    assert run.metrics == {'mIoU': 40.0, 'F': 20.0, 'J&F': 30.0}
    assert run.step == 200


def test_work_dir_discovery_uses_newest_run_with_metrics(tmp_path):
    work = tmp_path / 'seed0'
    # First launch: trained to iteration 100 with a validation there.
    _write_jsonl(work / '20240101_100000/vis_data/scalars.json',
                 [{'loss': 2.0, 'step': 10}, {'mIoU': 11.0, 'F': 1.0, 'J&F': 6.0, 'step': 100}])
    # Resumed launch: validations at 200 and 400, then training records only.
    resumed = _write_jsonl(work / '20240102_090000/vis_data/scalars.json', [
        {'loss': 1.0, 'step': 150}, {'mIoU': 50.0, 'F': 30.0, 'J&F': 40.0, 'step': 200},
        {'mIoU': 60.0, 'F': 40.0, 'J&F': 50.0, 'step': 400}, {'loss': 0.3, 'step': 410}])
    _write_jsonl(work / '20240102_090000/vis_data/20240102_090000.json', [{'loss': 1.0}])
    (work / 'iter_400.pth').write_bytes(b'')
    (work / 'other_dir').mkdir()

    run = collect_metrics(work)
    assert run.metrics == {'mIoU': 60.0, 'F': 40.0, 'J&F': 50.0}
    assert run.step == 400 and run.source == str(resumed)

    # A later tools/test.py launch dumps one JSON object to <timestamp>/<timestamp>.json.
    test_log = _write_json(work / '20240103_120000/20240103_120000.json',
                           {'aAcc': 90.0, 'mIoU': 61.0, 'F': 41.0, 'J&F': 51.0, 'time': 0.1})
    run = collect_metrics(work)
    assert run.metrics['mIoU'] == 61.0 and run.source == str(test_log) and run.step is None

    # A newer launch without metrics yet (e.g. interrupted) does not hide the earlier ones.
    _write_jsonl(work / '20240104_080000/vis_data/scalars.json', [{'loss': 0.2, 'step': 10}])
    assert collect_metrics(work).source == str(test_log)


def test_missing_key_error_names_the_file(tmp_path, capsys):
    good = _write_json(tmp_path / 'good.json', RUNS[0])
    bad = _write_json(tmp_path / 'bad.json', {'mIoU': 60.0, 'F': 40.0})
    with pytest.raises(MetricsNotFoundError, match=r'bad\.json.*missing \[\'J&F\'\]'):
        collect_metrics(bad)

    assert _load_cli().main([str(good), str(bad)]) == 1
    err = capsys.readouterr().err
    assert str(bad) in err and 'J&F' in err


def test_work_dir_without_metrics_names_the_directory(tmp_path):
    empty = tmp_path / 'empty_run'
    empty.mkdir()
    with pytest.raises(MetricsNotFoundError, match='empty_run.*no mmengine JSON log'):
        collect_metrics(empty)
    train_only = tmp_path / 'train_only'
    log = _write_jsonl(train_only / '20240101_100000/vis_data/scalars.json',
                       [{'loss': 1.0, 'step': 10}])
    with pytest.raises(MetricsNotFoundError) as info:
        collect_metrics(train_only)
    assert str(train_only) in str(info.value) and str(log) in str(info.value)
    with pytest.raises(FileNotFoundError, match='nowhere'):
        collect_metrics(tmp_path / 'nowhere')
    not_json = tmp_path / 'broken.json'
    not_json.write_text('{"mIoU": 1\n{oops\n')
    with pytest.raises(ValueError, match=r'broken\.json:1'):
        collect_metrics(not_json)


def _checkpoint(work_dir: Path, name: str) -> None:
    work_dir.mkdir(parents=True, exist_ok=True)
    (work_dir / name).write_bytes(b'')
    (work_dir / 'last_checkpoint').write_text(str(work_dir / name))


def test_seed_plan_skips_finished_and_resumes_interrupted_runs(tmp_path):
    base = tmp_path / 'exp'
    _checkpoint(base / 'seed0', 'iter_100.pth')  # finished
    _checkpoint(base / 'seed1', 'iter_50.pth')  # interrupted
    (base / 'seed3').mkdir()  # last_checkpoint names a deleted file: start again
    (base / 'seed3' / 'last_checkpoint').write_text(str(base / 'seed3' / 'iter_80.pth'))

    plan = plan_seed_runs('cfg.py', [0, 1, 2, 3], base, ('iter', 100), 'tools/train.py',
                          cfg_options=['train_cfg.max_iters=100', 'randomness.seed=9'],
                          python='py')
    assert [job.status for job in plan] == ['done', 'resume', 'new', 'new']
    assert plan[0].command == []
    assert plan[1].command == [
        'py', 'tools/train.py', 'cfg.py', '--work-dir', str(base / 'seed1'), '--resume',
        '--cfg-options', 'train_cfg.max_iters=100', 'randomness.seed=9', 'randomness.seed=1']
    assert plan[2].command[3:6] == ['--work-dir', str(base / 'seed2'), '--cfg-options']
    assert plan[2].command[-1] == 'randomness.seed=2'

    # A longer schedule makes seed0 unfinished; an epoch schedule never matches iter_ files.
    assert plan_seed_runs('cfg.py', [0], base, ('iter', 200), 't.py')[0].status == 'resume'
    assert plan_seed_runs('cfg.py', [0], base, ('epoch', 5), 't.py')[0].status == 'resume'
    with pytest.raises(ValueError, match='duplicate'):
        plan_seed_runs('cfg.py', [1, 1], base, ('iter', 100), 't.py')

    launched = []
    run_seed_plan(plan, runner=lambda cmd: launched.append(cmd) or 0, log=lambda _: None)
    assert launched == [job.command for job in plan[1:]]
    with pytest.raises(RuntimeError, match='seed 1.*exited with code 3'):
        run_seed_plan(plan, runner=lambda cmd: 3, log=lambda _: None)


def test_run_mode_reads_schedule_from_config_and_collects(tmp_path, monkeypatch, capsys):
    cli = _load_cli()
    base = tmp_path / 'exp'
    _checkpoint(base / 'seed0', 'iter_30.pth')
    options = ['train_cfg.max_iters=30', 'param_scheduler.PolyLR.end=30']

    assert cli.main(['--run', TOY_DEEPLAB, '--seeds', '0', '1', '--base-dir', str(base),
                     '--dry-run', '--cfg-options', *options]) == 0
    out = capsys.readouterr().out
    assert 'seed 0 [done]' in out and 'seed 1 [new]' in out
    assert f'{cli.TRAIN_SCRIPT} {TOY_DEEPLAB} --work-dir {base / "seed1"}' in out

    def fake_training(plan):  # stands in for the tools/train.py launches
        for job in plan:
            value = 50.0 + 2 * job.seed
            _write_jsonl(job.work_dir / '20240101_100000/vis_data/scalars.json',
                         [{'mIoU': value, 'F': value - 10, 'J&F': value - 5, 'step': 30}])
        fake_training.plans.append(plan)
    fake_training.plans = []
    monkeypatch.setattr(cli, 'run_seed_plan', fake_training)
    summary_file = tmp_path / 'summary.json'
    assert cli.main(['--run', TOY_DEEPLAB, '--seeds', '0', '1', '--base-dir', str(base),
                     '--json', str(summary_file), '--cfg-options', *options]) == 0
    [plan] = fake_training.plans
    assert [job.status for job in plan] == ['done', 'new']
    summary = json.loads(summary_file.read_text())
    assert summary['summary']['mIoU']['mean'] == pytest.approx(51.0)
    assert summary['summary']['mIoU']['std'] == pytest.approx(2 ** 0.5)
