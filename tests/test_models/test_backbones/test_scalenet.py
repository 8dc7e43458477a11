"""ScaleNet: the block against a direct computation, layout, stride, freezing, bad input."""

import json

import pytest
import torch
import torch.nn.functional as F

from mmhfpl.models.backbones import ScaleAggregationBlock, ScaleNet, load_structure


def _structure(depth_blocks: int, entry=(4, 2, 2, 0, 14)) -> list[list[int]]:
    return [list(entry) for _ in range(depth_blocks)]


def _direct_block(block: ScaleAggregationBlock, x: torch.Tensor, pools=(1, 2, 4, 7)):
    """The block written out branch by branch from the ScaleNet description."""
    if block.stride > 1:
        x = F.max_pool2d(x, block.stride)
    shortcut = block.downsample(x) if block.downsample is not None else x
    y = F.relu(block.bn1(block.conv1(x)))
    h, w = y.shape[-2:]
    outs = []
    for pool, conv, norm in zip(pools, block.conv2, block.bn2, strict=True):
        if conv is None:
            continue
        z = y if pool == 1 else F.max_pool2d(y, pool if min(h, w) >= pool else (h, w))
        z = conv(z)
        if pool != 1:
            if h % z.shape[-2] == 0 and w % z.shape[-1] == 0:
                z = F.interpolate(z, size=(h, w), mode='nearest')
            else:
                z = F.interpolate(z, size=(h, w), mode='bilinear', align_corners=False)
        outs.append(norm(z))
    return F.relu(block.bn3(block.conv3(F.relu(torch.cat(outs, 1)))) + shortcut)


@pytest.mark.parametrize('size', [(16, 16), (12, 10), (5, 9)])
def test_block_matches_a_direct_computation(size):
    torch.manual_seed(0)
    block = ScaleAggregationBlock(8, 4, (3, 2, 0, 1, 14), stride=2, dilation=2).eval()
    for module in block.modules():  # non-trivial BN statistics
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-0.5, 0.5)
            module.running_var.uniform_(0.5, 2.0)
    x = torch.randn(2, 8, 2 * size[0], 2 * size[1])
    out = block(x)
    assert out.shape == (2, 16, *size)
    torch.testing.assert_close(out, _direct_block(block, x))
    assert block.conv2[2] is None and block.bn2[2] is None  # a 0-channel branch is absent


def test_branch_kernels_follow_the_side_of_the_structure():
    block = ScaleAggregationBlock(16, 4, (1, 1, 1, 1, 4))  # side 4: 4, 2, 1, 0.5
    assert [c.kernel_size for c in block.conv2] == [(3, 3), (3, 3), (1, 1), (1, 1)]
    assert block.downsample is None or block.downsample[0].in_channels == 16


def test_backbone_layout_stride_and_the_authors_key_names():
    structure = _structure(16)
    net = ScaleNet(structure, depth=50, out_indices=(0, 1, 2, 3)).eval()
    outs = net(torch.randn(1, 3, 64, 96))
    assert [o.shape[1] for o in outs] == [256, 512, 1024, 2048]
    assert [tuple(o.shape[-2:]) for o in outs] == [(16, 24), (8, 12), (8, 12), (8, 12)]
    keys = set(net.state_dict())
    assert {'conv1.weight', 'bn1.running_var', 'layer1.0.downsample.0.weight',
            'layer1.0.conv2.2.weight', 'layer4.2.bn3.weight'} <= keys
    assert not any(k.startswith('layer1.0.conv2.3.') for k in keys)  # c_7 = 0


def test_frozen_stem_first_stage_and_norm_eval():
    net = ScaleNet(_structure(16), depth=50, frozen_stages=1, norm_eval=True,
                   norm_cfg=dict(type='BN', requires_grad=False))
    net.train()
    assert not any(p.requires_grad for p in net.conv1.parameters())
    assert not any(p.requires_grad for p in net.layer1.parameters())
    assert net.layer2[0].conv1.weight.requires_grad
    assert not net.layer2[0].bn1.weight.requires_grad
    assert all(not m.training for m in net.modules() if isinstance(m, torch.nn.BatchNorm2d))


def test_structure_file_errors_name_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match='missing.json'):
        load_structure(str(tmp_path / 'missing.json'), 16)
    path = tmp_path / 'short.json'
    path.write_text(json.dumps(_structure(15)))
    with pytest.raises(ValueError, match='short.json.*16 block entries, found 15'):
        ScaleNet(str(path), depth=50)
    path.write_text(json.dumps(_structure(15) + [[1, 2, 3]]))
    with pytest.raises(ValueError, match='block 15'):
        load_structure(str(path), 16)
    path.write_text('{not json')
    with pytest.raises(ValueError, match='not valid JSON'):
        load_structure(str(path), 16)
    good = tmp_path / 'good.json'
    good.write_text(json.dumps(_structure(16)))
    assert load_structure(str(good), 16) == [(4, 2, 2, 0, 14)] * 16


def test_depth_101_has_the_authors_block_counts():
    net = ScaleNet(_structure(33), depth=101)
    assert [len(getattr(net, f'layer{i}')) for i in range(1, 5)] == [3, 4, 23, 3]
