"""ScaleNet: a ResNet whose 3x3 convs are split over four pooled scales (PMM's backbone).

Li, Song, Zhang, Wu and Mei, "Data-Driven Neuron Allocation for Scale Aggregation Networks"
(CVPR 2019). PMM (Li et al., ICCV 2021, ``Eli-YiLi/PMM``) trains its second stage-1 network,
the heat-map-guided multi-crop one, on ScaleNet-101 (``network/scalenet.py`` and
``network/scalenet_SEAM.py``). Facts of that code this module follows:

* Stem: 7x7 conv (stride 2, 64 ch), BN, ReLU, 3x3 max pool (stride 2, padding 1).
* Four stages of scale-aggregation bottlenecks (planes 64, 128, 256, 512, expansion 4;
  depth 50 / 101 / 152: 3-4-6-3, 3-4-23-3, 3-8-36-3 blocks). A block with stride s > 1
  first max-pools its input by s (no strided conv); its shortcut is a 1x1 conv + BN where
  stride or width change.
* Block: 1x1 conv + BN + ReLU to ``planes``, then four branches on that tensor. Branch i
  max-pools it by (1, 2, 4, 7)[i] (by the whole map when the map is smaller than that),
  applies a conv with ``channels[i]`` outputs (3x3 with padding and dilation d when
  ``side / 2**i > 1``, else 1x1), upsamples back (nearest when the size is an integer
  multiple, else bilinear) and applies a BN. A branch with 0 channels is absent. The
  branches are concatenated, ReLU, 1x1 conv + BN to ``4 * planes``, plus the shortcut,
  ReLU.
* The channel split of every block comes from a *structure* file (the authors'
  ``scalenet101.json``, published with the weights on their drive): a JSON list with one
  entry ``[c_1, c_2, c_4, c_7, side]`` per block, in network order. Neither file can be
  downloaded here; supply both (``structure`` and the backbone's ``Pretrained``
  ``init_cfg``).
* PMM runs it at output stride 8: strides (1, 2, 1, 1), dilations (1, 1, 1, 1), the stem
  and the first stage fixed and every BN frozen.

Module names follow the authors' (``conv1``, ``bn1``, ``layer1.0.conv2.1``, ...), so their
ImageNet weights ``scalenet101.pth`` load without conversion.
"""

import json
import os.path as osp
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from mmcv.cnn import build_norm_layer
from mmengine.model import BaseModule
from torch import Tensor, nn
from torch.nn.modules.batchnorm import _BatchNorm

from mmhfpl.registry import MODELS

#: Pooling factor of each branch (None: the full-resolution branch).
BRANCH_POOLS = (None, 2, 4, 7)
#: Blocks per stage for each depth.
ARCH_SETTINGS = {50: (3, 4, 6, 3), 101: (3, 4, 23, 3), 152: (3, 8, 36, 3)}


def load_structure(structure: str | Sequence[Sequence[int]], num_blocks: int
                   ) -> list[tuple[int, ...]]:
    """The per-block entries ``(c_1, c_2, c_4, c_7, side)`` from a JSON file or a list.

    Raises:
        FileNotFoundError: The file does not exist.
        ValueError: The file is no JSON list of ``num_blocks`` entries of five non-negative
            integers (the message names the file and the first bad entry).
    """
    source = structure if isinstance(structure, str) else 'the structure list'
    if isinstance(structure, str):
        if not osp.isfile(structure):
            raise FileNotFoundError(f'ScaleNet structure file not found: {structure} (the '
                                    "authors' scalenet<depth>.json; see mmhfpl ScaleNet)")
        with open(structure) as f:
            try:
                structure = json.load(f)
            except json.JSONDecodeError as err:
                raise ValueError(f'{source}: not valid JSON ({err})') from None
    if not isinstance(structure, list | tuple) or len(structure) != num_blocks:
        found = len(structure) if isinstance(structure, list | tuple) else type(structure)
        raise ValueError(f'{source}: expected a list of {num_blocks} block entries, found '
                         f'{found}')
    entries = []
    for index, entry in enumerate(structure):
        if (not isinstance(entry, list | tuple) or len(entry) != len(BRANCH_POOLS) + 1
                or not all(isinstance(v, int) and v >= 0 for v in entry)
                or sum(entry[:-1]) == 0):
            raise ValueError(f'{source}: block {index} is {entry!r}; expected '
                             '[c_1, c_2, c_4, c_7, side] of non-negative integers with at '
                             'least one channel')
        entries.append(tuple(entry))
    return entries


