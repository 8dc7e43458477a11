# AffinityNet (Ahn & Kwak, CVPR 2018) as PSA/SEAM build it: ResNet38d (output stride 8,
# ImageNet weights converted by tools/model_converters/convert_resnet38d.py, conv1a and b2
# frozen, every BatchNorm fixed); conv4 / conv5 / conv6 -> 64 / 128 / 256 -> 448 channels;
# pair labels within radius 5 on the stride-8 grid; inference: random walk with beta 8 over
# 2^6 steps, background (1 - max CAM)^6.
pretrained = 'checkpoints/resnet38d_ilsvrc.pth'
model = dict(
    type='AffinityNet',
    data_preprocessor=dict(
        type='ImgDataPreprocessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True,
        pad_size_divisor=8,  # the output stride
    ),
    backbone=dict(
        type='ResNet38d',
        out_indices=(3, 4, 6),  # conv4, conv5, conv6
        frozen_stages=1,
        norm_eval=True,
        norm_cfg=dict(type='BN', requires_grad=False),
        init_cfg=dict(type='Pretrained', checkpoint=pretrained),
    ),
    in_channels=(512, 1024, 4096),
    branch_channels=(64, 128, 256),
    out_channels=448,
    stride=8,
    radius=5,
    loss=dict(type='AffinityLoss'),
    test_cfg=dict(beta=8, logt=6, alpha=6),
)
