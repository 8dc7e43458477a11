# Small CAM classifier for the toy set on CPU: ResNet-18 at output stride 8 (last two
# stages dilated) with half the usual width, trained from scratch.
model = dict(
    type='CAMClassifier',
    data_preprocessor=dict(
        type='mmpretrain.ClsDataPreprocessor',
        num_classes=6,
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        to_rgb=True,
    ),
    backbone=dict(
        type='mmpretrain.ResNet',
        depth=18,
        base_channels=32,
        num_stages=4,
        strides=(1, 2, 1, 1),
        dilations=(1, 1, 2, 4),
        out_indices=(3, ),
        style='pytorch',
    ),
    head=dict(
        type='CAMHead',
        num_classes=6,
        in_channels=256,
        losses=[dict(type='GAPBCELoss')],
    ),
)
