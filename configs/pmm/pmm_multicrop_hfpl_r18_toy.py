# Toy counterpart of pmm_multicrop_hfpl_scalenet101_voc.py: FSL only (seed 000 §5.1 for
# PMM's multi-crop stage), on the 14x14 CAM upsampled x2 as seam_hfpl_r18_toy.py, with the
# heat maps of the toy SEAM + ISL/FSL.
_base_ = ['./pmm_multicrop_r18_toy.py']
heat_dir = 'work_dirs/seam_hfpl_r18_toy/heat'
model = dict(head=dict(losses=[
    dict(type='GAPBCELoss', loss_weight=0.5),
    dict(type='FeatureSimilarityLoss', gating='r', mu=2.5, sigma=5.0, upsample=2,
         with_background=True, loss_weight=1.0),
]))
# (The whole pipeline again: a child config cannot change one step of a base list.)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='HeatmapGuidedCrop', heat_dir=heat_dir, crop_size=112, stride=75,
         match_thresh=0.1),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='ColorJitter', brightness=0.3, contrast=0.3, saturation=0.3, hue=0.1),
    dict(type='Resize', scale=(112, 112), keep_ratio=False, backend='pillow',
         interpolation='bilinear'),
    dict(type='mmpretrain.PackInputs'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
