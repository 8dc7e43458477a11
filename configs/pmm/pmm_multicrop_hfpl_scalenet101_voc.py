# PMM's multi-crop network + the add-on as seed 000 §5.1 applies it to PMM: FSL in both
# stage-1 trainings, ISL only in the multi-scale one (pmm_hfpl_r38_voc.py). Here: SEAM's
# GAP BCE kept, plus FSL with SEAM + ISL/FSL's settings (r gating, background map appended,
# mu = 2.5, sigma = 5, weight 1) on the 56x56 CAM of the full-resolution branch. The heat
# maps come from the + ISL/FSL first network.
_base_ = './pmm_multicrop_scalenet101_voc.py'
heat_dir = 'work_dirs/pmm_hfpl_r38_voc/heat'
model = dict(head=dict(losses=[
    dict(type='GAPBCELoss', loss_weight=0.5),
    dict(type='FeatureSimilarityLoss', gating='r', mu=2.5, sigma=5.0, with_background=True,
         loss_weight=1.0),
]))
# (The whole pipeline again: a child config cannot change one step of a base list.)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='HeatmapGuidedCrop', heat_dir=heat_dir, crop_size=448, stride=300,
         match_thresh=0.1),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='ColorJitter', brightness=0.3, contrast=0.3, saturation=0.3, hue=0.1),
    dict(type='Resize', scale=(448, 448), keep_ratio=False, backend='pillow',
         interpolation='bilinear'),
    dict(type='mmpretrain.PackInputs'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
