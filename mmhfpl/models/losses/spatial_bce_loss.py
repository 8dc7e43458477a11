"""Spatial-BCE loss with adaptive thresholds (seed 003, Eq. 1-5 and Algorithm 1).

Shapes: ``logits`` are class logits x (B, C, H, W) without a background channel (logit scale
already applied), p = sigmoid(x); ``labels`` are multi-hot image labels y (B, C); ``thresholds``
are per-image, per-class thresholds t (B, C) in (0, 1).

The uncertainty of a pixel of a positive class (Eq. 3-5) is::

    R(p) = 1 - (p - t)^2 / t^2          if p <= t   (non-target candidates, Eq. 4)
    R(p) = 1 - (p - t)^2 / (1 - t)^2    if p >  t   (target candidates, Eq. 3)

so R is 1 at p = t and 0 at p = 0 and p = 1 and is continuously differentiable in p (both
sides have slope 0 at p = t). Negative classes take the BCE term -log(1 - p) = softplus(x).

Training alternates two phases (Algorithm 1): in the probability phase ``t`` is the
``Q / (1 + Q)``-th percentile of the detached probabilities (:func:`select_thresholds`) and
only ``p`` learns; in the threshold phase ``p`` is detached and only ``t`` learns.
"""

import torch
import torch.nn.functional as F
from torch import Tensor

from mmhfpl.registry import MODELS

from .cam_loss import WSSSLoss
from .cam_posteriors import at_least_float32, multilabel_targets

PHASES = ('prob', 'threshold')

#: Threshold returned by :func:`select_thresholds` for negative classes (never used by the loss).
NEGATIVE_THRESHOLD = 0.5


def _pair_tensor(tensor: Tensor, name: str, shape: tuple[int, int]) -> Tensor:
    """Check that a per-image, per-class tensor has shape (B, C)."""
    if tuple(tensor.shape) != shape:
        raise ValueError(f'{name} must have shape {shape}, got {tuple(tensor.shape)}')
    return tensor


def _positive_mask(labels: Tensor, logits: Tensor) -> Tensor:
    """Boolean (B, C) mask of the positive image labels, shape-checked against ``logits``."""
    if logits.ndim != 4:
        raise ValueError(f'expected (B, C, H, W) maps, got shape {tuple(logits.shape)}')
    mask = multilabel_targets(labels, logits.shape[1], torch.bool)
    return _pair_tensor(mask, 'labels', tuple(logits.shape[:2]))


def uncertainty(probs: Tensor, thresholds: Tensor) -> Tensor:
    """Pixel uncertainty R(p) of Eq. 5 (Eq. 4 for p <= t, Eq. 3 for p > t).

    Args:
        probs: Probabilities p, any shape.
        thresholds: Thresholds t broadcastable to ``probs``, inside (0, 1).
    """
    scale = torch.where(probs > thresholds, 1.0 - thresholds, thresholds)
    return 1.0 - ((probs - thresholds) / scale).square()


def spatial_bce_loss(logits: Tensor, labels: Tensor, thresholds: Tensor, phase: str,
                     eps: float = 1e-4) -> Tensor:
    """Spatial-BCE loss of seed 003, Eq. 1-5, for one phase of Algorithm 1.

    ``phase='prob'`` (probability phase): ``thresholds`` are detached and the loss is Eq. 1
    averaged over all B*C*H*W entries, ``mean[y R(p) + (1 - y) (-log(1 - p))]``, with
    ``-log(1 - p)`` computed as ``softplus(x)``.

    ``phase='threshold'`` (threshold phase): ``p`` is detached and the loss is the mean of R
    over the positive (image, class, pixel) entries with ``p <= t`` plus the mean of R over
    those with ``p > t`` (each side averaged separately, as in the authors' code); only
    ``thresholds`` receive gradients. An empty side contributes 0; with no positive label the
    loss is 0 (still attached to ``thresholds`` so ``backward`` works).

    Thresholds are clamped into ``[eps, 1 - eps]`` before use (both for the side test and in
    Eq. 3-4), which bounds ``1 / t^2`` and ``1 / (1 - t)^2`` by ``1 / eps^2`` and keeps values
    and gradients finite for t at 0 or 1. The default ``1e-4`` is the authors' lower clamp.
    Half-precision inputs are computed in float32. Vectorised: R is evaluated only on the
    positive (image, class) maps, gathered with one boolean index.

    Args:
        logits: Class logits x (B, C, H, W).
        labels: Multi-hot image labels y (B, C) in {0, 1}.
        thresholds: Thresholds t (B, C) in (0, 1).
        phase: ``'prob'`` or ``'threshold'``.
        eps: Clamp margin of the thresholds.

    Returns:
        The scalar loss.
    """
    if phase not in PHASES:
        raise ValueError(f'phase must be one of {PHASES}, got {phase!r}')
    positive = _positive_mask(labels, logits)
    _pair_tensor(thresholds, 'thresholds', tuple(logits.shape[:2]))
    logits = at_least_float32(logits)
    thresholds = at_least_float32(thresholds).to(logits.dtype).clamp(eps, 1.0 - eps)

    if phase == 'prob':
        negative_terms = F.softplus(logits).sum(dim=(2, 3))  # -log(1 - p) per image and class
        negative_sum = negative_terms.masked_fill(positive, 0.0).sum()
        probs = torch.sigmoid(logits[positive])  # (P, H, W)
        positive_sum = uncertainty(probs, thresholds.detach()[positive][:, None, None]).sum()
        return (negative_sum + positive_sum) / logits.numel()

    probs = torch.sigmoid(logits.detach()[positive]).flatten(1)  # (P, HW)
    t = thresholds[positive][:, None]
    r = uncertainty(probs, t)
    low = probs <= t
    n_low = low.sum()
    n_high = low.numel() - n_low
    low_mean = torch.where(low, r, 0.0).sum() / n_low.clamp(min=1)
    high_mean = torch.where(low, 0.0, r).sum() / n_high.clamp(min=1)
    return low_mean + high_mean


