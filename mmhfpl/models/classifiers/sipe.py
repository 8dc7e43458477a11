"""SIPE: self-supervised image-specific prototype exploration (Chen et al., CVPR 2022)."""

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from mmpretrain.structures import DataSample
from torch import Tensor

from mmhfpl.models.heads import CAMHead
from mmhfpl.models.heads.cam_head import add_losses
from mmhfpl.models.layers import cam_with_background
from mmhfpl.registry import MODELS

from .cam_classifier import CAMClassifier


@MODELS.register_module()
class SIPE(CAMClassifier):
    """SIPE's classifier: a CAM head plus image-specific prototypes (IS-CAM).

    The backbone returns every stage (ResNet-50 at output stride 16, ``out_indices=(0, 1,
    2, 3)``); the head's bias-free 1x1 convolution gives the CAM s of the last stage, and
    :class:`~mmhfpl.models.layers.ImageSpecificPrototypes` the IS-CAM of the normalised
    CAM with background (:func:`~mmhfpl.models.layers.cam_with_background`). Training
    returns (names are the default ``loss_name`` values):

    * the head's losses on s with the input images — SIPE's multi-label soft margin on the
      GAP scores is ``GAPBCELoss`` (``loss_gap_bce``); ISL/FSL are added to the head's
      list like for any CAM head;
    * ``loss_gsc``: ``gsc_loss`` between the normalised CAM with background (masked by
      the labels and by the crop's ``valid_mask`` when the data samples carry one,
      nearest-downsampled) and the max-normalised IS-CAM.

    As in the authors' training step, the seeds of training use the last stage's features
    for the correlation, while inference uses the hierarchical feature.

    ``predict`` sets ``cam`` to the IS-CAM of the C classes and ``cam_background`` to its
    background channel (1, h, w), both non-negative, and ``cam_cls`` to the head's raw CAM
    s. Seeds are masked by the sample's ``gt_label`` (the image labels, as the authors'
    ``make_cam.py``) or, without one, by ``pred_label``. A view and its horizontal flip
    in one batch (same ``sample_idx`` and size, ``flip`` False and True: the pairs of
    :func:`~mmhfpl.pseudo_labels.cam_tta_pipeline`) are fused as the authors' inference
    fuses them: CAM and hierarchical feature of the flipped view are flipped back and added
    before the seeds, so both views get one IS-CAM (flipped for the flipped view). CAM
    generation combines the views by ``cam_fusion = 'sipe'``.

    Args:
        backbone: Backbone config returning every stage.
        head: A ``CAMHead`` config on the last stage.
        prototypes: An ``ImageSpecificPrototypes`` config.
        gsc_loss: ``GeneralSpecificConsistencyLoss`` config.
        data_preprocessor: Defaults to ``mmpretrain.ClsDataPreprocessor``.
        **kwargs: Other arguments of ``mmpretrain.ImageClassifier`` (e.g. ``init_cfg``).
    """

    cam_fusion = 'sipe'

    def __init__(self, backbone: dict, head: dict, prototypes: dict | None = None,
                 gsc_loss: dict | None = None, data_preprocessor: dict | None = None,
                 **kwargs) -> None:
        super().__init__(backbone=backbone, head=head, data_preprocessor=data_preprocessor,
                         **kwargs)
        if not isinstance(self.head, CAMHead):
            raise TypeError(f'SIPE needs a CAMHead, got {type(self.head).__name__}')
        self.prototypes = MODELS.build(prototypes or dict(type='mmhfpl.ImageSpecificPrototypes'))
        self.gsc_loss = MODELS.build(
            gsc_loss or dict(type='mmhfpl.GeneralSpecificConsistencyLoss'))

    def _features(self, inputs: Tensor) -> tuple[Sequence[Tensor], Tensor, Tensor]:
        """Backbone stages, raw CAM s (B, C, h, w) and hierarchical feature."""
        feats = self.extract_feat(inputs)
        if not isinstance(feats, Sequence) or len(feats) != len(self.prototypes.sides):
            raise ValueError(f'SIPE needs the {len(self.prototypes.sides)} backbone stages '
                             '(e.g. out_indices=(0, 1, 2, 3))')
        return feats, self.head(feats), self.prototypes.hierarchical_feature(feats)

    @staticmethod
    def _at(maps: Tensor, size: Sequence[int]) -> Tensor:
        """Bilinear resize with ``align_corners=True`` (no-op at the same size)."""
        if tuple(maps.shape[-2:]) == tuple(size):
            return maps
        return F.interpolate(maps, size=tuple(size), mode='bilinear', align_corners=True)

    def loss(self, inputs: Tensor, data_samples: list[DataSample]) -> dict[str, Tensor]:
        """Head losses on s and the GSC loss; see the class docstring."""
        feats, scores, feature = self._features(inputs)
        labels = self.head.targets(data_samples, inputs.device)
        losses = self.head.losses_from_scores(scores, labels, self.input_images(inputs),
                                              owner='SIPE')
        size = feature.shape[-2:]
        valid = torch.cat([torch.ones_like(labels[:, :1]), labels], dim=1)[..., None, None]
        if all('valid_mask' in sample for sample in data_samples):
            region = torch.stack([torch.as_tensor(s.valid_mask) for s in data_samples])
            # the authors: nearest to (H // 16, W // 16), the feature size at stride 16
            region = F.interpolate(region[:, None].to(inputs.device, scores.dtype),
                                   size=tuple(size), mode='nearest')
            valid = valid * region
        cams = self._at(cam_with_background(scores), size) * valid
        is_cams, _ = self.prototypes(cams, feature, valid, seed_feature=feats[-1])
        add_losses(losses, self.gsc_loss(cams, is_cams), 'SIPE')
        return losses

    def predict(self, inputs: Tensor,
                data_samples: list[DataSample] | None = None) -> list[DataSample]:
        """IS-CAM of every sample (``cam``, ``cam_background``), see the class docstring."""
        _, scores, feature = self._features(inputs)
        image_scores = torch.sigmoid(scores.mean(dim=(2, 3)))
        if data_samples is None:
            data_samples = [DataSample() for _ in range(inputs.shape[0])]
        for i, sample in enumerate(data_samples):
            score = image_scores[i]
            sample.set_pred_score(score).set_pred_label(torch.where(score >= self.head.thr)[0])
        size = feature.shape[-2:]
        for group in self._flip_groups(data_samples):
            first = group[0]
            flipped = [data_samples[i].metainfo.get('flip', False) for i in group]
            fused_scores = sum(scores[i].flip(-1) if f else scores[i]
                               for i, f in zip(group, flipped, strict=True))[None]
            fused_feature = sum(feature[i].flip(-1) if f else feature[i]
                                for i, f in zip(group, flipped, strict=True))[None]
            sample = data_samples[first]
            present = sample.gt_label if 'gt_label' in sample else sample.pred_label
            valid = torch.zeros(scores.shape[1] + 1, device=scores.device, dtype=scores.dtype)
            valid[0] = 1
            valid[present.to(scores.device).long() + 1] = 1
            cams = self._at(cam_with_background(fused_scores), size)
            is_cam = self.prototypes(cams, fused_feature, valid[None, :, None, None])[0][0]
            for i, f in zip(group, flipped, strict=True):
                view = is_cam.flip(-1) if f else is_cam
                data_samples[i].set_field(view[1:], 'cam', dtype=Tensor)
                data_samples[i].set_field(view[:1], 'cam_background', dtype=Tensor)
                data_samples[i].set_field(scores[i], 'cam_cls', dtype=Tensor)
        return list(data_samples)

    @staticmethod
    def _flip_groups(data_samples: Sequence[DataSample]) -> list[list[int]]:
        """Indices of the samples fused at inference: flip pairs of one image, else alone."""
        groups: list[list[int]] = []
        open_pairs: dict[tuple, int] = {}
        for index, sample in enumerate(data_samples):
            key = sample.metainfo.get('sample_idx')
            if key is None or 'flip' not in sample.metainfo:
                groups.append([index])
                continue
            key = (key, tuple(sample.metainfo.get('img_shape', ())))
            flip = bool(sample.metainfo['flip'])
            partner = open_pairs.get(key)
            if partner is not None and bool(data_samples[groups[partner][0]].flip) != flip:
                groups[partner].append(index)
                del open_pairs[key]
            else:
                open_pairs[key] = len(groups)
                groups.append([index])
        return groups
