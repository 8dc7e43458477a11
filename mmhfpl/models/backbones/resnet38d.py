"""ResNet38d: the wide ResNet-38 ("Model A1") used by AffinityNet, SEAM and Spatial-BCE.

Wu, Shen and van den Hengel, "Wider or Deeper: Revisiting the ResNet Model for Visual
Recognition" (Pattern Recognition 2019), model A1 with its ImageNet weights
``ilsvrc-cls_rna-a1_cls1000_ep-0001.params``, run at output stride 8 as in AffinityNet
(Ahn & Kwak, CVPR 2018), SEAM (Wang et al., CVPR 2020) and Spatial-BCE (Wu et al.,
ECCV 2022). Layout (checked against the authors' MXNet symbol ``rna_feat_a1(8)`` in
itijyou/ademxapp ``util/symbol/resnet_v2.py`` and the PyTorch port in jiwoon-ahn/psa
and YudeWang/SEAM ``network/resnet38d.py``):

========  ======  ==========================================  ======  ========  =======
index     module  blocks (in -> out channels)                 stride  dilation  out ch
========  ======  ==========================================  ======  ========  =======
0         conv1a  3x3 conv 3 -> 64, no BN                     1       1         64
1         b2      b2 (64->128, s2), b2_1, b2_2                2       1         128
2         b3      b3 (128->256, s2), b3_1, b3_2               4       1         256
3         b4      b4 (256->512, s2), b4_1 ... b4_5            8       1         512
4         b5      b5 (512->512->1024, first dilation 1),      8       2         1024
                  b5_1, b5_2
5         b6      b6 bottleneck 1024->512->1024->2048,        8       4         2048
                  dropout 0.3
6         b7      b7 bottleneck 2048->1024->2048->4096,       8       4         4096
                  dropout 0.5, then bn7 + ReLU
========  ======  ==========================================  ======  ========  =======

Blocks are pre-activation residual blocks: ``bn_branch2a`` + ReLU on the block input
feed both the residual branch and, in the first block of every stage (where channels
or stride change), the 1x1 projection shortcut ``conv_branch1``; the other blocks add
the raw input. ``ResBlock`` has two 3x3 convs (``conv_branch2a``, ``conv_branch2b1``),
``BottleneckResBlock`` a 1x1 - 3x3 - 1x1 branch (``conv_branch2a``, ``conv_branch2b1``,
``conv_branch2b2``) with ``Dropout2d`` before its last two convs (as in AffinityNet /
SEAM; the ImageNet model itself was trained without dropout).

Stage outputs (``out_indices``): output ``i`` is the *normalised and activated* output
of stage ``i``, i.e. ReLU(BN(x)) with the BN that the network applies to that tensor
anyway: ``bn_branch2a`` of the first block of stage ``i + 1``, and ``bn7`` for stage 6.
These are exactly AffinityNet/SEAM's features (``forward_as_dict``): SEAM ``conv3`` =
index 2 (256 ch, stride 4), ``conv4`` = index 3 (512 ch, stride 8), ``conv5`` = index 4
(1024 ch, stride 8; SEAM's PCM uses ``conv4`` and ``conv5``), ``conv6`` = index 6
(4096 ch, the CAM feature). The BN is evaluated once and shared with the next block.
Outputs are returned in stage order; the forward pass stops after the last requested
stage, so stages past it get no gradient (DDP then needs ``find_unused_parameters``).

Module names follow AffinityNet/SEAM (``conv1a``, ``b2``, ``b2_1``, ..., ``b7``, ``bn7``
with ``bn_branch2a``, ``conv_branch2a``, ... inside), so a state dict produced by their
``convert_mxnet_to_torch``, or one of their trained checkpoints, loads as it is, and
the MXNet names map one to one (see ``tools/model_converters/convert_resnet38d.py``).

ImageNet weights: convert the MXNet file once (no mxnet needed)::

    python tools/model_converters/convert_resnet38d.py ilsvrc-cls_rna-a1_cls1000_ep-0001.params \\
        checkpoints/resnet38d_ilsvrc.pth

The converted file holds bare keys (``conv1a.weight``, ``b2.bn_branch2a.weight``, ...),
so the backbone loads it without a prefix::

    backbone=dict(type='mmhfpl.ResNet38d', out_indices=(6, ), frozen_stages=1,
                  init_cfg=dict(type='Pretrained',
                                checkpoint='checkpoints/resnet38d_ilsvrc.pth'))

With ``--prefix backbone.`` the converter writes ``backbone.``-prefixed keys instead;
load those (or any full-model checkpoint, e.g. a trained CAM classifier) with
``init_cfg=dict(type='Pretrained', checkpoint=..., prefix='backbone.')``. The network
expects RGB inputs normalised with the ImageNet mean/std
(``mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375]``), as AffinityNet/SEAM.
AffinityNet's and SEAM's classification networks fix ``conv1a`` and stage b2 and
freeze every BN (statistics and affine parameters): ``frozen_stages=1, norm_eval=True,
norm_cfg=dict(type='BN', requires_grad=False)``.
"""

