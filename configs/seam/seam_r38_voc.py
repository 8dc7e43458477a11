# SEAM (Wang et al., CVPR 2020) on PASCAL VOC 2012 train_aug, the recipe of the released
# train_SEAM.py: ResNet38d (output stride 8) with ImageNet weights, siamese branches on the
# image and a 0.3x copy, PCM on detached conv4/conv5 features, classification + ER + ECR
# losses; batch 8, 448x448 crops, 8 epochs, SGD lr 0.01 with poly decay (power 0.9), weight
# decay 5e-4, 10x lr on the new layers (CAM classifier and PCM).
#
# ImageNet weights: convert the MXNet file once (no mxnet needed):
#   python tools/model_converters/convert_resnet38d.py ilsvrc-cls_rna-a1_cls1000_ep-0001.params \
#       checkpoints/resnet38d_ilsvrc.pth
_base_ = [
    '../_base_/default_runtime.py',
    '../_base_/datasets/voc_cls.py',
]
pretrained = 'checkpoints/resnet38d_ilsvrc.pth'
num_classes = 20
crop_size = 448

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

# SEAM's augmentation: long side U(448, 768) (bicubic), flip, colour jitter, random 448 crop
# padded with the mean colour (SEAM pads the normalised image with zeros; BGR here). The
# colour jitter is torchvision's (0.3, 0.3, 0.3, hue 0.1) as in SEAM; mmhfpl's ColorJitter
# is mmpretrain's with a hue step that works under numpy 2.
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomResize', scale=(768, 768), ratio_range=(448 / 768, 1.0), keep_ratio=True,
         interpolation='bicubic'),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='ColorJitter', brightness=0.3, contrast=0.3, saturation=0.3, hue=0.1),
    dict(type='mmpretrain.RandomCrop', crop_size=crop_size, pad_if_needed=True,
         pad_val=(104, 116, 124)),
    dict(type='mmpretrain.PackInputs'),
]
train_dataloader = dict(batch_size=8, drop_last=True, dataset=dict(pipeline=train_pipeline))

# SEAM's PolyOptimizer passes weight_decay into SGD's momentum slot, so its momentum is
# 5e-4 (~0); new layers (classifier "head", "pcm") get 10x the lr. The network has no
# trainable biases (SEAM's 2x / 20x bias groups are empty).
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.01, momentum=0.0, weight_decay=5e-4),
    paramwise_cfg=dict(custom_keys={'head': dict(lr_mult=10.0), 'pcm': dict(lr_mult=10.0)}),
)
param_scheduler = [
    dict(type='PolyLR', power=0.9, eta_min=0.0, by_epoch=True, begin=0, end=8,
         convert_to_iter_based=True),
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=8, val_interval=8)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
# Learning rates assume a total batch of 8 (e.g. 4 GPUs x 2 or 1 GPU x 8).
auto_scale_lr = dict(base_batch_size=8, enable=False)

default_hooks = dict(
    checkpoint=dict(type='CheckpointHook', by_epoch=True, interval=1, max_keep_ckpts=2),
    logger=dict(type='LoggerHook', interval=50, log_metric_by_epoch=True),
)
log_processor = dict(by_epoch=True)
