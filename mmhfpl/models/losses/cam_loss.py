"""The one loss contract of mmhfpl, and its CAM-head form.

Every registered loss of mmhfpl is a :class:`WSSSLoss`: an ``nn.Module`` with
``loss_weight`` and ``loss_name`` (OpenMMLab style) whose ``forward`` returns a dict of its
weighted terms keyed by name, keys starting with ``loss`` (mmengine sums those). Most losses
return one term, ``{loss_name: loss_weight * value}``; a loss made of several terms (ISL with
its GAP BCE) returns each, so the log shows them apart. Models collect the dicts with
:func:`mmhfpl.models.heads.cam_head.add_losses`, which refuses duplicate names.

:class:`CAMLoss` is the form a CAM head's loss list takes: ``forward(scores, labels,
images=None)`` for raw CAM scores (B, C, h, w), multi-hot labels (B, C) and the input batch
as images in [0, 1] (the classifier undoes its data preprocessor's normalisation), so any of
them (GAP BCE, ISL, FSL, ...) is drop-in in ``CAMHead(losses=[...])``,
``SpatialBCEHead(extra_losses=[...])`` or SEAM's head.
"""

import functools
import inspect

from torch import Tensor, nn


class WSSSLoss(nn.Module):
    """Base of every registered mmhfpl loss (see the module docstring).

    An unknown keyword at construction (a misspelt option in a config) is an error naming
    the loss and its options, raised when the model is built; losses that take arbitrary
    keywords (``**kwargs``) check them themselves.

    Args:
        loss_weight: Factor applied to the loss.
        loss_name: Key of the loss in the returned dict (must start with ``loss``).
    """

    def __init_subclass__(cls, **kwargs) -> None:
        super().__init_subclass__(**kwargs)
        init = cls.__dict__.get('__init__')
        if init is None:
            return
        parameters = inspect.signature(init).parameters.values()
        if any(p.kind is p.VAR_KEYWORD for p in parameters):
            return
        options = [p.name for p in parameters if p.name != 'self']

        @functools.wraps(init)
        def checked_init(self, *args, **kw) -> None:
            unknown = sorted(set(kw) - set(options))
            if unknown:
                raise TypeError(f'{type(self).__name__} got unknown options {unknown}; its '
                                f'options are {", ".join(options)}')
            init(self, *args, **kw)

        cls.__init__ = checked_init

    def __init__(self, loss_weight: float = 1.0, loss_name: str = 'loss') -> None:
        super().__init__()
        if not loss_name.startswith('loss'):
            raise ValueError(f"loss_name must start with 'loss' (mmengine sums those keys), "
                             f'got {loss_name!r}')
        self.loss_weight = loss_weight
        self._loss_name = loss_name

    @property
    def loss_name(self) -> str:
        return self._loss_name

    def weighted(self, value: Tensor) -> dict[str, Tensor]:
        """``{loss_name: loss_weight * value}``, the usual one-term result."""
        return {self.loss_name: self.loss_weight * value}


class CAMLoss(WSSSLoss):
    """A loss of a CAM head's loss list: ``forward(scores, labels, images=None) -> dict``."""

    def forward(self, scores: Tensor, labels: Tensor,
                images: Tensor | None = None) -> dict[str, Tensor]:
        raise NotImplementedError


def sum_terms(*results: dict[str, Tensor]) -> dict[str, Tensor]:
    """Add loss dicts of the same names (e.g. one loss applied to both SEAM branches)."""
    total: dict[str, Tensor] = {}
    for result in results:
        for name, value in result.items():
            total[name] = total[name] + value if name in total else value
    return total
