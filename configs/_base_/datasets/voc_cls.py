# PASCAL VOC 2012 train_aug (10,582 images) for stage-1 training with image-level labels,
# val (1,449) for classification mAP. Augmentation follows IRN's train_cam: long side
# resized to U(320, 640), horizontal flip, random 512x512 crop.
dataset_type = 'VOCWSSSDataset'
data_root = 'data/VOCdevkit/VOC2012'
crop_size = 512

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomResize', scale=(640, 640), ratio_range=(0.5, 1.0), keep_ratio=True),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='mmpretrain.RandomCrop', crop_size=crop_size, pad_if_needed=True),
    dict(type='mmpretrain.PackInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='mmpretrain.PackInputs'),
]
train_dataloader = dict(
    batch_size=16,
    num_workers=8,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file='ImageSets/Segmentation/train_aug.txt',
        pipeline=train_pipeline,
    ),
)
val_dataloader = dict(
    batch_size=1,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file='ImageSets/Segmentation/val.txt',
        test_mode=True,
        pipeline=test_pipeline,
    ),
)
test_dataloader = val_dataloader
val_evaluator = [
    dict(type='mmpretrain.AveragePrecision'),
    dict(type='mmpretrain.MultiLabelMetric', thr=0.5, average='macro'),
]
test_evaluator = val_evaluator
