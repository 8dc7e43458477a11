"""IRN, semantic part (Ahn, Cho & Kwak, "Weakly Supervised Learning of Instance
Segmentation with Inter-pixel Relations", CVPR 2019): the class-boundary branch, its
inter-pixel relation loss and random-walk refinement of CAMs.

Network (IRN ``net/resnet50_irn.py``): a frozen ImageNet ResNet-50 with strides
(2, 2, 2, 1) (output stride 16; its features are computed without gradients and its
BatchNorms stay in eval mode) feeds the class-boundary branch from all five stages: the
stem after max pooling (64 channels, stride 4), ``layer1`` .. ``layer4`` (256, 512, 1024,
2048 channels at strides 4, 8, 16, 16). Each passes a bias-free 1x1 conv to 32 channels,
GroupNorm(4 groups) and, for the coarser stages, bilinear upsampling to stride 4, then a
ReLU; the five are concatenated (160 channels) and a 1x1 conv with bias gives the boundary
logit. The boundary map is B = sigmoid(logit) at stride 4.

Inter-pixel relations (Eq. 3): the affinity of cells i and j is one minus the largest
boundary value on the straight path between them,

    a_ij = 1 - max_{k in path(i, j)} B_k,

the path being the lattice cells of the segment's bounding box whose distance to the
segment's line is below one cell (IRN ``PathIndex``), endpoints included; cells outside the
image count as boundary (B = 1). Trained by :class:`~mmhfpl.models.losses.AffinityLoss`
from pair labels within radius 10 at stride 4 (the same class-balanced loss as
AffinityNet; IRN's ``train_irn.py``), so dissimilar pairs must cross a boundary.

Inference (IRN ``make_sem_seg_labels.py``): the boundary map is averaged over the image and
its horizontal flip (logits averaged, then the sigmoid), the affinities a_ij^β within
radius 5 define the walk T = D^-1 A^β (:mod:`mmhfpl.models.refine.random_walk`), the
CAMs of the labelled classes, average-pooled to the grid and multiplied by (1 - B), are
propagated by t = 2^exp_times steps, upsampled bilinearly by the stride, cropped to the
image and divided by their global maximum; a constant background score competes in the
argmax. Published: β = 10, exp_times = 8, background threshold 0.25 (seed 000 §5.1:
0.30 with ISL, 0.40 with FSL for Spatial-BCE). With ``bg_scale`` set, the CAM file's own
background map (SIPE's IS-CAM background) times ``bg_scale`` is walked with the class maps
instead and no constant competes (SIPE ``make_seg_labels.py``: ``bg_scale=1``, the maps
raised to ``cam_power=1.5`` before the walk). The displacement-field branch (instances) is
not implemented.
"""

from collections.abc import Sequence
from functools import lru_cache

import torch
import torch.nn.functional as F
from mmseg.structures import SegDataSample
from torch import Tensor, nn

from mmhfpl.pseudo_labels.make_labels import BackgroundRule, scores_with_background
from mmhfpl.registry import MODELS

from .base import BaseAffinityRefiner
from .random_walk import Offset, neighbour_offsets, random_walk, shift

DEFAULT_TEST_CFG = dict(radius=5, beta=10.0, exp_times=8, bg_threshold=0.25, flip=True,
                        bg_scale=None, cam_power=1.0)


@lru_cache(maxsize=16)
def path_points(radius: int) -> tuple[tuple[Offset, ...], ...]:
    """For every forward offset of ``radius``, the cells of the path from (0, 0) to it.

    A cell (y, x) of the offset's bounding box is on the path of offset (dy, dx) when
    (dy x - dx y)² / (dy² + dx²) < 1 (its distance to the line is below one cell).
    """
    paths = []
    for dy, dx in neighbour_offsets(radius):
        norm = dy * dy + dx * dx
        paths.append(tuple(
            (y, x)
            for y in range(min(0, dy), max(0, dy) + 1)
            for x in range(min(0, dx), max(0, dx) + 1)
            if (dy * x - dx * y) ** 2 < norm))
    return tuple(paths)


