# IRN refinement of SIPE's IS-CAMs on PASCAL VOC 2012, as SIPE's run_voc.sh (cam2ir.py,
# train_irn.py, make_seg_labels.py): IRN's network and training (irn_r50_voc.py) with
#   - seeds from the IS-CAM background map (BackgroundMapSeedLabels): argmax over
#     [background, classes] with IRN's label dCRF for the foreground, the same with the
#     background halved for the confident background;
#   - inference: background and class IS-CAMs raised to the power 1.5 and walked together
#     (beta 10, 2^8 steps), no background threshold.
# CAMs of tools/generate_cams.py configs/sipe/sipe_r50_voc.py in `cam_dir`.
_base_ = './irn_r50_voc.py'

cam_dir = 'work_dirs/cams/sipe_voc_train_aug'
seed_cache_dir = 'work_dirs/seeds/irn_sipe_voc_train_aug'  # one per CAM dir
crop_size = 512
mean_bgr = (103.53, 116.28, 123.675)

model = dict(test_cfg=dict(bg_scale=1.0, cam_power=1.5))
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadCAMFromFile', cam_dir=cam_dir),
    dict(type='BackgroundMapSeedLabels', fg_scale=1.0, bg_scale=0.5, crf=True,
         cache_dir=seed_cache_dir),
    dict(type='RandomResize', scale=(500, 500), ratio_range=(0.5, 1.5), keep_ratio=True),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='mmseg.RandomCrop', crop_size=(crop_size, crop_size)),
    dict(type='Pad', size=(crop_size, crop_size), pad_val=dict(img=mean_bgr, seg=255)),
    dict(type='PairwiseAffinityLabels', radius=10, stride=4),
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
