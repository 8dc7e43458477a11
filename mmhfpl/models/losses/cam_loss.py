"""Common base of the CAM-head losses."""

from torch import Tensor, nn


class CAMLoss(nn.Module):
    """A loss of a CAM head, OpenMMLab style (``loss_weight``, ``loss_name``).

    Subclasses implement ``forward(scores, labels, images=None) -> dict`` for raw CAM
    scores (B, C, h, w), multi-hot labels (B, C) and the preprocessed input batch, and
    return their weighted terms keyed by loss name (keys must start with ``loss``).

    Args:
        loss_weight: Factor applied to the loss.
        loss_name: Key of the loss in the returned dict.
    """

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

    def forward(self, scores: Tensor, labels: Tensor,
                images: Tensor | None = None) -> dict[str, Tensor]:
        raise NotImplementedError
