"""Resuming mmengine 0.10.7 checkpoints under torch >= 2.6.

torch 2.6 made ``torch.load`` default to ``weights_only=True``, which refuses
every global it does not know. mmengine 0.10.7's ``load_from_local`` calls
``torch.load`` without that argument, and its checkpoints hold the message hub's
``HistoryBuffer`` objects, so ``--resume`` fails with "Weights only load failed
... HistoryBuffer". Rather than turning the safety check off, the few globals an
mmengine checkpoint contains are allow-listed:

* ``HistoryBuffer`` and the numpy array/scalar/dtype reconstructors its
  histories need;
* ``getattr``, but only in a restricted form: ``HistoryBuffer.__getstate__``
  pickles its statistic methods as ``getattr(HistoryBuffer, 'min')`` etc., so the
  stand-in returns exactly those methods and refuses everything else (an
  unrestricted ``getattr`` would reach arbitrary attributes and defeat the check).
"""

import pickle
from typing import Any

import numpy as np
import torch
from mmengine.logging.history_buffer import HistoryBuffer

# HistoryBuffer registers these in __init__; custom ones join _statistics_methods.
_DEFAULT_STATISTICS = ('min', 'max', 'current', 'mean')


def history_buffer_getattr(obj: Any, name: str) -> Any:
    """``getattr`` limited to the statistic methods a ``HistoryBuffer`` pickles."""
    allowed = {*_DEFAULT_STATISTICS, *HistoryBuffer._statistics_methods}
    if obj is HistoryBuffer and name in allowed:
        return getattr(obj, name)
    raise pickle.UnpicklingError(
        f'checkpoint calls getattr({obj!r}, {name!r}); only HistoryBuffer statistic methods '
        'are allowed when loading with weights_only=True')


def checkpoint_safe_globals() -> list:
    """Globals an mmengine training checkpoint needs beyond torch's defaults."""
    numpy_types: list = [
        np.ndarray,
        np.dtype,
        np._core.multiarray._reconstruct,
        np._core.multiarray.scalar,
    ]
    # Each dtype of an array or scalar pickles as its own DType class.
    numpy_types += sorted({type(np.dtype(code)) for code in np.typecodes['All']},
                          key=lambda cls: cls.__name__)
    return [HistoryBuffer, *numpy_types, (history_buffer_getattr, 'builtins.getattr')]


def allow_mmengine_checkpoints() -> None:
    """Allow-list :func:`checkpoint_safe_globals` for ``torch.load(weights_only=True)``."""
    torch.serialization.add_safe_globals(checkpoint_safe_globals())
