"""AffinityNet (Ahn & Kwak, "Learning Pixel-level Semantic Affinity with Image-level
Supervision for Weakly Supervised Semantic Segmentation", CVPR 2018), as used by SEAM.

Network (PSA / SEAM ``network/resnet38_aff.py``): three backbone feature maps of the same
stride (ResNet38d ``conv4``, ``conv5``, ``conv6``: 512, 1024 and 4096 channels at
stride 8) each pass a bias-free 1x1 conv to 64, 128 and 256 channels and an ELU, are
concatenated (448 channels) and pass a bias-free 1x1 conv 448 -> 448 and an ELU, giving
features f. The affinity of cells i and j is

    a_ij = exp(-mean over channels of |f_i - f_j|)                     (Eq. 3 of the paper
                                                                      with the L1 distance
                                                                      averaged over channels,
                                                                      as the code does)

for every pair within the radius (5 at stride 8), trained by
:class:`~mmhfpl.models.losses.AffinityLoss`. The new layers are initialised as released:
Kaiming-normal branches, Xavier-uniform fusion with gain 4.

Inference (PSA / SEAM ``infer_aff.py``): the background score (1 - max_c r_c)^α joins the
max-normalised CAMs r_c of the labelled classes, the scores are zero-padded to the padded
input and average-pooled to the grid, propagated by the random walk T^t with
T = D^-1 A^β, t = 2^logt (:mod:`mmhfpl.models.refine.random_walk`), upsampled
bilinearly to the input, cropped to the image and the argmax is the refined label.
Published SEAM settings: β = 8, logt = 6, α = 6 (PSA: β = 8, logt = 8, α = 16). With
``bg_threshold`` set, a constant background score replaces (1 - max_c r_c)^α (MCTformer's
``psa/infer_aff.py``: 0.39).
"""

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from mmseg.structures import SegDataSample
from torch import Tensor, nn

from mmhfpl.pseudo_labels.make_labels import BackgroundRule, scores_with_background
from mmhfpl.registry import MODELS

from .base import BaseAffinityRefiner
from .random_walk import Offset, neighbour_offsets, random_walk, window_radius

DEFAULT_TEST_CFG = dict(beta=8.0, logt=6, alpha=6.0, bg_threshold=None)


def feature_affinity(feats: Tensor, offsets: Sequence[Offset]) -> Tensor:
    """a_ij = exp(-mean_c |f_i - f_j|) for every cell i and offset j - i.

    Args:
        feats: (B, C, h, w) features.
        offsets: Forward offsets of the pairs.

    Returns:
        (B, P, h, w) affinities; pairs leaving the grid compare with zero features and must
        be ignored by the caller (pair labels and random walk do).
    """
    radius = window_radius(offsets)
    height, width = feats.shape[-2:]
    padded = F.pad(feats, (radius, radius, radius, radius))  # one copy for all offsets
    return torch.stack([
        torch.exp(-(feats - padded[..., radius + dy:radius + dy + height,
                                   radius + dx:radius + dx + width]).abs().mean(dim=1))
        for dy, dx in offsets], dim=1)


class AffinityHead(nn.Module):
    """The 1x1 branches, concatenation and 1x1 fusion of AffinityNet (ELU activations)."""

    def __init__(self, in_channels: Sequence[int], branch_channels: Sequence[int],
                 out_channels: int) -> None:
        super().__init__()
        if len(in_channels) != len(branch_channels):
            raise ValueError(f'{len(in_channels)} input feature maps but '
                             f'{len(branch_channels)} branch widths')
        self.branches = nn.ModuleList(
            nn.Conv2d(cin, cout, 1, bias=False)
            for cin, cout in zip(in_channels, branch_channels, strict=True))
        self.fuse = nn.Conv2d(sum(branch_channels), out_channels, 1, bias=False)
        for branch in self.branches:
            nn.init.kaiming_normal_(branch.weight)
        nn.init.xavier_uniform_(self.fuse.weight, gain=4)

    def forward(self, feats: Sequence[Tensor]) -> Tensor:
        if len(feats) != len(self.branches):
            raise ValueError(f'the backbone gave {len(feats)} feature maps, the head expects '
                             f'{len(self.branches)} (check out_indices)')
        sizes = {tuple(feat.shape[-2:]) for feat in feats}
        if len(sizes) != 1:
            raise ValueError(f'AffinityNet needs feature maps of one stride, got sizes '
                             f'{sorted(sizes)}')
        projected = [F.elu(branch(feat)) for branch, feat in zip(self.branches, feats,
                                                                 strict=True)]
        return F.elu(self.fuse(torch.cat(projected, dim=1)))


