"""File backends of mmhfpl for mmengine's file I/O (checkpoints, ``last_checkpoint``)."""

from .atomic_local_backend import AtomicLocalBackend

__all__ = ['AtomicLocalBackend']
