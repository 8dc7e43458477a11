"""Pixel correlation module (PCM) of SEAM (Wang et al., CVPR 2020, §3.3).

SEAM revises a CAM by propagating it along pixel affinities computed from low-level
features. With ``y`` the (C+1)-channel seed CAM at the feature grid (channel 0 =
background) and ``f_i`` the embedding of pixel ``i`` (L2-normalised over channels),
the PCM of §3.3 computes

    ``y_rv_j = sum_i y_i * ReLU(f_i . f_j) / sum_i ReLU(f_i . f_j)``,

a weighted average, for every pixel ``j``, of the seed CAM over all pixels ``i`` with
weights given by the rectified cosine similarity of the embeddings. The released code
(YudeWang/SEAM ``network/resnet38_SEAM.py``) builds the embedding as a bias-free 1x1
convolution ``f9`` (195 -> 192 channels) of the concatenation of

* the (normalised) input image resized to the feature grid (bilinear,
  ``align_corners=True``),
* ReLU(1x1 conv ``f8_3``: 512 -> 64) of the backbone's ``conv4`` features and
* ReLU(1x1 conv ``f8_4``: 1024 -> 128) of its ``conv5`` features,

where the backbone features are *detached*: the PCM learns its own projections but
sends no gradient into the backbone. The seed CAM is detached as well
(:func:`pcm_seed_cam`), so the only trainable parameters on the PCM path are the
projections and the embedding. Initialisation as released: Kaiming-normal
(``fan_in``) projections and a Xavier-uniform embedding with gain 4.
"""

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from mmengine.model import BaseModule
from torch import Tensor, nn

from mmhfpl.registry import MODELS

__all__ = ['PixelCorrelationModule', 'pcm_seed_cam', 'propagate_by_affinity']


@torch.no_grad()
def pcm_seed_cam(scores: Tensor, eps: float = 1e-5) -> Tensor:
    """The detached (C+1)-channel CAM that SEAM's PCM propagates.

    As in the released code (``cam_d_norm``), for raw foreground scores s:

    1. r = ReLU(ReLU(s) - eps) / (max_ij ReLU(s) + eps) per image and class;
    2. background channel r_0 = 1 - max_c r_c, prepended as channel 0;
    3. foreground values below the pixel's largest foreground value are set to 0
       (only the winning class keeps its score at each pixel).

    SEAM's classifier also emits a background channel, but the code overwrites it in
    step 2 before any use, so only the C foreground scores matter here.

    Args:
        scores: Raw CAM scores s (B, C, h, w), without background.
        eps: The 1e-5 of the released code.

    Returns:
        (B, C + 1, h, w) tensor without gradient; channel 0 is the background.
    """
    positive = F.relu(scores)
    peak = positive.flatten(2).amax(dim=2)[..., None, None] + eps
    norm = F.relu(positive - eps) / peak
    top = norm.amax(dim=1, keepdim=True)
    foreground = torch.where(norm < top, torch.zeros_like(norm), norm)
    return torch.cat([1.0 - top, foreground], dim=1)


def propagate_by_affinity(cam: Tensor, embedding: Tensor, eps: float = 1e-5) -> Tensor:
    """SEAM §3.3: revise ``cam`` with the rectified cosine affinity of ``embedding``.

    ``A_ij = ReLU(f_i . f_j)`` with ``f = embedding / (|embedding|_2 + eps)`` over
    channels; ``cam_rv_j = sum_i cam_i A_ij / (sum_i A_ij + eps)``. The affinity matrix
    is HW x HW per image (about 40 MB for a 56 x 56 map in float32).

    Args:
        cam: Maps to propagate (B, K, h, w).
        embedding: Pixel embeddings (B, D, h, w) on the same grid.
        eps: Stabiliser of the normalisations (1e-5 in the released code).

    Returns:
        The revised maps (B, K, h, w).
    """
    if cam.shape[0] != embedding.shape[0] or cam.shape[-2:] != embedding.shape[-2:]:
        raise ValueError(f'cam {tuple(cam.shape)} and embedding {tuple(embedding.shape)} '
                         'must share batch and spatial size')
    batch, channels, height, width = cam.shape
    feats = embedding.flatten(2)
    feats = feats / (feats.norm(dim=1, keepdim=True) + eps)
    affinity = F.relu(feats.transpose(1, 2) @ feats)  # (B, HW, HW), symmetric
    affinity = affinity / (affinity.sum(dim=1, keepdim=True) + eps)
    return (cam.flatten(2) @ affinity).reshape(batch, channels, height, width)


