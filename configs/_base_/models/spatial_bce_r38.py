# Spatial-BCE classifier (seed 003 §4.2): ResNet-38 (ResNet38d, OS8) with ImageNet weights,
# conv1a and stage b2 fixed and every BatchNorm frozen, as in the authors' code; the
# SpatialBCEHead reads the 4096-channel final features (class branch through a 128-channel
# bottleneck, threshold branch, logit scale initialised to ln(10)).
# Convert the MXNet ImageNet weights once (no mxnet needed):
#   python tools/model_converters/convert_resnet38d.py ilsvrc-cls_rna-a1_cls1000_ep-0001.params \
#       checkpoints/resnet38d_ilsvrc.pth
pretrained = 'checkpoints/resnet38d_ilsvrc.pth'
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
        type='ResNet38d',
        out_indices=(6, ),
        frozen_stages=1,
        norm_cfg=dict(type='BN', requires_grad=False),
        norm_eval=True,
        init_cfg=dict(type='Pretrained', checkpoint=pretrained),
    ),
    head=dict(
        type='SpatialBCEHead',
        num_classes=20,
        in_channels=4096,
        mid_channels=128,
        loss_sbce=dict(type='SpatialBCELoss'),
        loss_tnt=dict(type='TNTProportionKLLoss'),
    ),
)
