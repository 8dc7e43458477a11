"""SIPE's image-specific prototype exploration (Chen et al., CVPR 2022, §3.2-3.3).

From a CAM with a background channel, every pixel is assigned to the class whose
activation best overlaps the pixel's feature-correlation map (the *structure-aware seed*),
the seeds of each class average the image's hierarchical feature into one prototype per
class and image, and the image-specific CAM (IS-CAM) is the rectified cosine similarity of
every pixel's feature to each prototype. Facts follow the authors' ``resnet50_SIPE.py``:

* hierarchical feature: four bias-free 1x1 side convolutions on the *detached* stage
  outputs, each L2-normalised over channels (+1e-5), resized bilinearly to the size of the
  third and concatenated;
* seeds: ``IoU_k(i) = Σ_j ρ_ij m_kj / (Σ_j ρ_ij + Σ_j m_kj - Σ_j ρ_ij m_kj)`` with
  ``ρ = ReLU(f̂ᵀ f̂)`` the cosine correlation of the pixels' features and ``m_k`` the
  (normalised) CAM of channel k; background IoU weighted by 0.5; one-hot argmax, masked by
  the image labels (and, in training, the valid crop region);
* prototypes: the spatial mean of seed-masked features (the authors' adaptive average
  pooling; cosine similarity makes the 1/HW scale irrelevant, and a class without seeds
  gets a zero prototype and an IS-CAM of 0);
* IS-CAM: ``ReLU(cos(f_i, p_k))``.
"""

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from mmengine.model import BaseModule
from torch import Tensor, nn

from mmhfpl.registry import MODELS
from mmhfpl.structures.cam_norm import max_normalize


def l2_normalize_channels(feature: Tensor, eps: float = 1e-5) -> Tensor:
    """``f / (‖f‖₂ + eps)`` over the channel dimension of (B, D, h, w) maps."""
    return feature / (torch.linalg.vector_norm(feature, dim=1, keepdim=True) + eps)


def seed_correlation_iou(cams: Tensor, feature: Tensor) -> Tensor:
    """(B, K, h, w) IoU between every channel's CAM and every pixel's correlation map.

    Args:
        cams: (B, K, h, w) normalised CAMs, background channel included.
        feature: (B, D, h, w) features whose cosine correlation ρ defines the regions.
    """
    batch, channels, height, width = cams.shape
    flat = l2_normalize_channels(feature).flatten(2)  # (B, D, N)
    correlation = F.relu(flat.transpose(1, 2) @ flat)  # (B, N, N), symmetric
    masses = cams.flatten(2)  # (B, K, N)
    inter = masses @ correlation  # Σ_j ρ_ij m_kj, ρ symmetric
    union = correlation.sum(dim=2)[:, None] + masses.sum(dim=2, keepdim=True) - inter
    return (inter / union).view(batch, channels, height, width)


def structure_seeds(cams: Tensor, feature: Tensor, valid: Tensor,
                    bg_weight: float = 0.5) -> Tensor:
    """One-hot (B, K, h, w) seeds: each pixel's best-overlapping channel, masked by ``valid``.

    Args:
        cams: (B, K, h, w) normalised CAMs, channel 0 the background.
        feature: (B, D, h, w) features for the correlation.
        valid: (B, K, h, w) or broadcastable mask (image labels with background 1, times the
            valid crop region in training).
        bg_weight: Factor of the background IoU (SIPE: 0.5).
    """
    iou = seed_correlation_iou(cams, feature)
    iou = torch.cat([iou[:, :1] * bg_weight, iou[:, 1:]], dim=1)
    seeds = F.one_hot(iou.argmax(dim=1), iou.shape[1]).permute(0, 3, 1, 2).to(cams.dtype)
    return seeds * valid


def image_prototypes(seeds: Tensor, feature: Tensor) -> Tensor:
    """(B, K, D) prototypes: the spatial mean of the seed-masked features of each channel."""
    return torch.einsum('bkhw,bdhw->bkd', seeds, feature) / (feature.shape[2] * feature.shape[3])


