# Stage-1 CAM classifier: ResNet-50 at output stride 16 (last stage dilated, as IRN's
# resnet50_cam), a 1x1-conv CAM head, GAP BCE. ImageNet weights from the mmpretrain
# model zoo file resnet50_8xb32_in1k_20210831-ea4938fc.pth placed in checkpoints/.
pretrained = 'checkpoints/resnet50_8xb32_in1k_20210831-ea4938fc.pth'
model = dict(
    type='CAMClassifier',
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
        dilations=(1, 1, 1, 2),
        out_indices=(3, ),
        frozen_stages=0,  # stem frozen as in IRN
        norm_cfg=dict(type='BN', requires_grad=False),
        norm_eval=True,  # IRN trains with fixed BatchNorm statistics
        style='pytorch',
        init_cfg=dict(type='Pretrained', checkpoint=pretrained, prefix='backbone.'),
    ),
    head=dict(
        type='CAMHead',
        num_classes=20,
        in_channels=2048,
        losses=[dict(type='GAPBCELoss')],
    ),
)
