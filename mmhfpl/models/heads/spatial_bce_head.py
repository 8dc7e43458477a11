"""Spatial-BCE head: class branch, threshold branch and logit scale (seed 003 §3, Alg. 1)."""

import math
from collections.abc import Sequence

import torch
from mmengine.model import BaseModule
from mmpretrain.structures import DataSample
from torch import Tensor, nn

from mmhfpl.models.losses.spatial_bce_loss import PHASES, select_thresholds
from mmhfpl.registry import MODELS

from .cam_head import add_losses, multi_hot_targets

#: Data-sample field holding the target foreground fractions q = Q / (1 + Q) (C,) of an
#: image; :class:`mmhfpl.engine.QUpdateHook` sets it before every training iteration.
FG_FRACTION_KEY = 'fg_fraction'


@MODELS.register_module()
class SpatialBCEHead(BaseModule):
    """Head of the adaptive Spatial-BCE classifier (seed 003, Eq. 1-9 and Algorithm 1).

    Two bias-free 1x1 branches read the backbone features:

    * the class branch gives class logits x (B, C, h, w), optionally through a
      ``mid_channels`` bottleneck (the authors' ResNet-38 model reduces the 4096 features to
      128 channels before the per-class 1x1 convolutions);
    * the threshold branch gives maps whose spatial mean, through a sigmoid, is the
      learned threshold t (B, C) of every image and class.

    During training the class logits are multiplied by a learnable per-class logit scale
    ``exp(log_logit_scale)``; ``log_logit_scale`` starts at ln(10), so the multiplier starts
    at 10 and stays positive (the parameterisation of the authors' code; the paper, §4.2,
    calls the initial value ln(10)). Inference drops the scale (§4.2) and reports the
    thresholds in the unscaled probability space: with a = mean of the threshold map, the
    training rule ``sigmoid(k x) > sigmoid(a)`` is ``sigmoid(x) > sigmoid(a / k)``.

    ``phase`` (set by :class:`mmhfpl.engine.AlternatingPhaseHook`) selects the sub-phase of
    Algorithm 1:

    * ``'prob'``: t is the ``q``-quantile of the detached probabilities
      (:func:`select_thresholds`), so Spatial-BCE trains the class branch and backbone and
      the threshold branch receives no gradient;
    * ``'threshold'``: t comes from the threshold branch and Spatial-BCE sees detached
      probabilities, so it trains the threshold branch only.

    The T/NT KL loss (Eq. 6-8) and the ``extra_losses`` (e.g. ISL/FSL, called like the
    losses of :class:`~mmhfpl.models.heads.CAMHead` with the scaled logits and the input
    images) apply in both sub-phases, as in the authors' training loop. The target
    fractions q come from the data samples' ``fg_fraction`` field.

    Args:
        num_classes: Number of foreground classes C.
        in_channels: Channels of the backbone feature map used.
        mid_channels: Channels of the class branch's bias-free bottleneck (None: a single
            1x1 convolution).
        loss_sbce: Config of the Spatial-BCE loss (default ``SpatialBCELoss()``).
        loss_tnt: Config of the T/NT KL loss (default ``TNTProportionKLLoss()``; an
            ablation without it sets its ``loss_weight`` to 0).
        extra_losses: Configs of further :class:`CAMLoss` terms on the scaled logits.
        logit_scale_init: Initial ``log_logit_scale`` of every class.
        thr: Threshold of ``pred_label`` on the image scores (max probability).
        in_index: Which backbone output to use when the backbone returns several.
        init_cfg: Initialisation (Xavier-uniform 1x1 convolutions, as the authors).
    """

    #: How CAM generation combines the TTA views of ``predict`` (see
    #: :data:`mmhfpl.pseudo_labels.cam_generation.CAM_FUSIONS`).
    cam_fusion = 'spatial_bce'

    def __init__(self, num_classes: int, in_channels: int, mid_channels: int | None = None,
                 loss_sbce: dict | None = None, loss_tnt: dict | None = None,
                 extra_losses: Sequence[dict] = (), logit_scale_init: float = math.log(10.0),
                 thr: float = 0.5, in_index: int = -1, init_cfg: dict | None = None) -> None:
        super().__init__(
            init_cfg=init_cfg or dict(type='Xavier', layer='Conv2d', distribution='uniform'))
        self.num_classes = num_classes
        self.thr = thr
        self.in_index = in_index
        self.reduce = (nn.Conv2d(in_channels, mid_channels, kernel_size=1, bias=False)
                       if mid_channels else nn.Identity())
        self.conv_cls = nn.Conv2d(mid_channels or in_channels, num_classes, kernel_size=1,
                                  bias=False)
        self.conv_threshold = nn.Conv2d(in_channels, num_classes, kernel_size=1, bias=False)
        self.log_logit_scale = nn.Parameter(torch.full((num_classes, ), logit_scale_init))
        self.loss_sbce = MODELS.build(loss_sbce or dict(type='mmhfpl.SpatialBCELoss'))
        self.loss_tnt = MODELS.build(loss_tnt or dict(type='mmhfpl.TNTProportionKLLoss'))
        self.losses = nn.ModuleList(MODELS.build(loss) for loss in extra_losses)
        self._phase = 'prob'

    @property
    def phase(self) -> str:
        """The current sub-phase of Algorithm 1, ``'prob'`` or ``'threshold'``."""
        return self._phase

    @phase.setter
    def phase(self, value: str) -> None:
        if value not in PHASES:
            raise ValueError(f'phase must be one of {PHASES}, got {value!r}')
        self._phase = value

    def forward(self, feats: Tensor | Sequence[Tensor]) -> tuple[Tensor, Tensor]:
        """Unscaled class logits x (B, C, h, w) and threshold maps (B, C, h, w)."""
        feat = feats if isinstance(feats, Tensor) else feats[self.in_index]
        return self.conv_cls(self.reduce(feat)), self.conv_threshold(feat)

    def logit_scale(self) -> Tensor:
        """The per-class multipliers exp(log_logit_scale) (C,)."""
        return self.log_logit_scale.exp()

    def fg_fractions(self, data_samples: Sequence[DataSample], device: torch.device) -> Tensor:
        """Target foreground fractions q (B, C) from the samples' ``fg_fraction`` field."""
        missing = [s.metainfo.get('img_path', i) for i, s in enumerate(data_samples)
                   if FG_FRACTION_KEY not in s]
        if missing:
            raise KeyError(f'data samples without {FG_FRACTION_KEY!r} (e.g. {missing[0]}): '
                           'add QUpdateHook to custom_hooks, it sets q for every image')
        q = torch.stack([torch.as_tensor(s.get(FG_FRACTION_KEY)) for s in data_samples])
        if q.shape[1] != self.num_classes:
            raise ValueError(f'{FG_FRACTION_KEY} has {q.shape[1]} classes, the head '
                             f'{self.num_classes}')
        return q.to(device=device, dtype=torch.float32)

    def loss(self, feats: Tensor | Sequence[Tensor], data_samples: Sequence[DataSample],
             images: Tensor | None = None) -> dict[str, Tensor]:
        """Spatial-BCE of the current phase, T/NT KL and the extra losses."""
        raw, threshold_maps = self(feats)
        logits = raw * self.logit_scale()[None, :, None, None]
        labels = multi_hot_targets(data_samples, self.num_classes, logits.device)
        q = self.fg_fractions(data_samples, logits.device)
        if self.phase == 'prob':
            thresholds = select_thresholds(torch.sigmoid(logits), labels, q)
        else:
            thresholds = torch.sigmoid(threshold_maps.float().mean(dim=(2, 3)))
        result: dict[str, Tensor] = {}
        add_losses(result, self.loss_sbce(logits, labels, thresholds, self.phase),
                   'SpatialBCEHead')
        add_losses(result, self.loss_tnt(logits, labels, q), 'SpatialBCEHead')
        for loss in self.losses:
            add_losses(result, loss(logits, labels, images), 'SpatialBCEHead')
        return result

    def predict(self, feats: Tensor | Sequence[Tensor],
                data_samples: Sequence[DataSample] | None = None) -> list[DataSample]:
        """Class logits and thresholds without the logit scale (§4.2).

        Sets ``cam`` (C, h, w): the class logits x (unscaled, p = sigmoid(x)); CAM
        generation averages them over the TTA views before one sigmoid, as the authors'
        ``make_cam.py`` does (``cam_fusion = 'spatial_bce'``); ``thresholds`` (C,):
        sigmoid(a / k) with a the spatial mean of the threshold map and k the logit scale,
        i.e. the learned threshold mapped to the unscaled probabilities; ``pred_score``: the
        maximum of p per class; ``pred_label``: classes whose score reaches ``thr``.
        """
        raw, threshold_maps = self(feats)
        thresholds = torch.sigmoid(threshold_maps.mean(dim=(2, 3)) / self.logit_scale())
        scores = torch.sigmoid(raw.flatten(2).amax(dim=2))
        if data_samples is None:
            data_samples = [DataSample() for _ in range(raw.shape[0])]
        for i, sample in enumerate(data_samples):
            sample.set_pred_score(scores[i]).set_pred_label(torch.where(scores[i] >= self.thr)[0])
            sample.set_field(raw[i], 'cam', dtype=Tensor)
            sample.set_field(thresholds[i], 'thresholds', dtype=Tensor)
        return list(data_samples)
