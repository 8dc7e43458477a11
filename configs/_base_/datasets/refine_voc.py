# PASCAL VOC 2012 for the refinement networks of configs/refine/: training on train_aug,
# whose CAM files the networks read, and refinement of VOC train scored against its GT masks
# (J, F, J&F). The configs add their `train_pipeline` / `test_pipeline` through
# `train_dataloader.dataset.pipeline` and `test_dataloader.dataset.pipeline`.
data_root = 'data/VOCdevkit/VOC2012'
dataset_type = 'VOCWSSSDataset'
train_dataloader = dict(
    batch_size=8,
    num_workers=8,
    persistent_workers=True,
    drop_last=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(type=dataset_type, data_root=data_root,
                 ann_file='ImageSets/Segmentation/train_aug.txt'),
)
test_dataloader = dict(
    batch_size=1,  # the random walk of an image sees it padded to the stride only
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type=dataset_type, data_root=data_root,
                 ann_file='ImageSets/Segmentation/train.txt',
                 data_prefix=dict(seg_map_path='SegmentationClass'), test_mode=True),
)
test_evaluator = dict(type='ContourFMetric')
val_cfg = None
val_dataloader = None
val_evaluator = None
test_cfg = dict(type='TestLoop')
