# SIPE (Chen et al., CVPR 2022) on PASCAL VOC 2012 train_aug, as the authors'
# train_resnet50_SIPE.py: 5 epochs, batch 16, SGD with poly decay (power 0.9), lr 0.1 for
# the backbone and 10x for the classifier and side convolutions, weight decay 1e-4
# (momentum ~0: IRN's PolyOptimizer passes the weight decay into SGD's momentum slot),
# gradient norm clipped at 1; long side resized to U(320, 640), flip, IRN's random 512 crop
# padded with the mean colour (its valid mask masks the CAMs); seed 15. Final weights are
# used (make_cam.py loads final.pth). CAMs: tools/generate_cams.py with scales 1, 0.5, 1.5,
# 2 + flip (IS-CAM with its background, max-normalised); labels: make_pseudo_labels.py
# --bg-scale 1 (argmax over background and classes, the authors' eval_cam.py); refinement:
# configs/refine/irn_r50_sipe_voc.py.
_base_ = [
    '../_base_/default_runtime.py',
    '../_base_/models/sipe_r50.py',
    '../_base_/datasets/voc_cls.py',
    '../_base_/schedules/cam_5ep.py',
]
crop_size = 512
mean_bgr = (104, 116, 124)  # the mean colour, 0 after normalisation (rounded to uint8)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomResize', scale=(640, 640), ratio_range=(0.5, 1.0), keep_ratio=True),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='RandomCropWithValidMask', crop_size=crop_size, pad_val=mean_bgr),
    dict(type='mmpretrain.PackInputs', algorithm_keys=('valid_mask', )),
]
train_dataloader = dict(batch_size=16, dataset=dict(pipeline=train_pipeline))
optim_wrapper = dict(
    paramwise_cfg=dict(custom_keys={'head': dict(lr_mult=10.0),
                                    'prototypes': dict(lr_mult=10.0)}),
    clip_grad=dict(max_norm=1.0),
)
randomness = dict(seed=15)
default_hooks = dict(
    checkpoint=dict(type='CheckpointHook', by_epoch=True, interval=1, max_keep_ckpts=2),
    logger=dict(type='LoggerHook', interval=50, log_metric_by_epoch=True),
)
log_processor = dict(by_epoch=True)
