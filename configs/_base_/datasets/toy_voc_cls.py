# Toy benchmark (tools/dataset_converters/make_toy_voc.py) for stage-1 multi-label
# classification: the VOC stage-1 dataset config with the toy set's paths, 128x128 images
# and 112 crops.
_base_ = './voc_cls.py'
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
# Data loading runs in the main process: toy batches load in milliseconds, and worker
# processes of an InfiniteSampler loader each take 5-10 s to shut down when training ends
# (measured: 40 iterations 11.1 s with 2 persistent workers + 20.3 s teardown, 10.5 s and
# 0.15 s without workers), which the toy pipeline would pay at every training step.
train_dataloader = dict(
    num_workers=0,
    persistent_workers=False,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(type=dataset_type, data_root=data_root,
                 ann_file='ImageSets/Segmentation/train.txt', pipeline=train_pipeline),
)
val_dataloader = dict(
    batch_size=32,
    num_workers=0,
    persistent_workers=False,
    dataset=dict(type=dataset_type, data_root=data_root,
                 ann_file='ImageSets/Segmentation/val.txt'),
)
test_dataloader = val_dataloader