def path_affinity(boundary: Tensor, radius: int) -> Tensor:
    """a_ij = 1 - max boundary on the path of i and j, for all pairs within ``radius``.

    Args:
        boundary: (B, h, w) boundary probabilities in [0, 1].
        radius: Pair radius.

    Returns:
        (B, P, h, w) affinities for :func:`~mmhfpl.models.refine.random_walk.neighbour_offsets`
        of ``radius``; cells outside the grid count as boundary (a = 0 for pairs leaving it).
    """
    shifted: dict[Offset, Tensor] = {}
    affinities = []
    for path in path_points(radius):
        for point in path:
            if point not in shifted:
                shifted[point] = shift(boundary, point, fill=1.0)
        peak = torch.stack([shifted[point] for point in path]).amax(dim=0)
        affinities.append(1.0 - peak)
    return torch.stack(affinities, dim=1)


class BoundaryHead(nn.Module):
    """IRN's class-boundary branch over multi-stage backbone features."""

    def __init__(self, in_channels: Sequence[int], channels: int = 32,
                 num_groups: int = 4) -> None:
        super().__init__()
        self.levels = nn.ModuleList(
            nn.Sequential(nn.Conv2d(cin, channels, 1, bias=False),
                          nn.GroupNorm(num_groups, channels))
            for cin in in_channels)
        self.fuse = nn.Conv2d(channels * len(in_channels), 1, 1, bias=True)

    def forward(self, feats: Sequence[Tensor]) -> Tensor:
        """(B, 1, h, w) boundary logits at the grid of the first (finest) feature map."""
        if len(feats) != len(self.levels):
            raise ValueError(f'the backbone gave {len(feats)} feature maps, the boundary '
                             f'branch expects {len(self.levels)}')
        height, width = feats[0].shape[-2:]
        outs = []
        for level, feat in zip(self.levels, feats, strict=True):
            out = level(feat)
            factor = height // out.shape[-2]
            if out.shape[-2] * factor != height or out.shape[-1] * factor != width:
                raise ValueError(
                    f'feature map of size {tuple(out.shape[-2:])} is not an integer fraction '
                    f'of the finest one {(height, width)}: pad the inputs to a multiple of '
                    'the backbone output stride (pad_size_divisor)')
            if factor > 1:
                out = F.interpolate(out, scale_factor=factor, mode='bilinear',
                                    align_corners=False)
            outs.append(F.relu(out))
        return self.fuse(torch.cat(outs, dim=1))


