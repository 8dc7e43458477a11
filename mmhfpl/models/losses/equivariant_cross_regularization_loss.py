"""SEAM's equivariant cross regularisation ECR (Wang et al., CVPR 2020, §3.4)."""

from torch import Tensor

from mmhfpl.registry import MODELS

from .cam_loss import WSSSLoss
from .cam_posteriors import check_same_shape


def equivariant_cross_regularization_loss(revised: Tensor, target: Tensor,
                                          top_ratio: float = 0.2) -> Tensor:
    """One direction of L_ECR with SEAM's top-k selection.

    ``e = |target - revised|`` is flattened per image over all channels and pixels; the
    loss is the mean of the ``k = floor(top_ratio * (C+1) h w)`` largest entries of each
    image, averaged over the batch (the released code's
    ``mean(topk(e.view(n, -1), k=int(21 * h * w * 0.2)))``). SEAM sums the directions
    ``(revised^o, target^t)`` and ``(revised^t, target^o)``.

    Args:
        revised: Normalised, label-masked PCM-revised CAM with background
            (B, C+1, h, w).
        target: Target with background, e.g. ``keep_top_foreground(append_background(
            cam.detach()))`` of the other branch, same shape.
        top_ratio: Fraction of entries per image that enter the mean (SEAM: 0.2).
    """
    check_same_shape(revised, target, 'revised and target CAMs')
    if not 0.0 < top_ratio <= 1.0:
        raise ValueError(f'top_ratio must lie in (0, 1], got {top_ratio}')
    errors = (target - revised).abs().flatten(1)
    k = max(1, int(top_ratio * errors.shape[1]))
    return errors.topk(k, dim=1).values.mean()


@MODELS.register_module()
class EquivariantCrossRegularizationLoss(WSSSLoss):
    """Registered :func:`equivariant_cross_regularization_loss` (one direction of ECR).

    Args:
        top_ratio: Fraction of the largest errors per image averaged (SEAM: 0.2).
        loss_weight: Factor applied to the loss (SEAM: 1 per direction).
        loss_name: Key of the loss in the loss dict.
    """

    def __init__(self, top_ratio: float = 0.2, loss_weight: float = 1.0,
                 loss_name: str = 'loss_ecr') -> None:
        super().__init__(loss_weight, loss_name)
        if not 0.0 < top_ratio <= 1.0:
            raise ValueError(f'top_ratio must lie in (0, 1], got {top_ratio}')
        self.top_ratio = top_ratio

    def forward(self, revised: Tensor, target: Tensor) -> dict[str, Tensor]:
        """``{loss_name: loss_weight * L_ECR}`` of one direction."""
        return self.weighted(equivariant_cross_regularization_loss(revised, target,
                                                                   self.top_ratio))
