"""Target/non-target (T/NT) proportion KL loss of Spatial-BCE (seed 003, Eq. 6-8).

Eq. 6 defines the T/NT proportion ``Q = #target / #non-target`` of each image and positive
class from refined pseudo-labels and Eq. 7 its prediction ``sum p / sum (1 - p)``; Eq. 8 pulls
the prediction towards Q with a KL divergence. As written, Eq. 8 applies ``x log(x / Q)`` to
unnormalised ratios, which is not a divergence; this module uses the well-defined form of the
authors' code: the KL divergence between the two-outcome distributions

    m = (mean_pixels p, 1 - mean_pixels p)   and   t = (q, 1 - q),  q = Q / (1 + Q),

i.e. between the predicted and the target foreground fractions (Eq. 7 and Eq. 6 rewritten as
fractions, ``Q / (1 + Q) = #target / HW``).

The default ``direction='forward'`` is the authors' KL(m || t). It is bounded by
``-log(1 - q)`` when every p goes to 0, and its gradient vanishes there, so it cannot pull a
collapsed class map back (the collapse the toy run of the README shows). ``'reverse'`` is
KL(t || m), which grows without bound as m_1 -> 0 and keeps a gradient of at most q per
logit; it is an option for settings that collapse, not the paper's loss.
"""

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from mmhfpl.registry import MODELS

from .cam_loss import WSSSLoss
from .cam_posteriors import at_least_float32, multilabel_targets

KL_DIRECTIONS = ('forward', 'reverse')


def tnt_kl_loss(logits: Tensor, labels: Tensor, q: Tensor, eps: float = 1e-6,
                direction: str = 'forward') -> Tensor:
    """T/NT proportion loss, seed 003 Eq. 6-8 in its well-defined (two-outcome KL) form.

    For each positive (image, class) pair ``KL(m || t) = m_1 log(m_1 / q) + m_0 log(m_0 /
    (1 - q))`` with ``m_1`` the mean of p = sigmoid(x) over the pixels and ``m_0`` the mean of
    ``1 - p = sigmoid(-x)`` (computed separately, so it stays accurate when p is close to 1).
    The divergences are summed over the positive pairs and divided by their number (0 if
    there is none; still attached to ``logits``).

    ``eps`` clamps only the arguments of the logarithms: ``q`` into ``[eps, 1 - eps]`` and
    ``m_1``, ``m_0`` to at least ``eps``. Values and gradients then stay finite for q at 0 or 1
    and for saturated means (at most ``log(1 / eps)`` ~ 13.8 per term), and since the linear
    factors ``m_1``, ``m_0`` are not clamped a saturated mean still receives a nonzero gradient
    (the clamped log-ratios) pulling it towards q. Half-precision inputs are computed in
    float32.

    ``direction='reverse'`` swaps the arguments: ``KL(t || m) = q log(q / m_1) + (1 - q)
    log((1 - q) / m_0)``, with ``log m_1`` and ``log m_0`` computed exactly as
    ``logsumexp(logsigmoid(+-x)) - log(HW)`` (no clamp on the means; q is clamped as above),
    so saturated maps give large but finite values.

    Args:
        logits: Class logits x (B, C, H, W) (logit scale already applied).
        labels: Multi-hot image labels y (B, C) in {0, 1}.
        q: Target foreground fractions q = Q / (1 + Q) (B, C) in [0, 1]; only the entries of
            positive classes are read.
        eps: Clamp margin inside the logarithms.
        direction: ``'forward'`` for KL(m || t) (the authors'), ``'reverse'`` for KL(t || m).

    Returns:
        The scalar loss.
    """
    if direction not in KL_DIRECTIONS:
        raise ValueError(f'direction must be one of {KL_DIRECTIONS}, got {direction!r}')
    if logits.ndim != 4:
        raise ValueError(f'expected (B, C, H, W) logits, got shape {tuple(logits.shape)}')
    positive = multilabel_targets(labels, logits.shape[1], torch.bool)
    if tuple(q.shape) != tuple(logits.shape[:2]):
        raise ValueError(f'q must have shape {tuple(logits.shape[:2])}, got {tuple(q.shape)}')
    logits = at_least_float32(logits)
    maps = logits[positive]  # (P, H, W)
    target = q.detach()[positive].to(logits.dtype).clamp(eps, 1.0 - eps)
    if direction == 'reverse':
        log_norm = math.log(max(maps[0].numel(), 1)) if maps.shape[0] else 0.0
        log_fg = torch.logsumexp(F.logsigmoid(maps).flatten(1), dim=1) - log_norm
        log_bg = torch.logsumexp(F.logsigmoid(-maps).flatten(1), dim=1) - log_norm
        kl = (target * (target.log() - log_fg)
              + (1.0 - target) * (torch.log1p(-target) - log_bg))
        return kl.sum() / max(maps.shape[0], 1)
    fg = torch.sigmoid(maps).mean(dim=(1, 2))  # m_1 (Eq. 7 as a fraction)
    bg = torch.sigmoid(-maps).mean(dim=(1, 2))  # m_0 = 1 - m_1
    kl = (fg * (fg.clamp(min=eps).log() - target.log())
          + bg * (bg.clamp(min=eps).log() - torch.log1p(-target)))
    return kl.sum() / max(maps.shape[0], 1)


@MODELS.register_module()
class TNTProportionKLLoss(WSSSLoss):
    """Registered wrapper of :func:`tnt_kl_loss` (seed 003, Eq. 6-8).

    A :class:`~mmhfpl.models.losses.cam_loss.WSSSLoss` (one dict term); it is the
    ``loss_tnt`` of :class:`~mmhfpl.models.heads.SpatialBCEHead`, which passes the target
    fractions ``q``.

    Args:
        loss_weight: Factor applied to the loss.
        loss_name: Key of the loss in the loss dict (must start with ``loss``).
        eps: Clamp margin inside the logarithms (see :func:`tnt_kl_loss`).
        direction: ``'forward'`` KL(m || t) as in the authors' code (default) or
            ``'reverse'`` KL(t || m), which does not let a class map collapse to 0.
    """

    def __init__(self, loss_weight: float = 1.0, loss_name: str = 'loss_tnt',
                 eps: float = 1e-6, direction: str = 'forward') -> None:
        super().__init__(loss_weight, loss_name)
        if direction not in KL_DIRECTIONS:
            raise ValueError(f'direction must be one of {KL_DIRECTIONS}, got {direction!r}')
        self.eps = eps
        self.direction = direction

    def forward(self, logits: Tensor, labels: Tensor,
                q: Tensor) -> dict[str, Tensor]:
        """Return ``{loss_name: loss_weight * tnt_kl_loss(logits, labels, q)}``."""
        return self.weighted(tnt_kl_loss(logits, labels, q, self.eps, self.direction))