@MODELS.register_module()
class IRN(BaseAffinityRefiner):
    """IRN's class-boundary network with path affinities and random-walk refinement.

    See the module docstring. The backbone is frozen: it is kept in eval mode, its
    parameters do not require gradients and its features are computed without autograd.
    Its five stage outputs are the output of its ``maxpool`` module (the stem) and its
    four residual stages, so it must be an mmpretrain-style ResNet with a ``maxpool``
    submodule and ``out_indices=(0, 1, 2, 3)``.

    Args:
        backbone: Backbone config, e.g. ``mmpretrain.ResNet`` depth 50, strides
            (1, 2, 2, 1), ImageNet weights.
        in_channels: Channels of the stem and the four stages (64, 256, 512, 1024, 2048).
        branch_channels: Width of every boundary-branch level (32).
        num_groups: GroupNorm groups (4).
        stride: Output stride of the boundary map (4: the stem's).
        radius: Pair radius of training (10).
        loss: Affinity loss config.
        test_cfg: ``radius`` (5), ``beta`` (10), ``exp_times`` (walk of 2^exp_times
            steps, 8), ``bg_threshold`` (0.25), ``flip`` (flip-averaged boundaries, True),
            ``bg_scale`` (None: walk the stored background map times this factor instead
            of a constant background, SIPE: 1), ``cam_power`` (maps raised to this power
            before the walk, 1; SIPE: 1.5).
        data_preprocessor: Defaults to ImageNet normalisation, BGR to RGB, padding to a
            multiple of ``stride``; use the backbone's output stride (16) as
            ``pad_size_divisor`` for inputs of any size.
        init_cfg: Initialisation config.
    """

    def __init__(self, backbone: dict,
                 in_channels: Sequence[int] = (64, 256, 512, 1024, 2048),
                 branch_channels: int = 32, num_groups: int = 4, stride: int = 4,
                 radius: int = 10, loss: dict | None = None, test_cfg: dict | None = None,
                 data_preprocessor: dict | None = None,
                 init_cfg: dict | list[dict] | None = None) -> None:
        super().__init__(stride, radius, loss or dict(type='AffinityLoss'),
                         data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.backbone = MODELS.build(backbone)
        if not isinstance(getattr(self.backbone, 'maxpool', None), nn.Module):
            raise TypeError(f'IRN takes the stem features from the backbone\'s maxpool; '
                            f'{type(self.backbone).__name__} has none')
        self.head = BoundaryHead(in_channels, branch_channels, num_groups)
        self.test_cfg = self.merge_test_cfg(DEFAULT_TEST_CFG, test_cfg)
        for param in self.backbone.parameters():
            param.requires_grad = False

    def train(self, mode: bool = True) -> 'IRN':
        super().train(mode)
        self.backbone.eval()
        return self

    def extract_feat(self, inputs: Tensor) -> list[Tensor]:
        """The frozen backbone's stem and stage outputs (no gradient)."""
        captured = []
        handle = self.backbone.maxpool.register_forward_hook(
            lambda module, args, output: captured.append(output))
        try:
            with torch.no_grad():
                stages = self.backbone(inputs)
        finally:
            handle.remove()
        return [captured[0], *stages]

    def boundary_logits(self, inputs: Tensor) -> Tensor:
        """(B, 1, h, w) class-boundary logits at the stride of the stem."""
        return self.head(self.extract_feat(inputs))

    def pair_affinity(self, inputs: Tensor, radius: int) -> Tensor:
        return path_affinity(torch.sigmoid(self.boundary_logits(inputs))[:, 0], radius)

    def predict(self, inputs: Tensor, data_samples: list[SegDataSample]) -> list[SegDataSample]:
        """Refined labels of each sample from its CAMs (see the module docstring)."""
        cfg = self.test_cfg
        logits = self.boundary_logits(inputs)
        if cfg['flip']:
            logits = (logits + self.boundary_logits(inputs.flip(-1)).flip(-1)) / 2
        boundary = torch.sigmoid(logits)[:, 0]
        affinity = path_affinity(boundary, cfg['radius'])
        stored = cfg['bg_scale'] is not None
        for index, sample in enumerate(data_samples):
            cams, labels = self.sample_cams(sample)
            if stored:  # [background, classes], walked together
                if 'cam_background' not in sample:
                    raise KeyError('test_cfg.bg_scale needs CAM files with a background map '
                                   '(made from a model that predicts one, e.g. SIPE)')
                cams = scores_with_background(
                    cams, BackgroundRule(bg_scale=cfg['bg_scale']),
                    background=sample.cam_background.data[0].float())
            maps = cams.to(boundary)  # (0, H, W) for an image without classes
            if len(labels):
                grid = self.to_grid(maps ** cfg['cam_power'], boundary.shape[-2:])
                grid = grid * (1 - boundary[index])
                walked = random_walk(grid[None], affinity[index:index + 1],
                                     neighbour_offsets(cfg['radius']),
                                     cfg['beta'], 2 ** cfg['exp_times'])[0]
                maps = self.upsample_scores(walked, cams.shape[1:])
                maps = maps / maps.max().clamp(min=1e-5)
            scores = maps if stored else scores_with_background(
                maps, BackgroundRule(bg_threshold=cfg['bg_threshold']))
            self.set_prediction(sample, scores, labels)
        return data_samples