@MODELS.register_module()
class AffinityNet(BaseAffinityRefiner):
    """AffinityNet: feature-distance affinities, random-walk refinement of CAMs.

    See the module docstring for the network, loss and inference. Train with the
    pipeline ``LoadImageFromFile, LoadCAMFromFile, AlphaSeedLabels, <crop / flip /
    colour jitter>, PairwiseAffinityLabels(radius, stride), PackAffinityInputs``; predict
    on unresized images with ``LoadCAMFromFile`` and ``PackAffinityInputs``.

    Args:
        backbone: Backbone config returning the feature maps of ``in_channels`` (all of
            one stride), e.g. ``ResNet38d(out_indices=(3, 4, 6))``.
        in_channels: Channels of the backbone outputs.
        branch_channels: Output channels of their 1x1 branches (64, 128, 256).
        out_channels: Channels of the fused features (448).
        stride: Output stride of the backbone features (8).
        radius: Pair radius (5) of training and of the random walk.
        loss: Affinity loss config.
        test_cfg: ``beta`` (β), ``logt`` (walk of 2^logt steps), ``alpha`` (background
            power α), ``bg_threshold`` (None: a constant background instead of α);
            defaults β = 8, logt = 6, α = 6 (SEAM).
        data_preprocessor: Defaults to ImageNet normalisation, BGR to RGB, padding to a
            multiple of ``stride``.
        init_cfg: Initialisation config.
    """

    def __init__(self, backbone: dict, in_channels: Sequence[int] = (512, 1024, 4096),
                 branch_channels: Sequence[int] = (64, 128, 256), out_channels: int = 448,
                 stride: int = 8, radius: int = 5, loss: dict | None = None,
                 test_cfg: dict | None = None, data_preprocessor: dict | None = None,
                 init_cfg: dict | list[dict] | None = None) -> None:
        super().__init__(stride, radius, loss or dict(type='AffinityLoss'),
                         data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.backbone = MODELS.build(backbone)
        self.head = AffinityHead(in_channels, branch_channels, out_channels)
        self.test_cfg = self.merge_test_cfg(DEFAULT_TEST_CFG, test_cfg)

    def extract_feat(self, inputs: Tensor) -> Tensor:
        """(B, out_channels, h, w) affinity features."""
        return self.head(self.backbone(inputs))

    def pair_affinity(self, inputs: Tensor, radius: int) -> Tensor:
        return feature_affinity(self.extract_feat(inputs), neighbour_offsets(radius))

    def predict(self, inputs: Tensor, data_samples: list[SegDataSample]) -> list[SegDataSample]:
        """Refined labels of each sample from its CAMs (see the module docstring)."""
        affinity = self.pair_affinity(inputs, self.radius)
        cfg = self.test_cfg
        for index, sample in enumerate(data_samples):
            cams, labels = self.sample_cams(sample)
            rule = (BackgroundRule(alpha=cfg['alpha']) if cfg['bg_threshold'] is None
                    else BackgroundRule(bg_threshold=cfg['bg_threshold']))
            scores = scores_with_background(cams, rule)
            scores = self.to_grid(scores, affinity.shape[-2:]).to(affinity)
            walked = random_walk(scores[None], affinity[index:index + 1], self.offsets,
                                 cfg['beta'], 2 ** cfg['logt'])[0]
            self.set_prediction(sample, self.upsample_scores(walked, cams.shape[1:]), labels)
        return data_samples
