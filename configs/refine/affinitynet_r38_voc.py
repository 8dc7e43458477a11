# AffinityNet (Ahn & Kwak, CVPR 2018) on ResNet38d, as SEAM (and SEAM + ISL/FSL, seed 000)
# refines its CAMs of PASCAL VOC 2012 train_aug. Settings of PSA/SEAM train_aff.py and
# SEAM infer_aff.py:
#   - seeds: AlphaSeedLabels with background powers 4 / 24 and the AffinityNet dCRF
#     (SEAM + ISL/FSL: 1 / 24, seed 000 §5.1 and run_voc.sh: affinitynet_r38_hfpl_voc.py);
#   - colour jitter (brightness, contrast, saturation 0.3, hue 0.1), random 448 crop
#     (padded with the mean colour and ignore), horizontal flip; pair labels within radius 5
#     on the stride-8 grid;
#   - features of conv4 / conv5 / conv6 -> 64 / 128 / 256 -> 448; ImageNet ResNet38d with
#     conv1a and b2 frozen and every BatchNorm fixed;
#   - SGD, batch 8, 8 epochs, lr 0.1 with poly decay (power 0.9), weight decay 5e-4, 10x lr
#     for the new layers (PSA's PolyOptimizer passes the weight decay into SGD's momentum
#     slot, so momentum is effectively 0, as here);
#   - inference: random walk with beta 8 over 2^6 steps, background (1 - max CAM)^6.
# Inputs: the CAM files of tools/generate_cams.py for train_aug in `cam_dir` (seed labels
# are computed once per image and kept in `seed_cache_dir`, one per CAM directory), ResNet38d
# ImageNet weights converted by tools/model_converters/convert_resnet38d.py. Point at other
# CAMs with
#   --cfg-options train_dataloader.dataset.pipeline.LoadCAMFromFile.cam_dir=DIR \
#                 train_dataloader.dataset.pipeline.AlphaSeedLabels.cache_dir=SEED_CACHE_DIR \
#                 test_dataloader.dataset.pipeline.LoadCAMFromFile.cam_dir=DIR
# (`cam_dir=DIR` alone does not reach the pipelines). Train with tools/train.py; write the
# refined labels with tools/refine_labels.py; tools/test.py scores them (J, F, J&F) on the
# test split (VOC train, against its GT masks).
_base_ = [
    '../_base_/default_runtime.py',
    '../_base_/models/affinitynet_r38.py',
    '../_base_/datasets/refine_voc.py',
]

cam_dir = 'work_dirs/cams/seam_voc_train_aug'
seed_cache_dir = 'work_dirs/seeds/affinitynet_seam_voc_train_aug'  # one per CAM dir
crop_size = 448
stride = 8
radius = 5
mean_bgr = (103.53, 116.28, 123.675)  # pads to 0 after normalisation

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadCAMFromFile', cam_dir=cam_dir),
    dict(type='AlphaSeedLabels', alpha_low=4, alpha_high=24, crf=True,
         cache_dir=seed_cache_dir),
    dict(type='ColorJitter', brightness=0.3, contrast=0.3, saturation=0.3, hue=0.1),
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
param_scheduler = [
    dict(type='PolyLR', power=0.9, eta_min=0.0, by_epoch=True, begin=0, end=8,
         convert_to_iter_based=True),
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=8)
auto_scale_lr = dict(base_batch_size=8, enable=False)

default_hooks = dict(
    checkpoint=dict(type='CheckpointHook', by_epoch=True, interval=1, max_keep_ckpts=2),
    logger=dict(type='LoggerHook', interval=50, log_metric_by_epoch=True),
)
log_processor = dict(by_epoch=True)
