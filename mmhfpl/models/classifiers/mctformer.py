"""MCTformer-V2: multi-class token transformer (Xu et al., CVPR 2022)."""

import torch
from mmpretrain.structures import DataSample
from torch import Tensor

from mmhfpl.models.backbones import ClassTokenViT
from mmhfpl.models.heads import CAMHead
from mmhfpl.models.heads.cam_head import add_losses
from mmhfpl.registry import MODELS

from .cam_classifier import CAMClassifier


def class_attention_cam(attentions: Tensor, patch_scores: Tensor, num_layers: int = 3,
                        refine: bool = True) -> Tensor:
    """MCTformer-V2's fused class-specific localisation map (the authors' ``--attention-type
    fused --layer-index 3 --patch-attn-refine``).

    ``A_c = Σ_{last num_layers} attn[class c → patches] · ReLU(patch CAM_c)``, then with
    ``refine`` every pixel i takes ``Σ_j P_ij A_c(j)`` with P the patch-to-patch attention
    summed over all layers.

    Args:
        attentions: (L, B, N, N) head-averaged attention of every layer, N = C + h·w.
        patch_scores: (B, C, h, w) patch CAM logits of the head.
        num_layers: How many of the last layers' class attentions are summed.
        refine: Apply the patch-to-patch refinement.

    Returns:
        (B, C, h, w) non-negative maps.
    """
    batch, classes, height, width = patch_scores.shape
    if attentions.shape[-1] != classes + height * width:
        raise ValueError(f'attention over {attentions.shape[-1]} tokens does not match '
                         f'{classes} class tokens and a {height}x{width} patch grid')
    if not 1 <= num_layers <= attentions.shape[0]:
        raise ValueError(f'num_layers must be in 1..{attentions.shape[0]}, got {num_layers}')
    class_attention = attentions[-num_layers:].sum(dim=0)[:, :classes, classes:]
    cams = class_attention * torch.relu(patch_scores.detach()).flatten(2)
    if refine:
        patch_attention = attentions.sum(dim=0)[:, classes:, classes:]  # (B, P, P)
        cams = cams @ patch_attention.transpose(1, 2)  # Σ_j P_ij A_c(j)
    return cams.reshape(batch, classes, height, width)


@MODELS.register_module()
class MCTformer(CAMClassifier):
    """MCTformer-V2 on a :class:`~mmhfpl.models.backbones.ClassTokenViT`.

    Training returns (names are the default ``loss_name`` values):

    * ``loss_cls_token``: ``token_loss`` (multi-label soft margin = ``GAPBCELoss``) on the
      class-token logits, each token's mean over its embedding;
    * the head's losses on the patch CAM (a ``CAMHead`` with a 3x3 convolution on the
      patch tokens; ``GAPBCELoss`` is the authors' patch loss, ``loss_gap_bce``); ISL/FSL
      join through the head's list as for any CAM head.

    ``predict`` sets ``pred_score`` (sigmoid of the class-token logits), ``cam``
    (:func:`class_attention_cam`, with ``cam_layers`` and ``refine`` of ``test_cfg``) and
    ``cam_cls`` (the raw patch CAM). CAM generation combines the views by
    ``cam_fusion = 'mctformer'`` (the authors' ``generate_attention_maps_ms``).

    Args:
        backbone: A ``ClassTokenViT`` config with one class token per class.
        head: A ``CAMHead`` config on the patch map (``kernel_size=3``, ``bias=True``).
        token_loss: Loss of the class-token logits (a CAM-head loss applied to (B, C, 1, 1)).
        test_cfg: ``cam_layers`` (3) and ``refine`` (True).
        data_preprocessor: Defaults to ``mmpretrain.ClsDataPreprocessor``.
        **kwargs: Other arguments of ``mmpretrain.ImageClassifier``.
    """

    cam_fusion = 'mctformer'

    def __init__(self, backbone: dict, head: dict, token_loss: dict | None = None,
                 test_cfg: dict | None = None, data_preprocessor: dict | None = None,
                 **kwargs) -> None:
        super().__init__(backbone=backbone, head=head, data_preprocessor=data_preprocessor,
                         **kwargs)
        if not isinstance(self.backbone, ClassTokenViT):
            raise TypeError(f'MCTformer needs a ClassTokenViT, got {type(self.backbone).__name__}')
        if not isinstance(self.head, CAMHead):
            raise TypeError(f'MCTformer needs a CAMHead, got {type(self.head).__name__}')
        if self.backbone.num_class_tokens != self.head.num_classes:
            raise ValueError(f'{self.backbone.num_class_tokens} class tokens but '
                             f'{self.head.num_classes} classes in the head')
        self.token_loss = MODELS.build(token_loss or dict(
            type='mmhfpl.GAPBCELoss', loss_name='loss_cls_token'))
        self.test_cfg = dict(cam_layers=3, refine=True)
        unknown = set(test_cfg or {}) - set(self.test_cfg)
        if unknown:
            raise ValueError(f'unknown test_cfg keys {sorted(unknown)}; expected '
                             f'{sorted(self.test_cfg)}')
        self.test_cfg.update(test_cfg or {})

    def _forward(self, inputs: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """Class-token logits (B, C), patch CAM logits (B, C, h, w), attentions."""
        tokens, patches, attentions = self.backbone(inputs)
        return tokens.mean(dim=-1), self.head(patches), attentions

    def loss(self, inputs: Tensor, data_samples: list[DataSample]) -> dict[str, Tensor]:
        token_logits, scores, _ = self._forward(inputs)
        labels = self.head.targets(data_samples, inputs.device)
        losses = self.head.losses_from_scores(scores, labels, self.input_images(inputs),
                                              owner='MCTformer')
        add_losses(losses, self.token_loss(token_logits[..., None, None], labels), 'MCTformer')
        return losses

    def predict(self, inputs: Tensor,
                data_samples: list[DataSample] | None = None) -> list[DataSample]:
        token_logits, scores, attentions = self._forward(inputs)
        cams = class_attention_cam(attentions, scores, self.test_cfg['cam_layers'],
                                   self.test_cfg['refine'])
        image_scores = torch.sigmoid(token_logits)
        if data_samples is None:
            data_samples = [DataSample() for _ in range(inputs.shape[0])]
        for i, sample in enumerate(data_samples):
            score = image_scores[i]
            sample.set_pred_score(score).set_pred_label(torch.where(score >= self.head.thr)[0])
            sample.set_field(cams[i], 'cam', dtype=Tensor)
            sample.set_field(scores[i], 'cam_cls', dtype=Tensor)
        return list(data_samples)
