"""The DeepLab-v1 (LargeFOV) head of seed 000's final segmentation network."""

import torch
from mmcv.cnn import ConvModule
from mmseg.models.decode_heads.decode_head import BaseDecodeHead
from torch import nn

from mmhfpl.registry import MODELS


@MODELS.register_module()
class DeepLabV1Head(BaseDecodeHead):
    """DeepLab-v1 LargeFOV head: a dilated 3x3 convolution, a 1x1 convolution, dropout and
    the classifier.

    The head of ``deeplabv1`` in the code seed 000 trained its final VOC / COCO models with
    (``arvijj/hfpl``, ``lib/net/deeplabv1.py``, from YudeWang's segmentation codebase):
    conv 3x3 (dilation 12, no bias) - norm - ReLU - conv 1x1 (no bias) - norm - ReLU -
    element-wise dropout - conv 1x1 to the classes (with bias). mmseg has no head of this
    shape (``FCNHead`` repeats one kernel size), so this one is written on
    ``BaseDecodeHead``, whose ``cls_seg`` gives the dropout and classifier and whose losses
    and inference resize the logits with ``align_corners`` (the authors: bilinear,
    ``align_corners=True``, to the input size).

    Args:
        dilation: Dilation (and padding) of the 3x3 convolution (12 for LargeFOV).
        dropout_ratio: Dropout before the classifier; element-wise (``nn.Dropout``) as the
            authors', not mmseg's channel-wise ``Dropout2d``.
        **kwargs: ``BaseDecodeHead`` arguments (``in_channels``, ``channels``,
            ``num_classes``, ``norm_cfg``, ``loss_decode``, ...).

    The convolutions start as the authors' (Kaiming normal, fan-out, ReLU; norms at 1 / 0),
    the classifier's bias at 0 (theirs keeps PyTorch's default uniform initialisation).
    """

    def __init__(self, dilation: int = 12, dropout_ratio: float = 0.5, **kwargs) -> None:
        kwargs.setdefault('init_cfg', dict(type='Kaiming', mode='fan_out',
                                           nonlinearity='relu', distribution='normal',
                                           override=dict(name='conv_seg')))
        super().__init__(dropout_ratio=dropout_ratio, **kwargs)
        if dilation < 1:
            raise ValueError(f'dilation must be positive, got {dilation}')
        if self.input_transform is not None:
            raise ValueError('DeepLabV1Head takes one feature map (no input_transform), got '
                             f'input_transform={self.input_transform!r}')
        self.fov = ConvModule(self.in_channels, self.channels, 3, padding=dilation,
                              dilation=dilation, bias=False, conv_cfg=self.conv_cfg,
                              norm_cfg=self.norm_cfg, act_cfg=self.act_cfg)
        self.fov2 = ConvModule(self.channels, self.channels, 1, bias=False,
                               conv_cfg=self.conv_cfg, norm_cfg=self.norm_cfg,
                               act_cfg=self.act_cfg)
        self.dropout = nn.Dropout(dropout_ratio) if dropout_ratio > 0 else None

    def forward(self, inputs: list[torch.Tensor]) -> torch.Tensor:
        """Class logits at the feature map's resolution."""
        return self.cls_seg(self.fov2(self.fov(self._transform_inputs(inputs))))
