# Toy counterpart of irn_r50_sipe_voc.py: the toy IRN (irn_r18_toy.py, backbone from the
# SIPE toy checkpoint) with SIPE's seeds (IS-CAM background at full and half weight, IRN's
# label dCRF with widths divided by 4) and inference (background walked with the classes,
# maps to the power 1.5). Override the paths as for irn_r18_toy.py, with
# train_dataloader.dataset.pipeline.BackgroundMapSeedLabels.cache_dir=SEED_CACHE_DIR.
_base_ = './irn_r18_toy.py'

cam_dir = 'work_dirs/sipe_r18_toy/cams_train'
cam_checkpoint = 'work_dirs/sipe_r18_toy/iter_300.pth'
seed_cache_dir = 'work_dirs/sipe_r18_toy/seeds_irn'  # one per CAM dir
crop_size = 112
mean_bgr = (103.53, 116.28, 123.675)
seed_crf = dict(gaussian_sxy=0.75, bilateral_sxy=12.5)  # IRN's 3 and 50, divided by 4

model = dict(backbone=dict(init_cfg=dict(checkpoint=cam_checkpoint)),
             test_cfg=dict(bg_scale=1.0, cam_power=1.5))
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadCAMFromFile', cam_dir=cam_dir),
    dict(type='BackgroundMapSeedLabels', fg_scale=1.0, bg_scale=0.5, crf=seed_crf,
         cache_dir=seed_cache_dir),
    dict(type='RandomResize', scale=(128, 128), ratio_range=(0.75, 1.25), keep_ratio=True),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='mmseg.RandomCrop', crop_size=(crop_size, crop_size)),
    dict(type='Pad', size=(crop_size, crop_size), pad_val=dict(img=mean_bgr, seg=255)),
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
