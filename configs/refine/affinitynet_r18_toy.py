# Toy counterpart of affinitynet_r38_voc.py: AffinityNet on the toy set
# (tools/dataset_converters/make_toy_voc.py, 128x128 images, 6 classes), trained on a 2-core
# CPU in minutes.
#   - backbone: the toy CAM classifier's half-width ResNet-18 (configs/cam/cam_r18_toy.py),
#     initialised from its stage-1 checkpoint (the toy has no ImageNet weights), run at
#     output stride 4 (layer2 at stride 1 instead of 2, dilations doubled): stride 8 on a
#     128-pixel image leaves a 16x16 grid on which even the random walk over GT affinities
#     only reaches J 59.9 / F 35.7 (80 toy images), against J 73.7 / F 68.4 at stride 4;
#     layer2 / layer3 / layer4 (64 / 128 / 256 channels) play conv4 / conv5 / conv6 and feed
#     1x1 branches of 16 / 32 / 64 channels fused to 112 (a quarter of AffinityNet's
#     64 / 128 / 256 -> 448); stem frozen, BatchNorm statistics fixed;
#   - seeds: background powers 4 / 24 with the AffinityNet dCRF, its spatial widths divided
#     by 4 for 128-pixel images (as the toy pipeline's dCRF);
#   - colour jitter, random 112 crop, flip; pair labels within radius 5 on the stride-4 grid;
#   - SGD lr 0.1 (10x for the new layers), poly decay, batch 8, 300 iterations;
#   - inference: beta 8, 2^6 steps, background power 6.
# Paths: CAMs of the training split in `cam_dir`, the stage-1 checkpoint in `cam_checkpoint`,
# the seed labels computed once per image in `seed_cache_dir` (one per CAM directory).
# Override them with
#   --cfg-options model.backbone.init_cfg.checkpoint=CKPT \
#                 train_dataloader.dataset.pipeline.LoadCAMFromFile.cam_dir=DIR \
#                 train_dataloader.dataset.pipeline.AlphaSeedLabels.cache_dir=SEED_CACHE_DIR \
#                 test_dataloader.dataset.pipeline.LoadCAMFromFile.cam_dir=DIR
_base_ = [
    '../_base_/default_runtime.py',
    '../_base_/models/affinitynet_r38.py',
    '../_base_/datasets/refine_toy.py',
]

cam_dir = 'work_dirs/cam_r18_toy/cams_train'
cam_checkpoint = 'work_dirs/cam_r18_toy/iter_300.pth'
pretrained = None  # no ImageNet weights on the toy: the backbone starts from cam_checkpoint
seed_cache_dir = 'work_dirs/cam_r18_toy/seeds_affinitynet'  # one per CAM dir
crop_size = 112
stride = 4
radius = 5
max_iters = 300
mean_bgr = (103.53, 116.28, 123.675)

model = dict(
    data_preprocessor=dict(pad_size_divisor=stride),
    backbone=dict(
        _delete_=True,
        type='mmpretrain.ResNet',
        depth=18,
        base_channels=32,
        num_stages=4,
        strides=(1, 1, 1, 1),
        dilations=(1, 2, 4, 8),
        out_indices=(1, 2, 3),
        frozen_stages=0,
        norm_eval=True,
        style='pytorch',
        init_cfg=dict(type='Pretrained', checkpoint=cam_checkpoint, prefix='backbone.'),
    ),
    in_channels=(64, 128, 256),
    branch_channels=(16, 32, 64),  # a quarter of AffinityNet's widths, like the backbone
    out_channels=112,
    stride=stride,
)

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadCAMFromFile', cam_dir=cam_dir),
    dict(type='AlphaSeedLabels', alpha_low=4, alpha_high=24, crf=dict(scale_factor=4.0),
         cache_dir=seed_cache_dir),
    dict(type='mmpretrain.ColorJitter', brightness=0.3, contrast=0.3, saturation=0.3),
    dict(type='mmseg.RandomCrop', crop_size=(crop_size, crop_size)),
    dict(type='Pad', size=(crop_size, crop_size), pad_val=dict(img=mean_bgr, seg=255)),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PairwiseAffinityLabels', radius=radius, stride=stride),
    dict(type='PackAffinityInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadCAMFromFile', cam_dir=cam_dir),
    dict(type='mmseg.LoadAnnotations'),
    dict(type='PackAffinityInputs'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
test_dataloader = dict(dataset=dict(pipeline=test_pipeline))

optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.1, momentum=0.0, weight_decay=5e-4),
    paramwise_cfg=dict(custom_keys={'head': dict(lr_mult=10.0)}),
)
param_scheduler = [dict(type='PolyLR', power=0.9, eta_min=0.0, by_epoch=False, begin=0,
                        end=max_iters)]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters)
