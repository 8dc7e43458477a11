# SIPE's classifier (chenqi1126/SIPE, network/resnet50_SIPE.py): ImageNet ResNet-50 with
# strides (2, 2, 2, 1) (output stride 16, no dilation), fixed BatchNorm statistics, the stem
# frozen; stages 1 and 2 receive no gradient (the authors detach the output of stage 2:
# frozen_stages=2 here); a bias-free 1x1 classifier; side convolutions 256/512/1024/2048 ->
# 128/128/256/256 on every stage for the image-specific prototypes. New layers keep
# PyTorch's default initialisation, as the authors'. ImageNet weights from the mmpretrain
# model zoo file resnet50_8xb32_in1k_20210831-ea4938fc.pth placed in checkpoints/ (the
# authors load torchvision's resnet50-19c8e357.pth; docs/fidelity.md).
pretrained = 'checkpoints/resnet50_8xb32_in1k_20210831-ea4938fc.pth'
# PyTorch's default Conv2d initialisation (kaiming_uniform_ with a = sqrt(5)).
torch_default_init = dict(type='Kaiming', layer='Conv2d', a=2.23606797749979, mode='fan_in',
                          nonlinearity='leaky_relu', distribution='uniform')
model = dict(
    type='SIPE',
    data_preprocessor=dict(
        type='mmpretrain.ClsDataPreprocessor',
        num_classes=20,
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        to_rgb=True,
    ),
    backbone=dict(
        type='mmpretrain.ResNet',
        depth=50,
        num_stages=4,
        strides=(1, 2, 2, 1),
        dilations=(1, 1, 1, 1),
        out_indices=(0, 1, 2, 3),
        frozen_stages=2,
        norm_cfg=dict(type='BN', requires_grad=True),
        norm_eval=True,  # the authors' FixedBatchNorm
        style='pytorch',
        init_cfg=dict(type='Pretrained', checkpoint=pretrained, prefix='backbone.'),
    ),
    head=dict(
        type='CAMHead',
        num_classes=20,
        in_channels=2048,
        losses=[dict(type='GAPBCELoss')],  # = multilabel_soft_margin_loss on GAP scores
        init_cfg=torch_default_init,
    ),
    prototypes=dict(type='ImageSpecificPrototypes', in_channels=(256, 512, 1024, 2048),
                    out_channels=(128, 128, 256, 256), bg_weight=0.5),
    gsc_loss=dict(type='GeneralSpecificConsistencyLoss', loss_weight=1.0),
)
