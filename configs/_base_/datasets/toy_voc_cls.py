# Toy benchmark (tools/make_toy_voc.py) for stage-1 multi-label classification.
dataset_type = 'ToyVOCDataset'
data_root = 'data/toy_voc'
crop_size = 112

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomResize', scale=(128, 128), ratio_range=(0.9, 1.25), keep_ratio=True),
    dict(type='mmpretrain.RandomCrop', crop_size=crop_size, pad_if_needed=True),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='mmpretrain.PackInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='mmpretrain.PackInputs'),
]
train_dataloader = dict(
    batch_size=16,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file='ImageSets/Segmentation/train.txt',
        pipeline=train_pipeline,
    ),
)
val_dataloader = dict(
    batch_size=32,
    num_workers=2,
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
