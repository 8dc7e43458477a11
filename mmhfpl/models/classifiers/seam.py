"""SEAM: self-supervised equivariant attention mechanism (Wang et al., CVPR 2020)."""

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from mmpretrain.structures import DataSample
from torch import Tensor, nn

from mmhfpl.models.heads import CAMHead
from mmhfpl.models.heads.cam_head import add_losses
from mmhfpl.models.layers import pcm_seed_cam
from mmhfpl.models.losses.cam_loss import sum_terms
from mmhfpl.models.losses.cam_posteriors import (
    append_background,
    keep_top_foreground,
    min_max_normalize,
)
from mmhfpl.registry import MODELS

from .cam_classifier import CAMClassifier


def _resize(maps: Tensor, size: Sequence[int]) -> Tensor:
    """Bilinear resize with ``align_corners=True``, as every resize of SEAM's code."""
    return F.interpolate(maps, size=tuple(size), mode='bilinear', align_corners=True)


@MODELS.register_module()
class SEAM(CAMClassifier):
    """SEAM's siamese CAM network with a pixel correlation module (PCM).

    One *branch* runs the backbone on an input, computes the CAM s (B, C, h, w) with
    the head's bias-free 1x1 convolution on the (dropped-out) last features, and the
    revised CAM (B, C+1, h, w; channel 0 = background) by propagating
    :func:`~mmhfpl.models.layers.pcm_seed_cam` of s with the PCM (image + detached
    backbone features). Training runs two branches: the input I and ``A(I)``, I
    bilinearly downscaled by ``scale_factor`` (``align_corners=True``), and returns
    (names are the default ``loss_name`` values):

    * the head's losses on the full-resolution CAM s with the input images (SEAM's
      classification loss, or any CAM-head add-on such as ISL/FSL:
      ``head=dict(losses=[...])``) — ``loss_gap_bce`` for ``GAPBCELoss``;
    * ``loss_cls_scaled``: ``scaled_cls_loss`` on the CAM of the downscaled branch;
    * ``loss_min_pool``: ``min_pool_loss`` summed over both branches, on the revised
      foreground CAMs upsampled to the branch input and masked by the labels;
    * ``loss_er``: ``er_loss`` between A(ŷ^o) and ŷ^t;
    * ``loss_ecr``: ``ecr_loss`` summed over the directions (A(y^o), ŷ^t) and
      (y^t, A(ŷ^o)), targets detached and reduced to their top class per pixel.

    Following the released code, ŷ and y are the CAMs upsampled to their branch input
    (bilinear, ``align_corners=True``), min-max normalised and masked by the labels
    (background kept); A brings the full-resolution maps to the size of the scaled
    input. The defaults reproduce SEAM's objective
    ``(L_cls^o + L_cls^t) / 2 + (L_min^o + L_min^t) / 2 + L_ER + L_ECR`` when the head
    holds ``GAPBCELoss(loss_weight=0.5)`` (multi-label soft margin = GAP BCE). One
    difference: image scores are the GAP of s at feature resolution, whereas SEAM
    averages s after upsampling it to the input; the two differ only by the
    boundary weights of bilinear interpolation. SEAM's classifier also emits a
    background channel, which its code overwrites before any use; here the head
    produces the C foreground maps only.

    ``predict`` returns the PCM-revised foreground CAM as ``cam`` (C, h, w), so CAM
    generation (:func:`mmhfpl.pseudo_labels.tta_record`) uses the revised CAM as SEAM's
    ``infer_SEAM.py`` does, and combines the views as that script does
    (``cam_fusion = 'seam'``: each view upsampled to its input with ``align_corners=True``
    and then to the image, summed, rectified, min-max normalised).

    Args:
        backbone: Backbone config; it must return the PCM features and the CAM feature
            (ResNet38d: ``out_indices=(3, 4, 6)``).
        head: A ``CAMHead`` config (its ``in_index`` selects the CAM feature).
        pcm: A ``PixelCorrelationModule`` config.
        pcm_in_index: Backbone outputs fed to the PCM.
        scale_factor: Downscaling factor of the second branch (SEAM: 0.3).
        cam_dropout: ``Dropout2d`` probability before the classifier (SEAM: 0.5).
        scaled_cls_loss: CAM-head loss of the downscaled branch.
        er_loss: ``EquivariantRegularizationLoss`` config.
        ecr_loss: ``EquivariantCrossRegularizationLoss`` config.
        min_pool_loss: ``AdaptiveMinPoolingLoss`` config.
        data_preprocessor: Defaults to ``mmpretrain.ClsDataPreprocessor``.
        **kwargs: Other arguments of ``mmpretrain.ImageClassifier`` (e.g. ``init_cfg``).
    """

    cam_fusion = 'seam'

    def __init__(self, backbone: dict, head: dict, pcm: dict,
                 pcm_in_index: Sequence[int] = (0, 1), scale_factor: float = 0.3,
                 cam_dropout: float = 0.5,
                 scaled_cls_loss: dict | None = None, er_loss: dict | None = None,
                 ecr_loss: dict | None = None, min_pool_loss: dict | None = None,
                 data_preprocessor: dict | None = None, **kwargs) -> None:
        super().__init__(backbone=backbone, head=head, data_preprocessor=data_preprocessor,
                         **kwargs)
        if not isinstance(self.head, CAMHead):
            raise TypeError(f'SEAM needs a CAMHead, got {type(self.head).__name__}')
        if not 0.0 < scale_factor < 1.0:
            raise ValueError(f'scale_factor must lie in (0, 1), got {scale_factor}')
        self.pcm = MODELS.build(pcm)
        self.pcm_in_index = tuple(pcm_in_index)
        self.scale_factor = scale_factor
        self.cam_dropout = nn.Dropout2d(cam_dropout)
        self.scaled_cls_loss = MODELS.build(scaled_cls_loss or dict(
            type='mmhfpl.GAPBCELoss', loss_weight=0.5, loss_name='loss_cls_scaled'))
        self.er_loss = MODELS.build(er_loss or dict(type='mmhfpl.EquivariantRegularizationLoss'))
        self.ecr_loss = MODELS.build(
            ecr_loss or dict(type='mmhfpl.EquivariantCrossRegularizationLoss'))
        self.min_pool_loss = MODELS.build(
            min_pool_loss or dict(type='mmhfpl.AdaptiveMinPoolingLoss'))

    def forward_branch(self, inputs: Tensor) -> tuple[Tensor, Tensor]:
        """CAM s (B, C, h, w) and PCM-revised CAM (B, C+1, h, w) of one input batch."""
        feats = self.extract_feat(inputs)
        scores = self.head(self.cam_dropout(feats[self.head.in_index]))
        revised = self.pcm(pcm_seed_cam(scores), [feats[i] for i in self.pcm_in_index],
                           inputs)
        return scores, revised

    def loss(self, inputs: Tensor, data_samples: list[DataSample]) -> dict[str, Tensor]:
        """SEAM's training objective plus the head's losses; see the class docstring."""
        labels = self.head.targets(data_samples, inputs.device)
        scaled_inputs = F.interpolate(inputs, scale_factor=self.scale_factor,
                                      mode='bilinear', align_corners=True)
        scores, revised = self.forward_branch(inputs)
        scores_t, revised_t = self.forward_branch(scaled_inputs)

        losses = self.head.losses_from_scores(scores, labels, self.input_images(inputs),
                                              owner='SEAM')
        add_losses(losses, self.scaled_cls_loss(scores_t, labels,
                                                self.input_images(scaled_inputs)), 'SEAM')

        size, size_t = inputs.shape[-2:], scaled_inputs.shape[-2:]
        cam, cam_rv = _resize(scores, size), _resize(revised, size)
        cam_t, cam_rv_t = _resize(scores_t, size_t), _resize(revised_t, size_t)
        fg_mask = labels[..., None, None].to(cam.dtype)
        rv_mask = torch.cat([torch.ones_like(fg_mask[:, :1]), fg_mask], dim=1)
        add_losses(losses, sum_terms(self.min_pool_loss(cam_rv[:, 1:] * fg_mask),
                                     self.min_pool_loss(cam_rv_t[:, 1:] * fg_mask)), 'SEAM')

        # ŷ, y of the original branch through A (downscaling), and of the scaled branch.
        norm = _resize(min_max_normalize(cam), size_t) * fg_mask
        norm_rv = _resize(min_max_normalize(cam_rv), size_t) * rv_mask
        norm_t = min_max_normalize(cam_t) * fg_mask
        norm_rv_t = min_max_normalize(cam_rv_t) * rv_mask
        add_losses(losses, self.er_loss(norm, norm_t), 'SEAM')
        target = keep_top_foreground(append_background(norm.detach()))
        target_t = keep_top_foreground(append_background(norm_t.detach()))
        add_losses(losses, sum_terms(self.ecr_loss(norm_rv, target_t),
                                     self.ecr_loss(norm_rv_t, target)), 'SEAM')
        return losses

    def predict(self, inputs: Tensor,
                data_samples: list[DataSample] | None = None) -> list[DataSample]:
        """Image scores and the PCM-revised CAMs of every sample.

        Sets ``pred_score`` (sigmoid of the GAP of s), ``pred_label`` (scores >= the
        head's ``thr``), ``cam`` (the PCM-revised foreground CAM, C x h x w, raw) and
        ``cam_cls`` (the classifier's CAM s before the PCM, C x h x w, raw); both are
        computed by the forward pass anyway. Resizing and normalisation belong to the
        reader (CAM generation's ``'seam'`` fusion).
        """
        scores, revised = self.forward_branch(inputs)
        cam = revised[:, 1:]
        image_scores = torch.sigmoid(scores.mean(dim=(2, 3)))
        if data_samples is None:
            data_samples = [DataSample() for _ in range(inputs.shape[0])]
        for i, sample in enumerate(data_samples):
            score = image_scores[i]
            sample.set_pred_score(score).set_pred_label(torch.where(score >= self.head.thr)[0])
            sample.set_field(cam[i], 'cam', dtype=Tensor)
            sample.set_field(scores[i], 'cam_cls', dtype=Tensor)
        return list(data_samples)
