"""Losses for mmseg decode heads (stage 3). They follow mmseg's loss contract (a tensor, a
``loss_name``), not mmhfpl's CAM-loss one, so any ``decode_head.loss_decode`` can list them."""

from .pretended_under_fitting_loss import PretendedUnderFittingLoss, pretended_under_fitting

__all__ = ['PretendedUnderFittingLoss', 'pretended_under_fitting']
