"""The self-supervision losses of SEAM (Wang et al., CVPR 2020, §3.2 and §3.4).

SEAM runs a siamese network on an image I and a rescaled copy A(I) (A: bilinear
downscaling by 0.3) and compares their CAMs after bringing the full-resolution one
through the same transform. With ŷ the (normalised) CAMs of the classifier, y the
CAMs revised by the pixel correlation module (PCM), superscript o for the original
branch and t for the transformed one, §3.4 defines

* equivariant regularisation ``L_ER = |A(ŷ^o) - ŷ^t|_1``;
* equivariant cross regularisation ``L_ECR = |A(y^o) - ŷ^t|_1 + |A(ŷ^o) - y^t|_1``;
* the total ``L = L_cls + L_ER + L_ECR``.

The released code (YudeWang/SEAM ``train_SEAM.py``) fixes the details implemented here:

* CAMs are normalised per image and class by :func:`min_max_normalize` (its
  ``max_norm``) at the input resolution of their branch, then masked by the image
  labels (the background channel of revised CAMs is kept);
* ``L_ER`` is the mean absolute difference over the foreground channels only;
* in ``L_ECR`` the unrevised CAM is the (detached) target: a background channel
  1 - max_c ŷ_c is prepended (:func:`append_background`) and only the largest
  foreground value of each pixel is kept (:func:`keep_top_foreground`, its
  ``max_onehot``); the L1 error is averaged over the 20% largest entries of each image
  (all channels and pixels pooled), see :func:`equivariant_cross_regularization_loss`;
* the classification loss also holds the "adaptive min-pooling" term on the revised
  CAMs (:func:`adaptive_min_pooling_loss`), which pushes the quarter of pixels with the
  weakest foreground response towards zero.

Channel layout of maps with background: channel 0 is the background, 1..C the classes.
"""

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from mmhfpl.registry import MODELS

from .cam_posteriors import min_max_normalize

__all__ = [
    'AdaptiveMinPoolingLoss', 'EquivariantCrossRegularizationLoss',
    'EquivariantRegularizationLoss', 'adaptive_min_pooling_loss', 'append_background',
    'equivariant_cross_regularization_loss', 'equivariant_regularization_loss',
    'keep_top_foreground', 'min_max_normalize',
]


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


def _check_same_shape(a: Tensor, b: Tensor, names: str) -> None:
    if a.ndim != 4 or a.shape != b.shape:
        raise ValueError(f'{names} must be (B, K, H, W) maps of one shape, got '
                         f'{tuple(a.shape)} and {tuple(b.shape)}')


def equivariant_regularization_loss(transformed: Tensor, scaled: Tensor) -> Tensor:
    """L_ER = mean |A(ŷ^o) - ŷ^t| (SEAM §3.4; mean over every entry).

    Args:
        transformed: Normalised foreground CAMs of the original branch brought through
            the transform A, (B, C, h, w).
        scaled: Normalised foreground CAMs of the transformed branch, same shape.
    """
    _check_same_shape(transformed, scaled, 'transformed and scaled CAMs')
    return (transformed - scaled).abs().mean()


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
    _check_same_shape(revised, target, 'revised and target CAMs')
    if not 0.0 < top_ratio <= 1.0:
        raise ValueError(f'top_ratio must lie in (0, 1], got {top_ratio}')
    errors = (target - revised).abs().flatten(1)
    k = max(1, int(top_ratio * errors.shape[1]))
    return errors.topk(k, dim=1).values.mean()


def adaptive_min_pooling_loss(revised: Tensor, ratio: float = 0.25) -> Tensor:
    """SEAM's ``adaptive_min_pooling_loss`` on revised foreground CAMs.

    ``m = max_c revised_c`` per pixel; the loss is ``sum ReLU(m_i)`` over the
    ``k = floor(ratio * h w)`` pixels with the smallest ``m`` of each image, divided by
    ``k B``. The released code applies it to the raw (not normalised) revised CAM at
    input resolution, foreground channels masked by the labels.

    Args:
        revised: Revised foreground CAMs (B, C, h, w) (no background channel).
        ratio: Fraction of pixels pooled (SEAM: 1/4).
    """
    if revised.ndim != 4:
        raise ValueError(f'revised must be (B, C, H, W), got {tuple(revised.shape)}')
    if not 0.0 < ratio <= 1.0:
        raise ValueError(f'ratio must lie in (0, 1], got {ratio}')
    peak = revised.amax(dim=1).flatten(1)
    k = max(1, int(ratio * peak.shape[1]))
    lowest = peak.topk(k, dim=1, largest=False).values
    return F.relu(lowest).sum() / (k * peak.shape[0])


class _WeightedLoss(nn.Module):
    """``loss_weight`` and ``loss_name`` (key in the loss dict) of a SEAM loss."""

    def __init__(self, loss_weight: float, loss_name: str) -> None:
        super().__init__()
        if not loss_name.startswith('loss'):
            raise ValueError(f"loss_name must start with 'loss' (mmengine sums those keys), "
                             f'got {loss_name!r}')
        self.loss_weight = loss_weight
        self.loss_name = loss_name


@MODELS.register_module()
class EquivariantRegularizationLoss(_WeightedLoss):
    """Registered :func:`equivariant_regularization_loss` (SEAM's ER).

    Args:
        loss_weight: Factor applied to the loss (SEAM: 1).
        loss_name: Key of the loss in the loss dict.
    """

    def __init__(self, loss_weight: float = 1.0, loss_name: str = 'loss_er') -> None:
        super().__init__(loss_weight, loss_name)

    def forward(self, transformed: Tensor, scaled: Tensor) -> Tensor:
        return self.loss_weight * equivariant_regularization_loss(transformed, scaled)


@MODELS.register_module()
class EquivariantCrossRegularizationLoss(_WeightedLoss):
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

    def forward(self, revised: Tensor, target: Tensor) -> Tensor:
        return self.loss_weight * equivariant_cross_regularization_loss(
            revised, target, self.top_ratio)


@MODELS.register_module()
class AdaptiveMinPoolingLoss(_WeightedLoss):
    """Registered :func:`adaptive_min_pooling_loss` (one branch).

    SEAM adds ``(L_min^o + L_min^t) / 2`` to its classification loss, i.e. weight 0.5
    per branch.

    Args:
        ratio: Fraction of pixels pooled (SEAM: 0.25).
        loss_weight: Factor applied to the loss (SEAM: 0.5 per branch).
        loss_name: Key of the loss in the loss dict.
    """

    def __init__(self, ratio: float = 0.25, loss_weight: float = 0.5,
                 loss_name: str = 'loss_min_pool') -> None:
        super().__init__(loss_weight, loss_name)
        if not 0.0 < ratio <= 1.0:
            raise ValueError(f'ratio must lie in (0, 1], got {ratio}')
        self.ratio = ratio

    def forward(self, revised: Tensor) -> Tensor:
        return self.loss_weight * adaptive_min_pooling_loss(revised, self.ratio)
