"""Importance sampling loss (ISL) with the binomial or multinomial posterior.

Seed 000 §3.3 and §4.2: instead of pooling, N pixels are drawn per image and class from
a distribution proportional to the posterior, and the BCE of the sampled predictions
supervises the CAM (Eq. 6-8, 14-15, 18); Eq. 16 mixes it with the GAP BCE.
"""

import torch
import torch.nn.functional as F
from torch import Tensor

from mmhfpl.registry import MODELS

from .cam_loss import CAMLoss
from .cam_posteriors import (
    POSTERIORS,
    at_least_float32,
    binomial_posterior,
    multilabel_targets,
    multinomial_log_posterior,
)
from .gap_bce_loss import gap_bce_loss


def sample_pixels(weights: Tensor, num_samples: int,
                  generator: torch.Generator | None = None) -> Tensor:
    """Draw pixel indices with replacement, with probability weights / Z(weights).

    Args:
        weights: Non-negative (B, C, HW) sampling weights (the posterior).
        num_samples: Draws per image and class.
        generator: Optional random generator.

    Returns:
        (B, C, num_samples) int64 flat pixel indices. Sampling is not differentiated.
    """
    batch, classes, pixels = weights.shape
    flat = weights.detach().float().reshape(batch * classes, pixels)
    # Underflowed posteriors (every weight 0) fall back to uniform sampling.
    flat = torch.where(flat.sum(dim=1, keepdim=True) > 0, flat, torch.ones_like(flat))
    index = torch.multinomial(flat, num_samples, replacement=True, generator=generator)
    return index.reshape(batch, classes, num_samples)


def importance_sampling_loss(scores: Tensor, labels: Tensor, num_samples: int = 10,
                             posterior: str = 'binomial',
                             generator: torch.Generator | None = None) -> Tensor:
    """L_is^N of seed 000 Eq. 18: the mean over N draws of the sampled BCE (Eq. 8).

    Binomial (Eq. 14-15): b = sigmoid(s); per image and class, pixels are drawn from
    b / Z(b) and the prediction at a drawn pixel is b there. The BCE is computed from
    the sampled logits (``binary_cross_entropy_with_logits``) for numerical stability.

    Multinomial (Eq. 5-7): a = softmax over background (logit 0) and the C classes;
    pixels are drawn from a_c / Z(a_c), the prediction is a_c there, and the BCE uses
    log a_c and log(1 - a_c) from log-sum-exp terms.

    The BCE is averaged over the N draws (Eq. 18), the C classes (Eq. 8) and the batch.
    The draw itself carries no gradient; it flows through the sampled scores.

    Args:
        scores: Raw CAM scores s (B, C, H, W).
        labels: Multi-hot image labels y (B, C).
        num_samples: N, the draws per image and class.
        posterior: ``'binomial'`` or ``'multinomial'``.
        generator: Optional random generator for the draws.
    """
    if posterior not in POSTERIORS:
        raise ValueError(f'posterior must be one of {POSTERIORS}, got {posterior!r}')
    if num_samples < 1:
        raise ValueError(f'num_samples must be >= 1, got {num_samples}')
    scores = at_least_float32(scores)
    targets = multilabel_targets(labels, scores.shape[1], scores.dtype)[..., None]
    flat = scores.flatten(2)
    if posterior == 'binomial':
        index = sample_pixels(binomial_posterior(flat), num_samples, generator)
        sampled = flat.gather(2, index)
        losses = F.binary_cross_entropy_with_logits(
            sampled, targets.expand_as(sampled), reduction='none')
    else:
        log_post = multinomial_log_posterior(scores).flatten(2)  # (B, C+1, HW)
        batch, classes = scores.shape[:2]
        index = sample_pixels(log_post[:, 1:].exp(), num_samples, generator)  # (B, C, N)
        # Every channel's log-probability at each drawn pixel: (B, C, N, C+1).
        at_draws = log_post.transpose(1, 2).gather(
            1, index.reshape(batch, -1, 1).expand(-1, -1, classes + 1))
        at_draws = at_draws.reshape(batch, classes, num_samples, classes + 1)
        own = F.one_hot(torch.arange(1, classes + 1, device=scores.device), classes + 1).bool()
        log_p = at_draws[..., 1:].diagonal(dim1=1, dim2=3).transpose(1, 2)
        # log(1 - a_c) = log-sum-exp of the other channels (stable when a_c -> 1).
        log_not_p = torch.logsumexp(
            at_draws.masked_fill(own[None, :, None, :], float('-inf')), dim=3)
        losses = -(targets * log_p + (1 - targets) * log_not_p)
    return losses.mean()


@MODELS.register_module()
class ImportanceSamplingLoss(CAMLoss):
    """ISL mixed with the GAP BCE as seed 000 Eq. 16: (1 - λ) L_ce + λ L_is^N.

    Both terms are returned separately (``loss_gap_bce`` and ``loss_name``) so logs show
    each; their sum is Eq. 16 times ``loss_weight``. Use this loss *instead of*
    ``GAPBCELoss`` in a CAM head's loss list.

    Args:
        num_samples: N draws per image and class (paper: 10).
        lambda_: λ of Eq. 16 (paper: 0.2). With ``lambda_=1`` only ISL remains.
        posterior: ``'binomial'`` (the paper's choice) or ``'multinomial'`` (Table 4).
        loss_weight: Factor applied to both terms (e.g. 0.1 for SIPE/MCTformer).
        loss_name: Key of the ISL term; the GAP term is ``loss_gap_bce``.
    """

    def __init__(self, num_samples: int = 10, lambda_: float = 0.2,
                 posterior: str = 'binomial', loss_weight: float = 1.0,
                 loss_name: str = 'loss_isl') -> None:
        super().__init__(loss_weight, loss_name)
        if not 0.0 <= lambda_ <= 1.0:
            raise ValueError(f'lambda_ must lie in [0, 1], got {lambda_}')
        if posterior not in POSTERIORS:
            raise ValueError(f'posterior must be one of {POSTERIORS}, got {posterior!r}')
        self.num_samples = num_samples
        self.lambda_ = lambda_
        self.posterior = posterior

    def forward(self, scores: Tensor, labels: Tensor, images: Tensor | None = None) -> dict:
        """Return the two weighted terms of Eq. 16; ``images`` is unused."""
        losses = {self.loss_name: self.loss_weight * self.lambda_ * importance_sampling_loss(
            scores, labels, self.num_samples, self.posterior)}
        if self.lambda_ < 1.0:
            losses['loss_gap_bce'] = (self.loss_weight * (1.0 - self.lambda_)
                                      * gap_bce_loss(scores, labels))
        return losses
