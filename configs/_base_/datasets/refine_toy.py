# Toy set (tools/dataset_converters/make_toy_voc.py) for the refinement networks of
# configs/refine/: training on the train split, whose CAM files the networks read, and
# refinement of the same split scored against its GT masks (J, F, J&F). The configs add
# their `train_pipeline` / `test_pipeline` through `train_dataloader.dataset.pipeline` and
# `test_dataloader.dataset.pipeline`.
data_root = 'data/toy_voc'
dataset_type = 'ToyVOCDataset'
# In-process loading, as the stage-1 toy set (toy_voc_cls.py: worker shutdown costs more
# than the toy data loading it saves).
train_dataloader = dict(
    batch_size=8,
    num_workers=0,
    persistent_workers=False,
    drop_last=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(type=dataset_type, data_root=data_root,
                 ann_file='ImageSets/Segmentation/train.txt'),
)
test_dataloader = dict(
    batch_size=1,
    num_workers=0,
    persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type=dataset_type, data_root=data_root,
                 ann_file='ImageSets/Segmentation/train.txt', test_mode=True),
)
test_evaluator = dict(type='ContourFMetric')
val_cfg = None
val_dataloader = None
val_evaluator = None
test_cfg = dict(type='TestLoop')
