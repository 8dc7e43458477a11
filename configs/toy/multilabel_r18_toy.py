# Minimal stage-1 baseline on the toy set: an mmpretrain multi-label ResNet-18
# classifier trained from scratch on CPU (a few minutes). It exercises
# config -> Runner -> checkpoint -> resume; the CAM models build on it.
_base_ = [
    '../_base_/default_runtime.py',
    '../_base_/datasets/toy_voc_cls.py',
    '../_base_/schedules/toy_iter300.py',
]
num_classes = 6  # foreground classes of the toy set
model = dict(
    _scope_='mmpretrain',
    type='ImageClassifier',
    data_preprocessor=dict(
        type='ClsDataPreprocessor',
        num_classes=num_classes,
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        to_rgb=True,
    ),
    backbone=dict(type='ResNet', depth=18, num_stages=4, out_indices=(3, ), style='pytorch'),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(
        type='MultiLabelLinearClsHead',
        num_classes=num_classes,
        in_channels=512,
        loss=dict(type='CrossEntropyLoss', use_sigmoid=True),
    ),
)
