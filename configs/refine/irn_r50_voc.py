# IRN, semantic part (Ahn, Cho & Kwak, CVPR 2019): the class-boundary branch on a frozen
# ImageNet ResNet-50, as Spatial-BCE (seed 003) and Spatial-BCE + ISL/FSL (seed 000) refine
# their CAMs of PASCAL VOC 2012 train_aug. Settings of IRN (run_sample.py, train_irn.py,
# make_sem_seg_labels.py):
#   - seeds: ThresholdSeedLabels with foreground / background thresholds 0.30 / 0.05 and
#     IRN's label dCRF; Spatial-BCE uses 0.60 / 0.25 (set them below);
#   - random rescale by U(0.5, 1.5) (VOC images are at most 500 pixels, so a long side of
#     U(250, 750)), horizontal flip, random 512 crop (padded with the mean colour and
#     ignore); pair labels within radius 10 on the stride-4 grid;
#   - ResNet-50 with strides (2, 2, 2, 1) (mmpretrain strides (1, 2, 2, 1)), frozen with
#     fixed BatchNorm; boundary branch from the stem and the four stages;
#   - SGD, batch 32, 3 epochs, lr 0.1 with poly decay (power 0.9), weight decay 1e-4
#     (IRN's PolyOptimizer passes the weight decay into SGD's momentum slot: momentum ~0);
#   - inference: flip-averaged boundaries, path affinities within radius 5, beta 10, 2^8
#     random-walk steps, background threshold 0.25 (Spatial-BCE + ISL 0.30, + FSL 0.40:
#     --cfg-options model.test_cfg.bg_threshold=0.3).
# Inputs: the CAM files of tools/generate_cams.py for train_aug in `cam_dir` (seed labels
# are computed once per image and kept in `seed_cache_dir`, one per CAM directory) and the
# mmpretrain ImageNet ResNet-50 weights. Point at other CAMs with
#   --cfg-options train_dataloader.dataset.pipeline.LoadCAMFromFile.cam_dir=DIR \
#                 train_dataloader.dataset.pipeline.ThresholdSeedLabels.cache_dir=SEED_CACHE_DIR \
#                 test_dataloader.dataset.pipeline.LoadCAMFromFile.cam_dir=DIR
# Train with tools/train.py; refined labels with tools/refine_labels.py; tools/test.py
# scores them (J, F, J&F) on the test split (VOC train).
_base_ = [
    '../_base_/default_runtime.py',
    '../_base_/models/irn_r50.py',
    '../_base_/datasets/refine_voc.py',
]

cam_dir = 'work_dirs/cams/sbce_voc_train_aug'
seed_cache_dir = 'work_dirs/seeds/irn_sbce_voc_train_aug'  # one per CAM dir
crop_size = 512
stride = 4
radius = 10
mean_bgr = (103.53, 116.28, 123.675)  # pads to 0 after normalisation

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadCAMFromFile', cam_dir=cam_dir),
    dict(type='ThresholdSeedLabels', fg_threshold=0.30, bg_threshold=0.05, crf=True,
         cache_dir=seed_cache_dir),
    dict(type='RandomResize', scale=(500, 500), ratio_range=(0.5, 1.5), keep_ratio=True),
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
train_dataloader = dict(batch_size=32, dataset=dict(pipeline=train_pipeline))
test_dataloader = dict(dataset=dict(pipeline=test_pipeline))

optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.1, momentum=0.0, weight_decay=1e-4),
)
param_scheduler = [
    dict(type='PolyLR', power=0.9, eta_min=0.0, by_epoch=True, begin=0, end=3,
         convert_to_iter_based=True),
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=3)
auto_scale_lr = dict(base_batch_size=32, enable=False)

default_hooks = dict(
    checkpoint=dict(type='CheckpointHook', by_epoch=True, interval=1, max_keep_ckpts=2),
    logger=dict(type='LoggerHook', interval=50, log_metric_by_epoch=True),
)
log_processor = dict(by_epoch=True)
