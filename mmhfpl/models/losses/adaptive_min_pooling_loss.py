"""SEAM's adaptive min-pooling loss on the revised CAMs (released train_SEAM.py)."""

import torch.nn.functional as F
from torch import Tensor

from mmhfpl.registry import MODELS

from .cam_loss import WSSSLoss


def adaptive_min_pooling_loss(revised: Tensor, ratio: float = 0.25) -> Tensor:
    """SEAM's ``adaptive_min_pooling_loss`` on revised foreground CAMs.

    ``m = max_c revised_c`` per pixel; the loss is ``sum ReLU(m_i)`` over the
    ``k = floor(ratio * h w)`` pixels with the smallest ``m`` of each image, divided by
    ``k B``. The released code applies it to the raw (not normalised) revised CAM at
    input resolution, foreground channels masked by the labels.

    Args:
        revised: Revised foreground CAMs (B, C, h, w) (no background channel).
        ratio: Fraction of pixels pooled (SEAM: 1/4).
    """
    if revised.ndim != 4:
        raise ValueError(f'revised must be (B, C, H, W), got {tuple(revised.shape)}')
    if not 0.0 < ratio <= 1.0:
        raise ValueError(f'ratio must lie in (0, 1], got {ratio}')
    peak = revised.amax(dim=1).flatten(1)
    k = max(1, int(ratio * peak.shape[1]))
    lowest = peak.topk(k, dim=1, largest=False).values
    return F.relu(lowest).sum() / (k * peak.shape[0])


@MODELS.register_module()
class AdaptiveMinPoolingLoss(WSSSLoss):
    """Registered :func:`adaptive_min_pooling_loss` (one branch).

    SEAM adds ``(L_min^o + L_min^t) / 2`` to its classification loss, i.e. weight 0.5
    per branch.

    Args:
        ratio: Fraction of pixels pooled (SEAM: 0.25).
        loss_weight: Factor applied to the loss (SEAM: 0.5 per branch).
        loss_name: Key of the loss in the loss dict.
    """

    def __init__(self, ratio: float = 0.25, loss_weight: float = 0.5,
                 loss_name: str = 'loss_min_pool') -> None:
        super().__init__(loss_weight, loss_name)
        if not 0.0 < ratio <= 1.0:
            raise ValueError(f'ratio must lie in (0, 1], got {ratio}')
        self.ratio = ratio

    def forward(self, revised: Tensor) -> dict[str, Tensor]:
        """``{loss_name: loss_weight * L_min}`` of one branch."""
        return self.weighted(adaptive_min_pooling_loss(revised, self.ratio))
