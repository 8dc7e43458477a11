# Toy counterpart of affinitynet_r38_mctformer_voc.py: the toy AffinityNet with MCTformer's
# seeds (background powers 1 / 12) and inference (constant background 0.39). The stage-1
# network is a ViT, so the ResNet-18 backbone starts from the same seed's toy CAM baseline
# (configs/cam/cam_r18_toy.py; the toy's stand-in for the ImageNet ResNet38d of the
# authors' AffinityNet). Override the paths as for affinitynet_r18_toy.py.
_base_ = ['./affinitynet_r18_toy.py']

cam_dir = 'work_dirs/mctformer_v2_vit-t_toy/cams_train'
cam_checkpoint = 'work_dirs/cam_r18_toy/iter_300.pth'
seed_cache_dir = 'work_dirs/mctformer_v2_vit-t_toy/seeds_affinitynet'  # one per CAM dir

model = dict(backbone=dict(init_cfg=dict(checkpoint=cam_checkpoint)),
             test_cfg=dict(bg_threshold=0.39))
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadCAMFromFile', cam_dir=cam_dir),
    dict(type='AlphaSeedLabels', alpha_low=1, alpha_high=12, crf=dict(scale_factor=4.0),
         cache_dir=seed_cache_dir),
    dict(type='mmpretrain.ColorJitter', brightness=0.3, contrast=0.3, saturation=0.3),
    dict(type='mmseg.RandomCrop', crop_size=(112, 112)),
    dict(type='Pad', size=(112, 112), pad_val=dict(img=(103.53, 116.28, 123.675), seg=255)),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PairwiseAffinityLabels', radius=5, stride=4),
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