def select_thresholds(probs: Tensor, labels: Tensor, q: Tensor) -> Tensor:
    """Adaptive thresholds of the probability phase (seed 003 Sec. 3.4, Algorithm 1).

    For each image and positive class, t is the probability at 0-based rank
    ``floor(q * HW)`` (clamped into ``[0, HW - 1]``) of that class's probabilities sorted in
    descending order, i.e. the ``q``-th percentile from the top with ``q = Q / (1 + Q)`` the
    target foreground fraction. Negative classes get :data:`NEGATIVE_THRESHOLD` (0.5), which
    the loss never uses. The result is detached.

    Only the positive maps are searched, by one partial selection (``torch.kthvalue``) instead
    of a full sort: each row is padded with ``-inf``/``+inf`` sentinels so that every row's
    target becomes the same order statistic, and the search runs from whichever end (top or
    bottom) needs the shorter padding. Ties are exact (an order statistic, not an index).

    Args:
        probs: Probabilities p (B, C, H, W).
        labels: Multi-hot image labels y (B, C) in {0, 1}.
        q: Target foreground fractions (B, C) in [0, 1] (values outside are clamped through
            the rank).

    Returns:
        Thresholds (B, C), float32 for half-precision ``probs``, else ``probs.dtype``.
    """
    positive = _positive_mask(labels, probs)
    _pair_tensor(q, 'q', tuple(probs.shape[:2]))
    probs = at_least_float32(probs.detach())
    thresholds = probs.new_full(positive.shape, NEGATIVE_THRESHOLD)
    maps = probs[positive].flatten(1)  # (P, HW)
    num_pixels = maps.shape[1]
    if maps.shape[0] == 0 or num_pixels == 0:
        return thresholds
    # Rank in float64 so floor(q * HW) matches a Python-float computation exactly.
    rank = (q.detach()[positive].double() * num_pixels).floor()
    rank = rank.clamp(0, num_pixels - 1).long()  # descending (from the top), 0-based
    from_top = int(rank.max()) <= num_pixels - 1 - int(rank.min())
    if from_top:  # k-th largest = k-th smallest of -p
        values, target = -maps, rank
    else:
        values, target = maps, num_pixels - 1 - rank
    pad = int(target.max())
    if pad > 0:
        # Row i gets (pad - target_i) copies of -inf ahead of its values: its target_i-th
        # smallest value becomes the pad-th smallest of the padded row for every i.
        below = torch.arange(pad, device=maps.device) < (pad - target)[:, None]
        sentinels = torch.where(below, float('-inf'), float('inf')).to(values.dtype)
        values = torch.cat([values, sentinels], dim=1)
    selected = torch.kthvalue(values, pad + 1, dim=1).values
    thresholds[positive] = -selected if from_top else selected
    return thresholds


@MODELS.register_module()
class SpatialBCELoss(WSSSLoss):
    """Registered wrapper of :func:`spatial_bce_loss` (seed 003, Eq. 1-5).

    A :class:`~mmhfpl.models.losses.cam_loss.WSSSLoss` (one dict term); it is the
    ``loss_sbce`` of :class:`~mmhfpl.models.heads.SpatialBCEHead`, which passes the
    thresholds and the phase.

    Args:
        loss_weight: Factor applied to the loss.
        loss_name: Key of the loss in the loss dict (must start with ``loss``).
        eps: Clamp margin of the thresholds (see :func:`spatial_bce_loss`).
    """

    def __init__(self, loss_weight: float = 1.0, loss_name: str = 'loss_sbce',
                 eps: float = 1e-4) -> None:
        super().__init__(loss_weight, loss_name)
        self.eps = eps

    def forward(self, logits: Tensor, labels: Tensor, thresholds: Tensor,
                phase: str) -> dict[str, Tensor]:
        """Return ``{loss_name: loss_weight * spatial_bce_loss(...)}`` for ``phase``."""
        loss = spatial_bce_loss(logits, labels, thresholds, phase, eps=self.eps)
        return self.weighted(loss)
