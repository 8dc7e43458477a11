# SEAM (Wang et al., CVPR 2020) as its released network_resnet38_SEAM.py builds it:
# ResNet38d (output stride 8) with ImageNet weights, siamese branches on the image and a 0.3x
# copy, PCM on detached conv4/conv5 features, classification + ER + ECR + adaptive
# min-pooling losses.
# ImageNet weights: convert the MXNet file once (no mxnet needed):
#   python tools/model_converters/convert_resnet38d.py ilsvrc-cls_rna-a1_cls1000_ep-0001.params \
#       checkpoints/resnet38d_ilsvrc.pth
pretrained = 'checkpoints/resnet38d_ilsvrc.pth'
num_classes = 20

model = dict(
    type='SEAM',
    data_preprocessor=dict(
        type='mmpretrain.ClsDataPreprocessor',
        num_classes=num_classes,
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        to_rgb=True,
    ),
    # Outputs 3 and 4 (conv4: 512 ch, conv5: 1024 ch) feed the PCM, 6 (4096 ch) the CAM.
    # conv1a and b2 fixed, every BN frozen, as SEAM's network.
    backbone=dict(
        type='ResNet38d',
        out_indices=(3, 4, 6),
        frozen_stages=1,
        norm_cfg=dict(type='BN', requires_grad=False),
        norm_eval=True,
        init_cfg=dict(type='Pretrained', checkpoint=pretrained),
    ),
    # SEAM's classifier fc8: bias-free 1x1 conv, Xavier-uniform init. The weight 0.5 and
    # the scaled branch's 0.5 make SEAM's (L_cls^o + L_cls^t) / 2.
    head=dict(
        type='CAMHead',
        num_classes=num_classes,
        in_channels=4096,
        losses=[dict(type='GAPBCELoss', loss_weight=0.5)],
        init_cfg=dict(type='Xavier', layer='Conv2d', distribution='uniform'),
    ),
    pcm=dict(type='PixelCorrelationModule', in_channels=(512, 1024), proj_channels=(64, 128),
             embed_channels=192),
    pcm_in_index=(0, 1),
    scale_factor=0.3,
    cam_dropout=0.5,
    scaled_cls_loss=dict(type='GAPBCELoss', loss_weight=0.5, loss_name='loss_cls_scaled'),
    er_loss=dict(type='EquivariantRegularizationLoss', loss_weight=1.0),
    ecr_loss=dict(type='EquivariantCrossRegularizationLoss', top_ratio=0.2, loss_weight=1.0),
    min_pool_loss=dict(type='AdaptiveMinPoolingLoss', ratio=0.25, loss_weight=0.5),
)
