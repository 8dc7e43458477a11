"""CAM head: class-score maps from a 1x1 convolution, GAP image scores, a loss list."""

from collections.abc import Sequence

import torch
from mmengine.model import BaseModule
from mmpretrain.structures import DataSample, label_to_onehot
from torch import Tensor, nn

from mmhfpl.registry import MODELS


def multi_hot_targets(data_samples: Sequence[DataSample], num_classes: int,
                      device: torch.device) -> Tensor:
    """Multi-hot (B, C) labels from mmpretrain data samples (``gt_score`` if all have it)."""
    if all('gt_score' in sample for sample in data_samples):
        return torch.stack([sample.gt_score for sample in data_samples]).to(device)
    return torch.stack([label_to_onehot(sample.gt_label, num_classes)
                        for sample in data_samples]).to(device)


def add_losses(result: dict[str, Tensor], new: dict[str, Tensor], owner: str) -> None:
    """Add the named terms ``new`` to ``result``, refusing a name that is already there."""
    for name, value in new.items():
        if name in result:
            raise KeyError(f'two losses of {owner} return the key {name!r}; give them '
                           'different loss_name values')
        result[name] = value


@MODELS.register_module()
class CAMHead(BaseModule):
    """Stage-1 WSSS head with explicit class-score maps (seed 000 §3.2, Eq. 2-4).

    A 1x1 convolution maps the backbone features to class scores s_c(i, j) (the CAM;
    there is no FC layer after pooling), image scores are their global average (Eq. 3),
    and every loss of ``losses`` receives the maps themselves, so pooling-free losses
    (ISL, FSL, ...) compose with the GAP BCE by listing them.

    mmpretrain's ``MultiLabelClsHead`` works on pooled features with one loss module and
    never sees the maps or the input images, so this head derives from ``BaseModule``
    and only keeps mmpretrain's data conventions (``gt_label`` / ``gt_score`` in,
    ``pred_score`` / ``pred_label`` out).

    Every loss is called as ``loss(scores, labels, images)`` with the raw maps s
    (B, C, h, w), multi-hot labels (B, C) and the input batch as images in [0, 1]
    (B, 3, H, W; :meth:`CAMClassifier.input_images`), and returns a dict of named loss
    terms.

    Args:
        num_classes: Number of foreground classes C.
        in_channels: Channels of the backbone feature map used.
        losses: Configs of the losses (default: GAP BCE only).
        thr: Score threshold for ``pred_label``.
        bias: Whether the classifier convolution has a bias.
        kernel_size: Size of the classifier convolution (1; MCTformer-V2's patch CAM: 3,
            padded to keep the map size).
        in_index: Which backbone output to use when the backbone returns several.
        init_cfg: Initialisation of the classifier.
    """

    #: How CAM generation combines the TTA views of ``predict`` (see
    #: :data:`mmhfpl.pseudo_labels.cam_generation.CAM_FUSIONS`).
    cam_fusion = 'irn'

    def __init__(self, num_classes: int, in_channels: int,
                 losses: Sequence[dict] = (dict(type='mmhfpl.GAPBCELoss'), ),
                 thr: float = 0.5, bias: bool = False, in_index: int = -1,
                 kernel_size: int = 1, init_cfg: dict | None = None) -> None:
        super().__init__(init_cfg=init_cfg or dict(type='Normal', layer='Conv2d', std=0.01))
        if not losses:
            raise ValueError('CAMHead needs at least one loss in `losses`')
        self.num_classes = num_classes
        self.thr = thr
        self.in_index = in_index
        if kernel_size < 1 or kernel_size % 2 == 0:
            raise ValueError(f'kernel_size must be a positive odd number, got {kernel_size}')
        self.conv_cls = nn.Conv2d(in_channels, num_classes, kernel_size=kernel_size,
                                  padding=kernel_size // 2, bias=bias)
        self.losses = nn.ModuleList(
            loss if isinstance(loss, nn.Module) else MODELS.build(loss) for loss in losses)

    def forward(self, feats: Tensor | Sequence[Tensor]) -> Tensor:
        """Raw class-score maps s (B, C, h, w) of the selected feature map."""
        feat = feats if isinstance(feats, Tensor) else feats[self.in_index]
        return self.conv_cls(feat)

    def targets(self, data_samples: Sequence[DataSample], device: torch.device) -> Tensor:
        """Multi-hot (B, C) labels from mmpretrain data samples."""
        return multi_hot_targets(data_samples, self.num_classes, device)

    def loss(self, feats: Tensor | Sequence[Tensor], data_samples: Sequence[DataSample],
             images: Tensor | None = None) -> dict[str, Tensor]:
        """Sum of the configured losses; ``images`` are the inputs in [0, 1]."""
        scores = self(feats)
        return self.losses_from_scores(scores, self.targets(data_samples, scores.device), images)

    def losses_from_scores(self, scores: Tensor, labels: Tensor, images: Tensor | None = None,
                           owner: str = 'CAMHead') -> dict[str, Tensor]:
        """The configured losses of given class-score maps (B, C, h, w) and labels (B, C).

        For models that compute the maps themselves (e.g. SEAM's siamese branches);
        ``owner`` names the model in the error on duplicate loss names.
        """
        result: dict[str, Tensor] = {}
        for loss in self.losses:
            add_losses(result, loss(scores, labels, images), owner)
        return result

    def predict(self, feats: Tensor | Sequence[Tensor],
                data_samples: Sequence[DataSample] | None = None) -> list[DataSample]:
        """Image scores and the raw CAM of every sample (the prediction contract, README).

        Sets ``pred_score`` (sigmoid of the GAP score), ``pred_label`` (scores >= thr) and
        ``cam``: the raw class scores s (C x h x w, Eq. 2) before any activation or
        normalisation. Nothing else is computed: normalisation (Eq. 4) and resizing belong
        to the reader (``tools/generate_cams.py`` combines the TTA views by the head's
        ``cam_fusion`` rule).
        """
        scores = self(feats)
        image_scores = torch.sigmoid(scores.mean(dim=(2, 3)))
        if data_samples is None:
            data_samples = [DataSample() for _ in range(scores.shape[0])]
        for i, sample in enumerate(data_samples):
            score = image_scores[i]
            sample.set_pred_score(score).set_pred_label(torch.where(score >= self.thr)[0])
            sample.set_field(scores[i], 'cam', dtype=Tensor)
        return list(data_samples)
