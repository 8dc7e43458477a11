# Toy counterpart of irn_r50_voc.py: IRN's class-boundary branch on the toy set
# (tools/dataset_converters/make_toy_voc.py, 128x128 images, 6 classes), trained on a 2-core
# CPU in minutes.
#   - backbone: the toy CAM classifier's half-width ResNet-18 (configs/cam/cam_r18_toy.py;
#     stem 64, stages 32 / 64 / 128 / 256 channels at strides 4 / 8 / 8 / 8), frozen,
#     initialised from its stage-1 checkpoint (the toy has no ImageNet weights);
#   - seeds: thresholds 0.30 / 0.05 with IRN's label dCRF, spatial widths divided by 4 for
#     128-pixel images;
#   - random rescale, flip, random 112 crop; pair labels on the stride-4 grid within radius
#     5 (IRN's 10 cells cover 8% of a 500-pixel VOC image; 5 cells are 16% of a toy image);
#   - SGD lr 0.1 with momentum 0.9 (IRN's is effectively 0, but it trains ~1,000
#     iterations of batch 32; over these 300 iterations of batch 8 momentum lowers the final
#     loss from 0.36 to 0.30 and raises F from 31 to 37), poly decay;
#   - inference: flip-averaged boundaries, radius 5, beta 10, background 0.25 and 2^4 steps
#     instead of 2^8: the walk spreads over about sqrt(steps) x radius cells, and the toy's
#     32x32 grid is about a quarter of a VOC image's stride-4 grid in each direction
#     (measured on 80 toy images with the trained toy model: J 43.8 with 2^8 steps, 53.8
#     with 2^5, 56.2 with 2^4).
# Paths: CAMs of the training split in `cam_dir`, the stage-1 checkpoint in `cam_checkpoint`,
# the seed labels computed once per image in `seed_cache_dir` (one per CAM directory).
# Override them with
#   --cfg-options model.backbone.init_cfg.checkpoint=CKPT \
#                 train_dataloader.dataset.pipeline.LoadCAMFromFile.cam_dir=DIR \
#                 train_dataloader.dataset.pipeline.ThresholdSeedLabels.cache_dir=SEED_CACHE_DIR \
#                 test_dataloader.dataset.pipeline.LoadCAMFromFile.cam_dir=DIR
_base_ = [
    '../_base_/default_runtime.py',
    '../_base_/models/irn_r50.py',
    '../_base_/datasets/refine_toy.py',
]

cam_dir = 'work_dirs/cam_r18_toy/cams_train'
cam_checkpoint = 'work_dirs/cam_r18_toy/iter_300.pth'
pretrained = None  # no ImageNet weights on the toy: the backbone starts from cam_checkpoint
seed_cache_dir = 'work_dirs/cam_r18_toy/seeds_irn'  # one per CAM dir
crop_size = 112
stride = 4
radius = 5
max_iters = 300
mean_bgr = (103.53, 116.28, 123.675)

model = dict(
    data_preprocessor=dict(pad_size_divisor=8),  # the backbone's output stride
    backbone=dict(
        _delete_=True,
        type='mmpretrain.ResNet',
        depth=18,
        base_channels=32,
        num_stages=4,
        strides=(1, 2, 1, 1),
        dilations=(1, 1, 2, 4),
        out_indices=(0, 1, 2, 3),
        frozen_stages=4,
        norm_eval=True,
        style='pytorch',
        init_cfg=dict(type='Pretrained', checkpoint=cam_checkpoint, prefix='backbone.'),
    ),
    in_channels=(64, 32, 64, 128, 256),
    radius=radius,
    test_cfg=dict(exp_times=4),
)

seed_crf = dict(gaussian_sxy=0.75, bilateral_sxy=12.5)  # IRN's 3 and 50, divided by 4
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadCAMFromFile', cam_dir=cam_dir),
    dict(type='ThresholdSeedLabels', fg_threshold=0.30, bg_threshold=0.05, crf=seed_crf,
         cache_dir=seed_cache_dir),
    dict(type='RandomResize', scale=(128, 128), ratio_range=(0.75, 1.25), keep_ratio=True),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='mmseg.RandomCrop', crop_size=(crop_size, crop_size)),
    dict(type='Pad', size=(crop_size, crop_size), pad_val=dict(img=mean_bgr, seg=255)),
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
    optimizer=dict(type='SGD', lr=0.1, momentum=0.9, weight_decay=1e-4),
)
param_scheduler = [dict(type='PolyLR', power=0.9, eta_min=0.0, by_epoch=False, begin=0,
                        end=max_iters)]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters)