from collections.abc import Sequence

import torch.nn.functional as F
from mmcv.cnn import build_conv_layer, build_norm_layer
from mmengine.model import BaseModule
from torch import Tensor, nn
from torch.nn.modules.batchnorm import _BatchNorm

from mmhfpl.registry import MODELS

# (stage name, block kind, in channels, branch channels, stride, first dilation,
#  dilation, number of blocks, dropout) for stages 1..6; stage 0 is conv1a.
_STAGES = (
    ('b2', 'basic', 64, (128, 128), 2, 1, 1, 3, 0.0),
    ('b3', 'basic', 128, (256, 256), 2, 1, 1, 3, 0.0),
    ('b4', 'basic', 256, (512, 512), 2, 1, 1, 6, 0.0),
    ('b5', 'basic', 512, (512, 1024), 1, 1, 2, 3, 0.0),
    ('b6', 'bottleneck', 1024, (512, 1024, 2048), 1, 4, 4, 1, 0.3),
    ('b7', 'bottleneck', 2048, (1024, 2048, 4096), 1, 4, 4, 1, 0.5),
)
STEM_CHANNELS = 64
NUM_STAGES = 1 + len(_STAGES)  # conv1a + b2..b7


def stage_block_names() -> tuple[tuple[str, ...], ...]:
    """Module names of every stage: ``(('conv1a',), ('b2', 'b2_1', 'b2_2'), ...)``.

    ``bn7`` belongs to the last stage.
    """
    names: list[tuple[str, ...]] = [('conv1a', )]
    for name, _, _, _, _, _, _, num_blocks, _ in _STAGES:
        names.append((name, *(f'{name}_{k}' for k in range(1, num_blocks))))
    names[-1] = (*names[-1], 'bn7')
    return tuple(names)


class _PreActBlock(BaseModule):
    """Shared forward of the pre-activation blocks; subclasses define ``residual``."""

    same_shape: bool
    bn_branch2a: nn.Module
    conv_branch1: nn.Module

    def preact(self, x: Tensor) -> Tensor:
        """ReLU(bn_branch2a(x)): the activated input shared by both branches."""
        return F.relu(self.bn_branch2a(x), inplace=True)

    def residual(self, act: Tensor) -> Tensor:
        raise NotImplementedError

    def forward(self, x: Tensor, act: Tensor | None = None) -> Tensor:
        """Block output; ``act`` is ``self.preact(x)`` when the caller already has it."""
        if act is None:
            act = self.preact(x)
        shortcut = x if self.same_shape else self.conv_branch1(act)
        return self.residual(act) + shortcut


class ResBlock(_PreActBlock):
    """Pre-activation block with two 3x3 convs (``b33`` in the original model).

    BN-ReLU -> 3x3 conv (stride, ``first_dilation``) -> BN-ReLU -> 3x3 conv
    (``dilation``), plus the input, or a 1x1 projection of the activated input when
    the shape changes.
    """

    def __init__(self, in_channels: int, mid_channels: int, out_channels: int,
                 stride: int = 1, first_dilation: int | None = None, dilation: int = 1,
                 conv_cfg: dict | None = None, norm_cfg: dict | None = None,
                 init_cfg: dict | None = None) -> None:
        super().__init__(init_cfg=init_cfg)
        norm_cfg = norm_cfg or dict(type='BN', requires_grad=True)
        first_dilation = dilation if first_dilation is None else first_dilation
        self.same_shape = in_channels == out_channels and stride == 1
        self.bn_branch2a = build_norm_layer(norm_cfg, in_channels)[1]
        self.conv_branch2a = build_conv_layer(
            conv_cfg, in_channels, mid_channels, 3, stride=stride, padding=first_dilation,
            dilation=first_dilation, bias=False)
        self.bn_branch2b1 = build_norm_layer(norm_cfg, mid_channels)[1]
        self.conv_branch2b1 = build_conv_layer(
            conv_cfg, mid_channels, out_channels, 3, padding=dilation, dilation=dilation,
            bias=False)
        if not self.same_shape:
            self.conv_branch1 = build_conv_layer(
                conv_cfg, in_channels, out_channels, 1, stride=stride, bias=False)

    def residual(self, act: Tensor) -> Tensor:
        out = self.conv_branch2a(act)
        return self.conv_branch2b1(F.relu(self.bn_branch2b1(out), inplace=True))


