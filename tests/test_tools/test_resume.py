"""Training stops, resumes under torch >= 2.6 (weights_only loading) and continues exactly."""

import copy
import subprocess
import sys
import textwrap

import pytest
import torch
from mmengine.config import Config
from mmengine.hooks import Hook
from mmengine.runner import Runner

from mmhfpl.registry import HOOKS
from tests.conftest import REPO, TOY_CONFIG, tiny_options


class SimulatedKillError(RuntimeError):
    """Raised by the probe to stop training the way a crash would."""


@HOOKS.register_module(force=True)
class ResumeProbeHook(Hook):
    """A stateful hook: counts trained iterations and keeps the count in checkpoints."""

    def __init__(self, kill_at: int | None = None) -> None:
        self.kill_at = kill_at
        self.count = 0
        self.start_iter = None
        self.optimizer_at_start = None

    def before_train(self, runner) -> None:
        self.start_iter = runner.iter
        self.optimizer_at_start = copy.deepcopy(runner.optim_wrapper.state_dict())

    def before_train_iter(self, runner, batch_idx, data_batch=None) -> None:
        if self.kill_at is not None and runner.iter == self.kill_at:
            raise SimulatedKillError(f'killed at iteration {runner.iter}')

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        self.count += 1

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        checkpoint['resume_probe'] = dict(count=self.count)

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        self.count = checkpoint['resume_probe']['count']


def _runner(toy_root: str, work_dir: str, kill_at: int | None = None,
            resume: bool = False) -> Runner:
    cfg = Config.fromfile(TOY_CONFIG)
    cfg.merge_from_dict(tiny_options(toy_root, max_iters=4, interval=2))
    cfg.work_dir = work_dir
    cfg.resume = resume
    cfg.custom_hooks = [dict(type='mmhfpl.ResumeProbeHook', kill_at=kill_at)]
    cfg.experiment_name = f'resume_{kill_at}_{resume}_{abs(hash(work_dir))}'
    return Runner.from_cfg(cfg)


def _probe(runner: Runner) -> ResumeProbeHook:
    return next(h for h in runner.hooks if isinstance(h, ResumeProbeHook))


def test_kill_and_resume_continues_like_an_uninterrupted_run(tmp_path, toy_root):
    killed = _runner(toy_root, str(tmp_path / 'run'), kill_at=2)
    with pytest.raises(SimulatedKillError):
        killed.train()
    checkpoint_path = tmp_path / 'run' / 'iter_2.pth'
    assert checkpoint_path.exists() and not (tmp_path / 'run' / 'iter_4.pth').exists()

    resumed = _runner(toy_root, str(tmp_path / 'run'), resume=True)
    resumed.train()
    probe = _probe(resumed)
    assert probe.start_iter == 2, 'training continues at the checkpointed iteration'
    assert resumed.iter == 4
    assert probe.count == 4, "the custom hook's state was restored and continued"

    saved = torch.load(checkpoint_path, map_location='cpu', weights_only=True)
    restored = probe.optimizer_at_start['state']
    assert restored, 'the optimizer state is not empty'
    for key, state in saved['optimizer']['state'].items():
        for name in ('exp_avg', 'exp_avg_sq'):
            torch.testing.assert_close(restored[key][name], state[name], rtol=0, atol=0)

    uninterrupted = _runner(toy_root, str(tmp_path / 'straight'))
    uninterrupted.train()
    final_resumed = resumed.model.state_dict()
    for name, value in uninterrupted.model.state_dict().items():
        torch.testing.assert_close(final_resumed[name], value, rtol=1e-5, atol=1e-6,
                                   msg=f'{name} differs after resume')


def test_checkpoints_need_the_allow_list(tmp_path, toy_root):
    """Without importing mmhfpl, torch's default weights_only load rejects the checkpoint."""
    runner = _runner(toy_root, str(tmp_path / 'run'))
    runner.train()
    script = textwrap.dedent(f"""
        import pickle, torch
        path = {str(tmp_path / 'run' / 'iter_2.pth')!r}
        try:
            torch.load(path, map_location='cpu')
        except pickle.UnpicklingError as err:
            assert 'HistoryBuffer' in str(err), err
            print('rejected')
        import mmhfpl
        ckpt = torch.load(path, map_location='cpu')
        print('loaded', ckpt['meta']['iter'])
    """)
    out = subprocess.run([sys.executable, '-c', script], cwd=REPO, capture_output=True,
                         text=True, check=False)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ['rejected', 'loaded', '2']
