"""Normalisations of CAMs: one home for training (heads, ISL/FSL) and CAM generation.

Maps are (..., H, W) tensors (e.g. (B, C, H, W) scores or (C, H, W) fused CAMs); every map
is normalised on its own.
"""

import torch.nn.functional as F
from torch import Tensor


def max_normalize(scores: Tensor, eps: float = 1e-5) -> Tensor:
    """Max-normalised CAM r = ReLU(s) / max ReLU(s) per map (seed 000 Eq. 4).

    ``eps`` keeps the division finite for maps without positive scores (then r = 0).
    """
    positive = F.relu(scores)
    peak = positive.flatten(-2).amax(dim=-1)[..., None, None]
    return positive / (peak + eps)


def min_max_normalize(scores: Tensor, eps: float = 1e-5) -> Tensor:
    """Min-max normalised CAM of the ISL/FSL and SEAM authors' code (their ``max_norm``).

    ``ReLU(ReLU(s) - m - eps) / (M - m + eps)`` with ``m``, ``M`` the minimum and maximum of
    ``ReLU(s)`` per map. Equal to :func:`max_normalize` (up to ``eps``) where a
    map reaches 0 somewhere; where its minimum is above 0 it stretches the map to [0, 1].
    """
    positive = F.relu(scores)
    flat = positive.flatten(-2)
    low = flat.amin(dim=-1)[..., None, None]
    high = flat.amax(dim=-1)[..., None, None]
    return F.relu(positive - low - eps) / (high - low + eps)