class ScaleAggregationBlock(BaseModule):
    """One bottleneck of ScaleNet (see the module docstring).

    Args:
        in_channels: Input channels.
        planes: Width of the 1x1 reduction; the output has ``4 * planes`` channels.
        entry: ``(c_1, c_2, c_4, c_7, side)`` of this block from the structure file.
        stride: Max-pooling factor applied to the input first.
        dilation: Dilation of the 3x3 branch convs.
        norm_cfg: Normalisation layers.
    """

    expansion = 4

    def __init__(self, in_channels: int, planes: int, entry: Sequence[int], stride: int = 1,
                 dilation: int = 1, norm_cfg: dict | None = None) -> None:
        super().__init__()
        norm_cfg = norm_cfg or dict(type='BN')
        channels, side = entry[:-1], entry[-1]
        out_channels = planes * self.expansion
        self.stride = stride
        self.downsample = None
        if stride != 1 or in_channels != out_channels:
            self.downsample = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, 1, bias=False),
                build_norm_layer(norm_cfg, out_channels)[1])
        self.conv1 = nn.Conv2d(in_channels, planes, 1, bias=False)
        self.bn1 = build_norm_layer(norm_cfg, planes)[1]
        convs, norms = [], []
        for i, width in enumerate(channels):
            if width == 0:
                convs.append(None)
                norms.append(None)
                continue
            spatial = side / 2**i > 1
            convs.append(nn.Conv2d(planes, width, 3 if spatial else 1,
                                   padding=dilation if spatial else 0,
                                   dilation=dilation if spatial else 1, bias=False))
            norms.append(build_norm_layer(norm_cfg, width)[1])
        self.conv2 = nn.ModuleList(convs)
        self.bn2 = nn.ModuleList(norms)
        self.conv3 = nn.Conv2d(sum(channels), out_channels, 1, bias=False)
        self.bn3 = build_norm_layer(norm_cfg, out_channels)[1]

    def forward(self, x: Tensor) -> Tensor:
        if self.stride > 1:
            x = F.max_pool2d(x, self.stride, self.stride)
        shortcut = x if self.downsample is None else self.downsample(x)
        reduced = F.relu(self.bn1(self.conv1(x)))
        size = reduced.shape[-2:]
        branches = []
        for pool, conv, norm in zip(BRANCH_POOLS, self.conv2, self.bn2, strict=True):
            if conv is None:
                continue
            out = reduced
            if pool is not None:
                # A map smaller than the pool is pooled whole. (The authors' code passes
                # (H, W) as kernel size and stride, which is the same for square maps.)
                kernel = pool if min(size) >= pool else tuple(size)
                out = F.max_pool2d(out, kernel, kernel)
            out = conv(out)
            if pool is not None:
                exact = size[0] % out.shape[-2] == 0 and size[1] % out.shape[-1] == 0
                out = F.interpolate(out, size=size, mode='nearest' if exact else 'bilinear',
                                    align_corners=None if exact else False)
            branches.append(norm(out))
        out = self.bn3(self.conv3(F.relu(torch.cat(branches, dim=1))))
        return F.relu(out + shortcut)