class BottleneckResBlock(_PreActBlock):
    """Pre-activation 1x1 - 3x3 - 1x1 block (``b131``) with optional ``Dropout2d``.

    Channels ``in -> out/4 -> out/2 -> out``; the 3x3 conv is dilated by ``dilation``;
    dropout acts on the activations entering ``conv_branch2b1`` and ``conv_branch2b2``.
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1,
                 dilation: int = 1, dropout: float = 0.0, conv_cfg: dict | None = None,
                 norm_cfg: dict | None = None, init_cfg: dict | None = None) -> None:
        super().__init__(init_cfg=init_cfg)
        norm_cfg = norm_cfg or dict(type='BN', requires_grad=True)
        self.same_shape = in_channels == out_channels and stride == 1
        quarter, half = out_channels // 4, out_channels // 2
        self.bn_branch2a = build_norm_layer(norm_cfg, in_channels)[1]
        self.conv_branch2a = build_conv_layer(
            conv_cfg, in_channels, quarter, 1, stride=stride, bias=False)
        self.bn_branch2b1 = build_norm_layer(norm_cfg, quarter)[1]
        self.dropout_2b1 = nn.Dropout2d(dropout)
        self.conv_branch2b1 = build_conv_layer(
            conv_cfg, quarter, half, 3, padding=dilation, dilation=dilation, bias=False)
        self.bn_branch2b2 = build_norm_layer(norm_cfg, half)[1]
        self.dropout_2b2 = nn.Dropout2d(dropout)
        self.conv_branch2b2 = build_conv_layer(conv_cfg, half, out_channels, 1, bias=False)
        if not self.same_shape:
            self.conv_branch1 = build_conv_layer(
                conv_cfg, in_channels, out_channels, 1, stride=stride, bias=False)

    def residual(self, act: Tensor) -> Tensor:
        out = self.conv_branch2a(act)
        out = F.relu(self.bn_branch2b1(out), inplace=True)
        out = self.conv_branch2b1(self.dropout_2b1(out))
        out = F.relu(self.bn_branch2b2(out), inplace=True)
        return self.conv_branch2b2(self.dropout_2b2(out))


@MODELS.register_module()
class ResNet38d(BaseModule):
    """Wide ResNet-38 (model A1) at output stride 8; see the module docstring.

    Stage indices: 0 ``conv1a``, 1 ``b2``, 2 ``b3``, 3 ``b4``, 4 ``b5``, 5 ``b6``,
    6 ``b7`` + ``bn7``. Output ``i`` is ReLU(BN(output of stage i)), computed with the
    next stage's first ``bn_branch2a`` (``bn7`` for stage 6):

    =====  ========  ======  ====================================
    index  channels  stride  AffinityNet / SEAM name
    =====  ========  ======  ====================================
    0      64        1
    1      128       2
    2      256       4       ``conv3`` (SEAM)
    3      512       8       ``conv4``
    4      1024      8       ``conv5``
    5      2048      8
    6      4096      8       ``conv6`` (CAM features)
    =====  ========  ======  ====================================

    Args:
        out_indices: Stages whose outputs are returned (in stage order; negative
            indices count from the end). Default ``(6, )``: the 4096-channel features.
        frozen_stages: Freeze stages ``0 .. frozen_stages`` (``conv1a`` and the first
            ``frozen_stages`` residual stages): their parameters, including their BN
            affine parameters, stop requiring gradients and their BNs stay in eval mode.
            ``-1`` freezes nothing, ``0`` only ``conv1a``, ``1`` ``conv1a`` and b2
            (AffinityNet/SEAM), ``6`` everything (``bn7`` belongs to stage 6).
        conv_cfg: Config of the conv layers (``None``: ``nn.Conv2d``).
        norm_cfg: Config of the norm layers, built with ``mmcv.cnn.build_norm_layer``.
        norm_eval: Keep every BN in eval mode (frozen running statistics) while
            training, like mmpretrain's ResNet. Affine parameters still train unless
            ``norm_cfg`` has ``requires_grad=False``.
        dropout: Use the ``Dropout2d`` of b6 (p=0.3) and b7 (p=0.5).
        init_cfg: Initialisation, e.g. ``dict(type='Pretrained', checkpoint=...)``.
    """

    arch_stage_names = stage_block_names()

    def __init__(self, out_indices: Sequence[int] = (6, ), frozen_stages: int = -1,
                 conv_cfg: dict | None = None,
                 norm_cfg: dict | None = None, norm_eval: bool = False,
                 dropout: bool = True, init_cfg: dict | list[dict] | None = None) -> None:
        if init_cfg is None:
            init_cfg = [dict(type='Kaiming', layer=['Conv2d']),
                        dict(type='Constant', val=1, layer=['_BatchNorm', 'GroupNorm'])]
        super().__init__(init_cfg=init_cfg)
        norm_cfg = norm_cfg or dict(type='BN', requires_grad=True)
        self.out_indices = self._check_out_indices(out_indices)
        if not -1 <= frozen_stages < NUM_STAGES:
            raise ValueError(f'frozen_stages must be in [-1, {NUM_STAGES - 1}], '
                             f'got {frozen_stages}')
        self.frozen_stages = frozen_stages
        self.norm_eval = norm_eval
        self.dropout = dropout

        self.conv1a = build_conv_layer(
            conv_cfg, 3, STEM_CHANNELS, 3, padding=1, bias=False)
        for (name, kind, in_ch, channels, stride, first_dil, dil, num_blocks,
             drop) in _STAGES:
            for k in range(num_blocks):
                block_in = in_ch if k == 0 else channels[-1]
                if kind == 'basic':
                    block = ResBlock(
                        block_in, channels[0], channels[1], stride=stride if k == 0 else 1,
                        first_dilation=first_dil if k == 0 else dil, dilation=dil,
                        conv_cfg=conv_cfg, norm_cfg=norm_cfg)
                else:
                    block = BottleneckResBlock(
                        block_in, channels[-1], stride=stride if k == 0 else 1,
                        dilation=dil, dropout=drop if dropout else 0.0,
                        conv_cfg=conv_cfg, norm_cfg=norm_cfg)
                self.add_module(name if k == 0 else f'{name}_{k}', block)
        self.bn7 = build_norm_layer(norm_cfg, _STAGES[-1][3][-1])[1]
        self._freeze_stages()

    @staticmethod
    def _check_out_indices(out_indices: Sequence[int] | int) -> tuple[int, ...]:
        if isinstance(out_indices, int):
            out_indices = (out_indices, )
        indices = []
        for index in out_indices:
            if not -NUM_STAGES <= index < NUM_STAGES:
                raise ValueError(f'out_indices entries must be in [{-NUM_STAGES}, '
                                 f'{NUM_STAGES - 1}], got {index}')
            indices.append(index % NUM_STAGES)
        if not indices or len(set(indices)) != len(indices):
            raise ValueError(f'out_indices must be non-empty and unique, got {out_indices}')
        return tuple(sorted(indices))

    def stage_modules(self, index: int) -> list[nn.Module]:
        """Modules owned by stage ``index`` (``conv1a``; blocks; ``bn7`` in stage 6)."""
        return [getattr(self, name) for name in self.arch_stage_names[index]]

    def output_norm(self, index: int) -> nn.Module:
        """The BN that turns the output of stage ``index`` into output ``index``."""
        if index == NUM_STAGES - 1:
            return self.bn7
        return getattr(self, self.arch_stage_names[index + 1][0]).bn_branch2a

    def forward(self, x: Tensor) -> tuple[Tensor, ...]:
        outs = []
        x = self.conv1a(x)
        act = None  # activated stage output, reused by the next stage's first block
        for index in range(NUM_STAGES):
            if index > 0:
                for k, name in enumerate(self.arch_stage_names[index]):
                    if name != 'bn7':
                        x = getattr(self, name)(x, act if k == 0 else None)
                act = None
            if index in self.out_indices:
                act = F.relu(self.output_norm(index)(x), inplace=True)
                outs.append(act)
                if index == self.out_indices[-1]:
                    break
        return tuple(outs)

    def _freeze_stages(self) -> None:
        for index in range(self.frozen_stages + 1):
            for module in self.stage_modules(index):
                module.eval()
                for param in module.parameters():
                    param.requires_grad = False

    def train(self, mode: bool = True) -> 'ResNet38d':
        super().train(mode)
        self._freeze_stages()
        if mode and self.norm_eval:
            for module in self.modules():
                if isinstance(module, _BatchNorm):
                    module.eval()
        return self
