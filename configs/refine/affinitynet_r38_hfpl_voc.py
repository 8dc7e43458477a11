# AffinityNet on the CAMs of SEAM + ISL/FSL (configs/seam/seam_hfpl_r38_voc.py): seed 000
# §5.1 sets the background powers of the seed labels to 1 and 24 (SEAM's are 4 and 24) when
# ISL is used, as the authors' run_voc.sh does (--la_crf_dir .../alpha_1.0, --ha_crf_dir
# .../alpha_24.0). Everything else is affinitynet_r38_voc.py.
_base_ = ['./affinitynet_r38_voc.py']

cam_dir = 'work_dirs/cams/seam_hfpl_voc_train_aug'
seed_cache_dir = 'work_dirs/seeds/affinitynet_seam_hfpl_voc_train_aug'  # one per CAM dir
alpha_low = 1
alpha_high = 24
crop_size = 448

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadCAMFromFile', cam_dir=cam_dir),
    dict(type='AlphaSeedLabels', alpha_low=alpha_low, alpha_high=alpha_high, crf=True,
         cache_dir=seed_cache_dir),
    dict(type='ColorJitter', brightness=0.3, contrast=0.3, saturation=0.3, hue=0.1),
    dict(type='mmseg.RandomCrop', crop_size=(crop_size, crop_size)),
    dict(type='Pad', size=(crop_size, crop_size), pad_val=dict(img={{_base_.mean_bgr}}, seg=255)),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PairwiseAffinityLabels', radius={{_base_.radius}}, stride={{_base_.stride}}),
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