@MODELS.register_module()
class ScaleNet(BaseModule):
    """ScaleNet-50/101/152 backbone (see the module docstring).

    Args:
        structure: Path of the structure JSON, or its list of per-block entries.
        depth: 50, 101 or 152.
        strides: Max-pooling stride of the first block of each stage.
        dilations: Dilation of the 3x3 branch convs of each stage.
        out_indices: Stages (0-3) whose outputs are returned (256, 512, 1024, 2048 ch).
        frozen_stages: Stages to fix: -1 none, 0 the stem, k the stem and stages 1..k.
        norm_cfg: Normalisation layers (``requires_grad=False`` freezes their affine
            parameters, as PMM does).
        norm_eval: Keep every BN in eval mode during training (PMM: True).
        init_cfg: Initialisation; by default the authors' (He-normal convs, fan out; BN
            weight 1, bias 0). Use ``dict(type='Pretrained', checkpoint=...)`` for
            ``scalenet101.pth``.
    """

    def __init__(self, structure: str | Sequence[Sequence[int]], depth: int = 101,
                 strides: Sequence[int] = (1, 2, 1, 1),
                 dilations: Sequence[int] = (1, 1, 1, 1),
                 out_indices: Sequence[int] = (3, ), frozen_stages: int = -1,
                 norm_cfg: dict | None = None, norm_eval: bool = False,
                 init_cfg: dict | list | None = None) -> None:
        if init_cfg is None:
            init_cfg = [dict(type='Kaiming', layer='Conv2d', mode='fan_out',
                             nonlinearity='relu', distribution='normal'),
                        dict(type='Constant', val=1, layer=['_BatchNorm'])]
        super().__init__(init_cfg=init_cfg)
        if depth not in ARCH_SETTINGS:
            raise ValueError(f'ScaleNet depth must be one of {sorted(ARCH_SETTINGS)}, got '
                             f'{depth}')
        if len(strides) != 4 or len(dilations) != 4:
            raise ValueError('strides and dilations need one entry per stage (4)')
        out_indices = tuple(out_indices)
        if not out_indices or any(not 0 <= i < 4 for i in out_indices):
            raise ValueError(f'out_indices must lie in 0..3, got {out_indices}')
        if not -1 <= frozen_stages <= 4:
            raise ValueError(f'frozen_stages must lie in -1..4, got {frozen_stages}')
        norm_cfg = norm_cfg or dict(type='BN', requires_grad=True)
        blocks = ARCH_SETTINGS[depth]
        entries = iter(load_structure(structure, sum(blocks)))
        self.out_indices = out_indices
        self.frozen_stages = frozen_stages
        self.norm_eval = norm_eval
        self.conv1 = nn.Conv2d(3, 64, 7, stride=2, padding=3, bias=False)
        self.bn1 = build_norm_layer(norm_cfg, 64)[1]
        in_channels = 64
        self.layer_names = []
        for index, (planes, count, stride, dilation) in enumerate(
                zip((64, 128, 256, 512), blocks, strides, dilations, strict=True)):
            layer = []
            for k in range(count):
                layer.append(ScaleAggregationBlock(in_channels, planes, next(entries),
                                                   stride if k == 0 else 1, dilation,
                                                   norm_cfg))
                in_channels = planes * ScaleAggregationBlock.expansion
            name = f'layer{index + 1}'
            self.add_module(name, nn.Sequential(*layer))
            self.layer_names.append(name)
        self._freeze_stages()

    def forward(self, x: Tensor) -> tuple[Tensor, ...]:
        x = F.max_pool2d(F.relu(self.bn1(self.conv1(x))), 3, 2, 1)
        outs = []
        for index, name in enumerate(self.layer_names[:max(self.out_indices) + 1]):
            x = getattr(self, name)(x)
            if index in self.out_indices:
                outs.append(x)
        return tuple(outs)

    def _freeze_stages(self) -> None:
        modules = [self.conv1, self.bn1] if self.frozen_stages >= 0 else []
        modules += [getattr(self, name) for name in self.layer_names[:self.frozen_stages]]
        for module in modules:
            module.eval()
            for param in module.parameters():
                param.requires_grad = False

    def train(self, mode: bool = True) -> 'ScaleNet':
        super().train(mode)
        self._freeze_stages()
        if mode and self.norm_eval:
            for module in self.modules():
                if isinstance(module, _BatchNorm):
                    module.eval()
        return self
