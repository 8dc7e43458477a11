"""Image-level BCE on globally average-pooled CAM scores (seed 000 Eq. 3, 17)."""

import torch.nn.functional as F
from torch import Tensor

from mmhfpl.registry import MODELS

from .cam_loss import CAMLoss
from .cam_posteriors import at_least_float32, multilabel_targets


def gap_bce_loss(scores: Tensor, labels: Tensor) -> Tensor:
    """L_ce = -(1/C) sum_c y_c log B_c + (1 - y_c) log(1 - B_c), averaged over the batch.

    B_c = sigmoid(S_c) with S_c the spatial mean of s_c (GAP; Eq. 3 up to the constant
    1/HW that GAP applies). Computed from the logits for numerical stability (Eq. 17).

    Args:
        scores: Raw CAM scores s (B, C, H, W).
        labels: Multi-hot image labels y (B, C).
    """
    image_scores = at_least_float32(scores).mean(dim=(2, 3))
    targets = multilabel_targets(labels, scores.shape[1], image_scores.dtype)
    return F.binary_cross_entropy_with_logits(image_scores, targets)


@MODELS.register_module()
class GAPBCELoss(CAMLoss):
    """Registered wrapper of :func:`gap_bce_loss` for CAM heads.

    Args:
        loss_weight: Factor applied to the loss.
        loss_name: Key of the loss in the loss dict (must start with ``loss``).
    """

    def __init__(self, loss_weight: float = 1.0, loss_name: str = 'loss_gap_bce') -> None:
        super().__init__(loss_weight, loss_name)

    def forward(self, scores: Tensor, labels: Tensor, images: Tensor | None = None) -> dict:
        """Return ``{loss_name: loss}``; ``images`` is unused (common CAM-loss signature)."""
        return self.weighted(gap_bce_loss(scores, labels))
