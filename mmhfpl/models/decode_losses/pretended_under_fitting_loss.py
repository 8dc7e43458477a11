"""PMM's pretended under-fitting (Li et al., ICCV 2021, §3.4) as an mmseg decode loss."""

import torch
from mmseg.models.losses import CrossEntropyLoss
from mmseg.models.losses.utils import weight_reduce_loss
from torch import Tensor

from mmhfpl.registry import MODELS


def pretended_under_fitting(losses: Tensor, beta: float = 0.5, k: float = 0.5) -> Tensor:
    """Per-pixel cross entropies clamped to [0, k] once their mean falls below ``beta``.

    The authors' ``pus_type='clamp'`` (WSSS_MMSeg ``cross_entropy_loss.py``): when the mean
    over all pixels (ignored ones count as 0) is below β, every pixel's loss is clamped at k,
    so pixels the model disagrees with strongly (likely wrong pseudo-labels) stop pulling.
    """
    if losses.mean() < beta:
        return torch.clamp(losses, 0, k)
    return losses


@MODELS.register_module()
class PretendedUnderFittingLoss(CrossEntropyLoss):
    """mmseg's softmax ``CrossEntropyLoss`` with PMM's pretended under-fitting.

    Use it in any mmseg decode head, e.g. ``loss_decode=dict(
    type='mmhfpl.PretendedUnderFittingLoss', beta=0.5, k=0.5)`` (PMM on VOC; 0.8 / 0.8 on
    COCO) with ``custom_imports=dict(imports=['mmhfpl'])``. The reduction is mmseg's (mean
    over all pixels unless ``avg_non_ignore``); the loss name stays ``loss_ce``.

    Args:
        beta: β, the mean loss below which the clamp applies.
        k: The clamp value.
        **kwargs: Arguments of mmseg's ``CrossEntropyLoss`` except ``use_sigmoid`` /
            ``use_mask`` (softmax only, as the authors').
    """

    def __init__(self, beta: float = 0.5, k: float = 0.5, **kwargs) -> None:
        if kwargs.get('use_sigmoid') or kwargs.get('use_mask'):
            raise ValueError('PretendedUnderFittingLoss is a softmax cross entropy')
        if beta <= 0 or k <= 0:
            raise ValueError(f'beta and k must be positive, got {beta}, {k}')
        super().__init__(**kwargs)
        self.beta = beta
        self.k = k

    def forward(self, cls_score: Tensor, label: Tensor, weight: Tensor | None = None,
                avg_factor: float | None = None, reduction_override: str | None = None,
                ignore_index: int = -100, **kwargs) -> Tensor:
        reduction = reduction_override or self.reduction
        class_weight = (cls_score.new_tensor(self.class_weight)
                        if self.class_weight is not None else None)
        losses = torch.nn.functional.cross_entropy(cls_score, label, weight=class_weight,
                                                   reduction='none', ignore_index=ignore_index)
        losses = pretended_under_fitting(losses, self.beta, self.k)
        if avg_factor is None and reduction == 'mean':
            avg_factor = (label.numel() - (label == ignore_index).sum().item()
                          if self.avg_non_ignore else label.numel())
        if weight is not None:
            weight = weight.float()
        return self.loss_weight * weight_reduce_loss(losses, weight=weight,
                                                     reduction=reduction,
                                                     avg_factor=avg_factor)
