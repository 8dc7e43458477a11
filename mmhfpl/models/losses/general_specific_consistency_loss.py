"""SIPE's general-specific consistency (GSC) loss (Chen et al., CVPR 2022, Eq. 7)."""

from torch import Tensor

from mmhfpl.registry import MODELS
from mmhfpl.structures.cam_norm import max_normalize

from .cam_loss import WSSSLoss


def general_specific_consistency_loss(cams: Tensor, is_cams: Tensor) -> Tensor:
    """``mean |M - IS / (max IS + 1e-5)|`` over batch, channels and pixels.

    Args:
        cams: (B, K, h, w) general CAMs with background (normalised, masked by the labels
            and the valid region, as SIPE's training passes them).
        is_cams: (B, K, h, w) image-specific CAMs (non-negative); each map is divided by
            its maximum + 1e-5 (seed 000 Eq. 4's normalisation) before the comparison.
    """
    if cams.shape != is_cams.shape:
        raise ValueError(f'CAMs of shape {tuple(cams.shape)} but IS-CAMs of shape '
                         f'{tuple(is_cams.shape)}')
    return (cams - max_normalize(is_cams)).abs().mean()


@MODELS.register_module()
class GeneralSpecificConsistencyLoss(WSSSLoss):
    """Registered wrapper of :func:`general_specific_consistency_loss`.

    Args:
        loss_weight: Factor applied to the loss (SIPE: 1).
        loss_name: Key of the loss in the loss dict (must start with ``loss``).
    """

    def __init__(self, loss_weight: float = 1.0, loss_name: str = 'loss_gsc') -> None:
        super().__init__(loss_weight, loss_name)

    def forward(self, cams: Tensor, is_cams: Tensor) -> dict[str, Tensor]:
        """Return ``{loss_name: loss_weight * loss}``."""
        return self.weighted(general_specific_consistency_loss(cams, is_cams))
