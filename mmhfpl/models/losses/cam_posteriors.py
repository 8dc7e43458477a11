"""Posteriors and normalisations of CAM scores shared by the heads and the ISL/FSL losses.

Shapes: ``scores`` are raw class scores s (B, C, H, W) without a background channel. The
normalisations (Eq. 4 and the authors' min-max) live in :mod:`mmhfpl.structures.cam_norm`,
where CAM generation uses them too; they are re-exported here.
"""

import torch
from torch import Tensor

from mmhfpl.structures.cam_norm import max_normalize, min_max_normalize

__all__ = [
    'CAM_NORMALIZATIONS', 'POSTERIORS', 'append_background', 'at_least_float32',
    'binomial_posterior', 'check_same_shape', 'keep_top_foreground', 'max_normalize',
    'min_max_normalize', 'multilabel_targets', 'multinomial_log_posterior',
    'multinomial_posterior',
]

POSTERIORS = ('binomial', 'multinomial')


#: CAM normalisations by name (``'max'``: paper Eq. 4; ``'minmax'``: the authors' code).
CAM_NORMALIZATIONS = {'max': max_normalize, 'minmax': min_max_normalize}


def binomial_posterior(scores: Tensor) -> Tensor:
    """b = sigmoid(s), classes independent (seed 000 Eq. 14)."""
    return torch.sigmoid(scores)


def multinomial_log_posterior(scores: Tensor) -> Tensor:
    """log a of the softmax posterior over background plus classes (seed 000 Eq. 5).

    The classes of a CAM head carry no background score, so background takes the
    constant logit 0: a_c = e^{s_c} / (1 + sum_k e^{s_k}), a_0 = 1 / (1 + sum_k e^{s_k}).

    Returns:
        (B, C + 1, H, W) log-probabilities, channel 0 = background.
    """
    background = scores.new_zeros(scores.shape[0], 1, *scores.shape[2:])
    return torch.log_softmax(torch.cat([background, scores], dim=1), dim=1)


def multinomial_posterior(scores: Tensor) -> Tensor:
    """Softmax posterior a (B, C + 1, H, W), channel 0 = background (seed 000 Eq. 5)."""
    return multinomial_log_posterior(scores).exp()


def at_least_float32(tensor: Tensor) -> Tensor:
    """Half-precision tensors (e.g. under autocast) as float32; others unchanged."""
    return tensor.float() if tensor.dtype in (torch.float16, torch.bfloat16) else tensor


def multilabel_targets(labels: Tensor, num_classes: int, dtype: torch.dtype) -> Tensor:
    """Check a (B, C) multi-hot label tensor and return it as ``dtype``."""
    if labels.ndim != 2 or labels.shape[1] != num_classes:
        raise ValueError(f'labels must have shape (B, {num_classes}), got {tuple(labels.shape)}')
    return labels.to(dtype)


def append_background(cams: Tensor) -> Tensor:
    """Prepend the background map 1 - max_c cams_c as channel 0: (B, C, H, W) -> (B, C+1, H, W)."""
    return torch.cat([1.0 - cams.amax(dim=1, keepdim=True), cams], dim=1)


def keep_top_foreground(cams: Tensor) -> Tensor:
    """SEAM's ``max_onehot``: zero every foreground value below its pixel's maximum.

    Channel 0 (background) is left unchanged; among channels 1..C only the values equal
    to the per-pixel maximum over 1..C survive (ties all survive).

    Args:
        cams: Maps with background (B, C+1, H, W).
    """
    foreground = cams[:, 1:]
    top = foreground.amax(dim=1, keepdim=True)
    foreground = torch.where(foreground == top, foreground, torch.zeros_like(foreground))
    return torch.cat([cams[:, :1], foreground], dim=1)


def check_same_shape(a: Tensor, b: Tensor, names: str) -> None:
    """Raise unless ``a`` and ``b`` are (B, K, H, W) maps of one shape; ``names`` for the error."""
    if a.ndim != 4 or a.shape != b.shape:
        raise ValueError(f'{names} must be (B, K, H, W) maps of one shape, got '
                         f'{tuple(a.shape)} and {tuple(b.shape)}')