@MODELS.register_module()
class PixelCorrelationModule(BaseModule):
    """SEAM's PCM: revised CAM from image + detached low-level features (§3.3).

    Args:
        in_channels: Channels of the backbone features it receives (SEAM: 512 and
            1024 for ResNet38d ``conv4`` / ``conv5``, i.e. stage outputs 3 and 4).
        proj_channels: Output channels of the 1x1 projection of each feature
            (SEAM: 64 and 128).
        embed_channels: Channels of the pixel embedding (SEAM: 192).
        image_channels: Channels of the input image concatenated to the features.
        detach_features: Stop gradients into the backbone (SEAM: True).
        eps: Stabiliser of the normalisations.
        init_cfg: Initialisation (default: SEAM's, see the module docstring).
    """

    def __init__(self, in_channels: Sequence[int] = (512, 1024),
                 proj_channels: Sequence[int] = (64, 128), embed_channels: int = 192,
                 image_channels: int = 3, detach_features: bool = True, eps: float = 1e-5,
                 init_cfg: dict | list[dict] | None = None) -> None:
        if init_cfg is None:
            init_cfg = dict(type='Kaiming', layer='Conv2d', mode='fan_in', nonlinearity='relu',
                            distribution='normal',
                            override=dict(type='Xavier', name='embed', gain=4.0,
                                          distribution='uniform'))
        super().__init__(init_cfg=init_cfg)
        if len(in_channels) != len(proj_channels) or not in_channels:
            raise ValueError(f'in_channels {tuple(in_channels)} and proj_channels '
                             f'{tuple(proj_channels)} must be non-empty and of equal length')
        self.in_channels = tuple(in_channels)
        self.image_channels = image_channels
        self.detach_features = detach_features
        self.eps = eps
        self.projections = nn.ModuleList(
            nn.Conv2d(cin, cout, kernel_size=1, bias=False)
            for cin, cout in zip(in_channels, proj_channels, strict=True))
        self.embed = nn.Conv2d(image_channels + sum(proj_channels), embed_channels,
                               kernel_size=1, bias=False)

    def embedding(self, feats: Sequence[Tensor], image: Tensor) -> Tensor:
        """Pixel embeddings (B, embed_channels, h, w) on the grid of ``feats``."""
        if len(feats) != len(self.projections):
            raise ValueError(f'PCM expects {len(self.projections)} feature maps, '
                             f'got {len(feats)}')
        size = feats[0].shape[-2:]
        parts = [F.interpolate(image, size=tuple(size), mode='bilinear', align_corners=True)]
        for feat, proj, channels in zip(feats, self.projections, self.in_channels, strict=True):
            if feat.shape[1] != channels or feat.shape[-2:] != size:
                raise ValueError(f'PCM features must have {self.in_channels} channels on one '
                                 f'grid; got {[tuple(f.shape) for f in feats]}')
            parts.append(F.relu(proj(feat.detach() if self.detach_features else feat)))
        return self.embed(torch.cat(parts, dim=1))

    def forward(self, cam: Tensor, feats: Sequence[Tensor], image: Tensor) -> Tensor:
        """Revised CAM (B, K, h, w) of ``cam`` on the feature grid.

        Args:
            cam: Maps to revise (B, K, h', w'), e.g. :func:`pcm_seed_cam` of the
                classifier's scores; resized (bilinear, ``align_corners=True``) to the
                feature grid when h', w' differ from it.
            feats: Backbone features (B, in_channels[k], h, w), one per projection.
            image: The network input (B, image_channels, H, W).
        """
        if image.shape[1] != self.image_channels:
            raise ValueError(f'PCM expects {self.image_channels}-channel images, '
                             f'got {tuple(image.shape)}')
        embedding = self.embedding(feats, image)
        if cam.shape[-2:] != embedding.shape[-2:]:
            cam = F.interpolate(cam, size=tuple(embedding.shape[-2:]), mode='bilinear',
                                align_corners=True)
        return propagate_by_affinity(cam, embedding, self.eps)
