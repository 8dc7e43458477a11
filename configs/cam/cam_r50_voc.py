# CAM baseline on PASCAL VOC 2012 train_aug: ResNet-50 (OS16), GAP BCE (seed 000 Eq. 17),
# IRN's train_cam recipe. Needs the VOC layout of README.md and ImageNet weights.
_base_ = [
    '../_base_/default_runtime.py',
    '../_base_/models/cam_r50.py',
    '../_base_/datasets/voc_cls.py',
    '../_base_/schedules/cam_5ep.py',
]
default_hooks = dict(
    checkpoint=dict(type='CheckpointHook', by_epoch=True, interval=1, max_keep_ckpts=2),
    logger=dict(type='LoggerHook', interval=50, log_metric_by_epoch=True),
)
log_processor = dict(by_epoch=True)
