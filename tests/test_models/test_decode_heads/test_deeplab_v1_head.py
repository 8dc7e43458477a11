"""DeepLabV1Head against a direct transcription of the authors' deeplabv1 head."""

import pytest
import torch
import torch.nn.functional as F
from mmengine.registry import DefaultScope
from torch import nn

from mmhfpl.models.decode_heads import DeepLabV1Head


def _head(**kwargs) -> DeepLabV1Head:
    args = dict(in_channels=16, channels=8, num_classes=5, dilation=3, dropout_ratio=0.5,
                norm_cfg=dict(type='BN', momentum=3e-4, requires_grad=False),
                align_corners=True)
    with DefaultScope.overwrite_default_scope('mmseg'):  # as in an mmseg config
        head = DeepLabV1Head(**{**args, **kwargs})
    head.init_weights()
    return head


def _reference(head: DeepLabV1Head, x: torch.Tensor, dilation: int) -> torch.Tensor:
    """``lib/net/deeplabv1.py`` forward after the backbone, in eval mode (no dropout): conv
    3x3 dilated - BN - ReLU - conv 1x1 - BN - ReLU - classifier."""
    def bn(y, module):
        return F.batch_norm(y, module.running_mean, module.running_var, module.weight,
                            module.bias, False, 0.0, module.eps)

    y = F.conv2d(x, head.fov.conv.weight, None, padding=dilation, dilation=dilation)
    y = F.relu(bn(y, head.fov.bn))
    y = F.relu(bn(F.conv2d(y, head.fov2.conv.weight), head.fov2.bn))
    return F.conv2d(y, head.conv_seg.weight, head.conv_seg.bias)


def test_matches_the_authors_head_in_eval_mode():
    torch.manual_seed(0)
    head = _head()
    for bn in (head.fov.bn, head.fov2.bn):  # non-trivial running statistics
        bn.running_mean.uniform_(-0.5, 0.5)
        bn.running_var.uniform_(0.5, 2.0)
    head.conv_seg.bias.data.uniform_(-1, 1)
    x = torch.randn(2, 16, 9, 11)
    head.eval()
    out = head([x])
    assert out.shape == (2, 5, 9, 11)
    torch.testing.assert_close(out, _reference(head, x, dilation=3))
    # Structure: no bias before the norms, a bias on the classifier, 3x3 then 1x1.
    assert head.fov.conv.bias is None and head.fov2.conv.bias is None
    assert head.fov.conv.kernel_size == (3, 3) and head.fov.conv.dilation == (3, 3)
    assert head.fov2.conv.kernel_size == (1, 1) and head.conv_seg.bias is not None


def test_dropout_is_element_wise_and_the_init_is_kaiming_fan_out():
    torch.manual_seed(0)
    head = _head(in_channels=64, channels=512)
    assert type(head.dropout) is nn.Dropout and head.dropout.p == 0.5
    # Element-wise: within one channel some values survive and some are dropped (the
    # channel-wise Dropout2d of mmseg's heads would drop whole channels).
    dropped = head.dropout.train()(torch.ones(1, 512, 8, 8)) == 0
    per_channel = dropped.flatten(2).float().mean(dim=2)
    assert ((per_channel > 0) & (per_channel < 1)).float().mean() > 0.9
    # Kaiming normal, fan-out, ReLU gain: std sqrt(2 / fan_out) on the 1x1 convolution
    # (fan_out 512) and on the classifier (fan_out 5).
    assert head.fov2.conv.weight.std().item() == pytest.approx((2 / 512) ** 0.5, rel=0.05)
    assert head.conv_seg.weight.std().item() == pytest.approx((2 / 5) ** 0.5, rel=0.1)
    assert torch.all(head.conv_seg.bias == 0)
    assert torch.all(head.fov.bn.weight == 1) and torch.all(head.fov.bn.bias == 0)


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match='dilation must be positive'):
        _head(dilation=0)
    with pytest.raises(ValueError, match='one feature map'):
        _head(in_channels=[16, 16], in_index=[0, 1], input_transform='resize_concat')
