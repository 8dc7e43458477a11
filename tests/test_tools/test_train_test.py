"""tools/train.py, tools/test.py and tools/dist_train.sh as a user runs them."""

import json
import os
import subprocess
import sys

import pytest
from mmengine.config import Config

from mmhfpl.utils import merge_cfg_options
from tests.conftest import REPO, TOY_CONFIG, as_cli, free_port, load_tool, run_tool, tiny_options


def test_train_resume_and_test_cli(tmp_path, toy_root):
    work = tmp_path / 'work'
    options = tiny_options(toy_root, max_iters=2, interval=2)
    run_tool([sys.executable, 'tools/train.py', TOY_CONFIG, '--work-dir', str(work),
              *as_cli(options)])
    assert (work / 'iter_2.pth').exists()
    assert (work / 'last_checkpoint').read_text().strip().endswith('iter_2.pth')

    options.update({'train_cfg.max_iters': 4, 'train_cfg.val_interval': 4,
                    'param_scheduler.0.end': 4})
    resumed = run_tool([sys.executable, 'tools/train.py', TOY_CONFIG, '--work-dir', str(work),
                        '--resume', *as_cli(options)])
    logs = resumed.stdout + resumed.stderr
    assert 'resumed epoch: 0, iter: 2' in logs
    assert (work / 'iter_4.pth').exists()

    out = tmp_path / 'metrics.json'
    run_tool([sys.executable, 'tools/test.py', TOY_CONFIG, str(work / 'iter_4.pth'),
              '--work-dir', str(tmp_path / 'test'), '--out', str(out), *as_cli(options)])
    metrics = json.loads(out.read_text())
    assert 0.0 <= metrics['multi-label/mAP'] <= 100.0


@pytest.mark.slow
def test_dist_train_and_test_two_cpu_processes(tmp_path, toy_root):
    work = tmp_path / 'dist'
    result = run_tool(['bash', 'tools/dist_train.sh', TOY_CONFIG, '2', '--work-dir', str(work),
                       *as_cli(tiny_options(toy_root, max_iters=2, interval=2))],
                      PORT=str(free_port()))
    logs = result.stdout + result.stderr
    assert 'Distributed launcher: pytorch' in logs
    assert 'Distributed training: True' in logs
    assert 'GPU number: 2' in logs, 'mmengine reports the world size as GPU number'
    assert "'backend': 'gloo'" in logs
    assert (work / 'iter_2.pth').exists()

    out = tmp_path / 'dist_metrics.json'
    run_tool(['bash', 'tools/dist_test.sh', TOY_CONFIG, str(work / 'iter_2.pth'), '2',
              '--work-dir', str(tmp_path / 'dist_test'), '--out', str(out),
              *as_cli(tiny_options(toy_root))], PORT=str(free_port()))
    assert 0.0 <= json.loads(out.read_text())['multi-label/mAP'] <= 100.0


def test_merge_args_applies_cli_options(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the default work dir ./work_dirs/... is empty there
    tool = load_tool('tools/train.py')
    cfg = Config.fromfile(TOY_CONFIG)
    args = tool.argparse.Namespace(
        config=TOY_CONFIG, work_dir=None, resume='auto', amp=True, launcher='none',
        cfg_options={'train_cfg.max_iters': 7, 'param_scheduler.PolyLR.end': 7})
    cfg = tool.merge_args(cfg, args)
    assert cfg.work_dir.endswith('work_dirs/multilabel_r18_toy')
    assert cfg.optim_wrapper.type == 'AmpOptimWrapper'
    assert cfg.optim_wrapper.loss_scale == 'dynamic'
    assert cfg.resume is False and cfg.load_from is None, 'nothing to resume in a new work dir'
    assert cfg.train_cfg.max_iters == 7
    args.resume, args.amp = 'some/ckpt.pth', False
    cfg = tool.merge_args(Config.fromfile(TOY_CONFIG), args)
    assert cfg.load_from == 'some/ckpt.pth' and cfg.optim_wrapper.type == 'OptimWrapper'
    # --resume without a path resumes only where a checkpoint was written.
    work = tmp_path / 'work'
    work.mkdir()
    (work / 'last_checkpoint').write_text(str(work / 'iter_2.pth'))
    args.resume, args.work_dir = 'auto', str(work)
    assert tool.merge_args(Config.fromfile(TOY_CONFIG), args).resume is True


def test_launcher_without_gpu_rejects_slurm():
    from mmhfpl.utils import prepare_launcher
    cfg = Config.fromfile(TOY_CONFIG)
    with pytest.raises(ValueError, match='needs GPUs'):
        prepare_launcher(cfg, 'slurm')


def test_close_launcher_destroys_the_process_group(tmp_path):
    import torch.distributed as dist

    from mmhfpl.utils import close_launcher
    close_launcher()  # no group: nothing to do
    dist.init_process_group('gloo', init_method=f'file://{tmp_path / "store"}', rank=0,
                            world_size=1)
    assert dist.is_initialized()
    close_launcher()
    assert not dist.is_initialized()


def test_cfg_options_name_list_items_by_type():
    cfg = Config.fromfile(str(REPO / 'configs/refine/affinitynet_r18_toy.py'))
    merge_cfg_options(cfg, {
        'train_dataloader.dataset.pipeline.LoadCAMFromFile.cam_dir': '/cams',
        'train_dataloader.dataset.pipeline.AlphaSeedLabels.cache_dir': '/seeds',
        'test_dataloader.dataset.pipeline.LoadCAMFromFile.cam_dir': '/cams',
        'train_dataloader.batch_size': 3,
    })
    steps = {step['type']: step for step in cfg.train_dataloader.dataset.pipeline}
    assert steps['LoadCAMFromFile']['cam_dir'] == '/cams'
    assert steps['AlphaSeedLabels']['cache_dir'] == '/seeds'
    assert [step.get('cam_dir') for step in cfg.test_dataloader.dataset.pipeline
            if step['type'] == 'LoadCAMFromFile'] == ['/cams']
    assert cfg.train_dataloader.batch_size == 3
    with pytest.raises(KeyError, match=r"no item of type 'LoadCam' .*LoadCAMFromFile"):
        merge_cfg_options(cfg, {'train_dataloader.dataset.pipeline.LoadCam.cam_dir': 'x'})
    with pytest.raises(KeyError, match="has no 'train_loader'"):
        merge_cfg_options(cfg, {'train_loader.dataset.pipeline.LoadCAMFromFile.cam_dir': 'x'})


@pytest.mark.parametrize('script', ['tools/dist_train.sh', 'tools/dist_test.sh'])
def test_dist_scripts_give_each_process_a_share_of_the_cores(tmp_path, script):
    fake = tmp_path / 'python'
    fake.write_text('#!/bin/sh\necho "OMP=$OMP_NUM_THREADS"\n')
    fake.chmod(0o755)
    args = ['bash', script, 'cfg.py', *(['ckpt.pth'] if 'test' in script else []), '2']
    env = {k: v for k, v in os.environ.items() if k != 'OMP_NUM_THREADS'}
    out = subprocess.run(args, cwd=REPO, env={**env, 'PYTHON': str(fake)},
                         capture_output=True, text=True, check=True).stdout
    assert f'OMP={max(1, len(os.sched_getaffinity(0)) // 2)}' in out  # nproc's count
    out = subprocess.run(args, cwd=REPO, env={**env, 'PYTHON': str(fake), 'OMP_NUM_THREADS': '3'},
                         capture_output=True, text=True, check=True).stdout
    assert 'OMP=3' in out, 'an explicit setting wins'
