"""AtomicLocalBackend: a kill while a checkpoint is written leaves no partial file."""

import builtins
import os

import pytest
from mmengine.config import Config
from mmengine.fileio import get_file_backend
from mmengine.fileio.backends import LocalBackend

from mmhfpl.engine.fileio import AtomicLocalBackend
from mmhfpl.engine.fileio import atomic_local_backend as backend_module
from tests.conftest import REPO


class Killed(BaseException):
    """Stands in for SIGKILL/KeyboardInterrupt arriving mid-write."""


def _dying_open(real_open):
    def dying(path, mode='r', *args, **kwargs):
        handle = real_open(path, mode, *args, **kwargs)
        if 'w' not in mode:
            return handle
        real_write = handle.write

        def write(data):
            real_write(data[:len(data) // 2])
            handle.flush()
            raise Killed()

        handle.write = write
        return handle
    return dying


@pytest.mark.parametrize('backend, partial_left', [(LocalBackend(), True),
                                                   (AtomicLocalBackend(), False)])
def test_a_kill_mid_write_leaves_the_old_file_or_nothing(tmp_path, monkeypatch, backend,
                                                         partial_left):
    target = tmp_path / 'work' / 'iter_4.pth'
    kept = tmp_path / 'work' / 'last_checkpoint'
    backend.put_text('iter_2.pth', kept)
    payload = os.urandom(4096)
    for module in (backend_module, builtins):
        monkeypatch.setattr(module, 'open', _dying_open(builtins.open), raising=False)
    with pytest.raises(Killed):
        backend.put(payload, target)
    with pytest.raises(Killed):
        backend.put_text('iter_4.pth', kept)
    monkeypatch.undo()
    # mmengine's LocalBackend leaves a truncated checkpoint and an empty-ish pointer: the
    # failure this backend exists for. The atomic one leaves the old state and no debris.
    assert target.exists() == partial_left
    if partial_left:
        assert 0 < target.stat().st_size < len(payload)
    else:
        assert kept.read_text() == 'iter_2.pth'
        assert sorted(p.name for p in target.parent.iterdir()) == ['last_checkpoint']


def test_complete_writes_and_the_runtime_default(tmp_path):
    backend = get_file_backend(str(tmp_path / 'a.pth'), backend_args=dict(backend='mmhfpl_local'))
    assert isinstance(backend, AtomicLocalBackend)
    backend.put(b'abc', tmp_path / 'sub' / 'a.pth')
    backend.put_text('x', tmp_path / 'sub' / 'last_checkpoint')
    assert (tmp_path / 'sub' / 'a.pth').read_bytes() == b'abc'
    assert backend.get_text(tmp_path / 'sub' / 'last_checkpoint') == 'x'
    for config in ('configs/cam/cam_r18_toy.py', 'configs/deeplab/deeplabv3plus_r18_toy_pseudo.py',
                   'configs/seam/seam_r38_voc.py'):
        cfg = Config.fromfile(str(REPO / config))
        assert cfg.default_hooks.checkpoint.backend_args == dict(backend='mmhfpl_local'), config
