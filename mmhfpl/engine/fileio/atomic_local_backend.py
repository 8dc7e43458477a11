"""A local file backend whose writes are atomic, for checkpoints a kill cannot corrupt.

mmengine's ``LocalBackend`` writes a checkpoint by opening ``iter_N.pth`` and writing its
bytes: a run killed meanwhile leaves a truncated ``iter_N.pth`` that looks finished (and
anything that trusts the name, e.g. "skip training when the final checkpoint exists", is
fooled). This backend writes every file through :func:`mmhfpl.structures.atomic_save`
(a temporary file in the same directory, then ``os.replace``), so a checkpoint and
``last_checkpoint`` appear complete or not at all. mmhfpl's ``default_runtime.py`` selects
it for the ``CheckpointHook``: ``backend_args=dict(backend='mmhfpl_local')``.
"""

from pathlib import Path

from mmengine.fileio import register_backend
from mmengine.fileio.backends import LocalBackend

from mmhfpl.structures import atomic_save


class AtomicLocalBackend(LocalBackend):
    """``LocalBackend`` with atomic ``put`` and ``put_text``."""

    def put(self, obj: bytes, filepath: str | Path) -> None:
        """Write ``obj`` to ``filepath``; the file appears only once complete."""
        def write(tmp: str) -> None:
            with open(tmp, 'wb') as handle:
                handle.write(obj)

        atomic_save(write, filepath, Path(filepath).suffix + '.tmp')

    def put_text(self, obj: str, filepath: str | Path, encoding: str = 'utf-8') -> None:
        """Write text ``obj`` to ``filepath``; the file appears only once complete."""
        def write(tmp: str) -> None:
            with open(tmp, 'w', encoding=encoding) as handle:
                handle.write(obj)

        atomic_save(write, filepath, Path(filepath).suffix + '.tmp')


register_backend('mmhfpl_local', AtomicLocalBackend, force=True)