def prototype_activation(prototypes: Tensor, feature: Tensor) -> Tensor:
    """(B, K, h, w) IS-CAM ``ReLU(cos(f_i, p_k))`` (``torch.cosine_similarity``, eps 1e-8)."""
    return F.relu(torch.cosine_similarity(feature[:, None], prototypes[..., None, None], dim=2))


def cam_with_background(scores: Tensor, eps: float = 1e-5) -> Tensor:
    """(B, C+1, h, w): SIPE's normalised CAM ``r = ReLU(s) / (max ReLU(s) + eps)`` per class,
    preceded by the background ``1 - max_c r_c`` (over all C classes)."""
    norm = max_normalize(scores, eps)
    return torch.cat([1 - norm.amax(dim=1, keepdim=True), norm], dim=1)


@MODELS.register_module()
class ImageSpecificPrototypes(BaseModule):
    """Side convolutions, seeds, prototypes and IS-CAM of SIPE (see the module docstring).

    Args:
        in_channels: Channels of the backbone stages (ResNet-50: 256, 512, 1024, 2048).
        out_channels: Channels of the side convolutions (SIPE: 128, 128, 256, 256).
        bg_weight: Factor of the background IoU in the seed assignment (SIPE: 0.5).
        size_index: Which side output sets the size of the hierarchical feature (SIPE: the
            third, stride 16).
        init_cfg: Initialisation (default: PyTorch's own, as the authors').
    """

    def __init__(self, in_channels: Sequence[int] = (256, 512, 1024, 2048),
                 out_channels: Sequence[int] = (128, 128, 256, 256), bg_weight: float = 0.5,
                 size_index: int = 2, init_cfg: dict | None = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if len(in_channels) != len(out_channels):
            raise ValueError(f'{len(in_channels)} in_channels but {len(out_channels)} '
                             'out_channels; give one of each per backbone stage')
        if not -len(in_channels) <= size_index < len(in_channels):
            raise ValueError(f'size_index {size_index} is out of range for '
                             f'{len(in_channels)} stages')
        self.sides = nn.ModuleList(nn.Conv2d(i, o, kernel_size=1, bias=False)
                                   for i, o in zip(in_channels, out_channels, strict=True))
        self.bg_weight = bg_weight
        self.size_index = size_index

    def hierarchical_feature(self, stage_feats: Sequence[Tensor]) -> Tensor:
        """(B, Σ out_channels, h, w) concatenated, normalised side outputs (detached inputs)."""
        if len(stage_feats) != len(self.sides):
            raise ValueError(f'{len(self.sides)} side convolutions but {len(stage_feats)} '
                             'backbone outputs; set the backbone out_indices to every stage')
        sides = [side(feat.detach()) for side, feat in zip(self.sides, stage_feats, strict=True)]
        size = sides[self.size_index].shape[-2:]
        return torch.cat([F.interpolate(l2_normalize_channels(s), size=size, mode='bilinear',
                                        align_corners=False) for s in sides], dim=1)

    def forward(self, cams: Tensor, feature: Tensor, valid: Tensor,
                seed_feature: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """IS-CAM (B, K, h, w) and seeds (B, K, h, w) of normalised CAMs with background.

        Args:
            cams: (B, K, h, w) normalised CAMs at the feature size, channel 0 background.
            feature: (B, D, h, w) hierarchical feature (:meth:`hierarchical_feature`).
            valid: Mask of the seeds, broadcastable to ``cams``.
            seed_feature: Features of the seed correlation (default ``feature``; the
                authors' training uses the last backbone stage, their inference the
                hierarchical feature).
        """
        with torch.no_grad():
            seeds = structure_seeds(cams, feature if seed_feature is None else seed_feature,
                                    valid, self.bg_weight)
        return prototype_activation(image_prototypes(seeds, feature), feature), seeds
