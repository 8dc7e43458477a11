# IRN (Ahn et al., CVPR 2019) as jiwoon-ahn/irn builds it: mmpretrain ResNet-50 at output
# stride 16 (strides 1, 2, 2, 1) with ImageNet weights, every stage and BatchNorm frozen;
# displacement-free boundary branch over the stem and the four stages (32 channels each,
# 4 groups); pair labels within radius 10 on the stride-4 grid; inference: boundary
# affinities within radius 5, beta 10, 2^8 random-walk steps, background threshold 0.25, flip.
pretrained = 'checkpoints/resnet50_8xb32_in1k_20210831-ea4938fc.pth'
model = dict(
    type='IRN',
    data_preprocessor=dict(
        type='ImgDataPreprocessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True,
        pad_size_divisor=16,  # the backbone's output stride
    ),
    backbone=dict(
        type='mmpretrain.ResNet',
        depth=50,
        num_stages=4,
        strides=(1, 2, 2, 1),
        dilations=(1, 1, 1, 1),
        out_indices=(0, 1, 2, 3),
        frozen_stages=4,
        norm_cfg=dict(type='BN', requires_grad=False),
        norm_eval=True,
        style='pytorch',
        init_cfg=dict(type='Pretrained', checkpoint=pretrained, prefix='backbone.'),
    ),
    in_channels=(64, 256, 512, 1024, 2048),
    branch_channels=32,
    num_groups=4,
    stride=4,
    radius=10,
    loss=dict(type='AffinityLoss'),
    test_cfg=dict(radius=5, beta=10, exp_times=8, bg_threshold=0.25, flip=True),
)
