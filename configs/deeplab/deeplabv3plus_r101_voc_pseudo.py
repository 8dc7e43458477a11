# Stage 3: DeepLabV3+ (ResNet-101-V1c, output stride 8) trained on WSSS pseudo-labels of
# PASCAL VOC 2012 train_aug (10,582 images) and evaluated on VOC val (1,449 images) against
# the official GT masks with J (mIoU), contour F and J&F (mmhfpl.ContourFMetric).
#
# Everything except the data and the local weight path comes unchanged from mmseg's VOC-aug recipe
# (mmseg::deeplabv3plus/deeplabv3plus_r101-d8_4xb4-20k_voc12aug-512x512.py):
#   - random resize of the (2048, 512) scale by U(0.5, 2.0), 512x512 crops
#     (cat_max_ratio 0.75), flip, photometric distortion; test at (2048, 512) keep-ratio,
#     predictions resized back to the original image size;
#   - batch 4 per GPU x 4 GPUs = 16 (run with `bash tools/dist_train.sh CONFIG 4`; on fewer
#     GPUs raise train_dataloader.batch_size so the total stays 16);
#   - SGD lr 0.01, momentum 0.9, weight decay 5e-4, poly decay (power 0.9, eta_min 1e-4),
#     20k iterations, validation every 2k (for the 40k schedule, inherit from
#     deeplabv3plus_r101-d8_4xb4-40k_voc12aug-512x512.py instead);
#   - SyncBN, FCN auxiliary head on stage 3 (loss weight 0.4);
#   - ImageNet-pretrained ResNet-101-V1c, mmseg's `open-mmlab://resnet101_v1c`, i.e.
#     https://download.openmmlab.com/pretrain/third_party/resnet101_v1c-e67eebb6.pth.
#     Nothing is downloaded here: put that file at `checkpoints/resnet101_v1c-e67eebb6.pth`
#     (relative to the directory training runs from) or point `model.pretrained` elsewhere
#     (`--cfg-options model.pretrained=/path/resnet101_v1c-e67eebb6.pth`).
#
# Data (mmhfpl.VOCWSSSDataset, VOC layout of README.md under data/VOCdevkit/VOC2012):
#   - train: ImageSets/Segmentation/train_aug.txt with masks read from `pseudo_label_dir`,
#     VOC palette PNGs `<id>.png` (0 background, 1..20 classes, 255 ignored). Every listed
#     image is kept, also those whose pseudo-label holds no foreground class.
#   - val/test: ImageSets/Segmentation/val.txt with the official masks (SegmentationClass).
#
# Setting the pseudo-label directory (absolute, or relative to data_root as every
# data_prefix entry): edit `pseudo_label_dir` below, or on the command line
#     --cfg-options train_dataloader.dataset.data_prefix.seg_map_path=/abs/pseudo_labels
# mmengine evaluates config variables when the file is read, so
# `--cfg-options pseudo_label_dir=...` alone does NOT reach the dataset (nor does
# redefining the variable in a child config without repeating the train_dataloader line).
_base_ = ['mmseg::deeplabv3plus/deeplabv3plus_r101-d8_4xb4-20k_voc12aug-512x512.py']

# mmseg types resolve unprefixed; mmhfpl types (dataset, metric) take the `mmhfpl.` prefix.
default_scope = 'mmseg'
custom_imports = dict(imports=['mmhfpl'], allow_failed_imports=False)

# Default: <repo>/work_dirs/pseudo_labels/voc_train_aug (absolute, so independent of data_root).
pseudo_label_dir = '{{ fileDirname }}/../../work_dirs/pseudo_labels/voc_train_aug'
pretrained = 'checkpoints/resnet101_v1c-e67eebb6.pth'  # = open-mmlab://resnet101_v1c

dataset_type = 'mmhfpl.VOCWSSSDataset'
data_root = 'data/VOCdevkit/VOC2012'

model = dict(pretrained=pretrained)

train_dataloader = dict(
    dataset=dict(
        _delete_=True,  # replaces mmseg's ConcatDataset of train + SBD aug GT masks
        type=dataset_type,
        data_root=data_root,
        ann_file='ImageSets/Segmentation/train_aug.txt',
        data_prefix=dict(img_path='JPEGImages', seg_map_path=pseudo_label_dir),
        filter_cfg=dict(filter_empty_gt=False),
        pipeline={{_base_.train_pipeline}},
    ))
val_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type=dataset_type,
        data_root=data_root,
        ann_file='ImageSets/Segmentation/val.txt',
        data_prefix=dict(img_path='JPEGImages', seg_map_path='SegmentationClass'),
        test_mode=True,
        pipeline={{_base_.test_pipeline}},
    ))
test_dataloader = val_dataloader

val_evaluator = dict(_delete_=True, type='mmhfpl.ContourFMetric', iou_metrics=['mIoU'])
test_evaluator = val_evaluator

# Checkpoints written atomically (mmhfpl's file backend): a kill never leaves a partial one.
default_hooks = dict(checkpoint=dict(backend_args=dict(backend='mmhfpl_local')))
