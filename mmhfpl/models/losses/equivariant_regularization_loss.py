"""SEAM's equivariant regularisation ER (Wang et al., CVPR 2020, §3.4)."""

from torch import Tensor

from mmhfpl.registry import MODELS

from .cam_loss import WSSSLoss
from .cam_posteriors import check_same_shape


def equivariant_regularization_loss(transformed: Tensor, scaled: Tensor) -> Tensor:
    """L_ER = mean |A(ŷ^o) - ŷ^t| (SEAM §3.4; mean over every entry).

    Args:
        transformed: Normalised foreground CAMs of the original branch brought through
            the transform A, (B, C, h, w).
        scaled: Normalised foreground CAMs of the transformed branch, same shape.
    """
    check_same_shape(transformed, scaled, 'transformed and scaled CAMs')
    return (transformed - scaled).abs().mean()


@MODELS.register_module()
class EquivariantRegularizationLoss(WSSSLoss):
    """Registered :func:`equivariant_regularization_loss` (SEAM's ER).

    Args:
        loss_weight: Factor applied to the loss (SEAM: 1).
        loss_name: Key of the loss in the loss dict.
    """

    def __init__(self, loss_weight: float = 1.0, loss_name: str = 'loss_er') -> None:
        super().__init__(loss_weight, loss_name)

    def forward(self, transformed: Tensor, scaled: Tensor) -> dict[str, Tensor]:
        """``{loss_name: loss_weight * L_ER}``."""
        return self.weighted(equivariant_regularization_loss(transformed, scaled))
