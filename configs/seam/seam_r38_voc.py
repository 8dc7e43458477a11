# SEAM (Wang et al., CVPR 2020) on PASCAL VOC 2012 train_aug, the recipe of the released
# train_SEAM.py: ResNet38d (output stride 8) with ImageNet weights, siamese branches on the
# image and a 0.3x copy, PCM on detached conv4/conv5 features, classification + ER + ECR
# losses; batch 8, 448x448 crops, 8 epochs, SGD lr 0.01 with poly decay (power 0.9), weight
# decay 5e-4, 10x lr on the new layers (CAM classifier and PCM).
# The network: configs/_base_/models/seam_r38.py.
_base_ = [
    '../_base_/default_runtime.py',
    '../_base_/models/seam_r38.py',
    '../_base_/datasets/voc_cls.py',
]
crop_size = 448

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
