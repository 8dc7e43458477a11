# PMM stage 1, second network: heat-map-guided multi-crop training (Eli-YiLi/PMM: run.py
# --gen_mask_for_multi_crop, then --train_multi_crop; pipeline/train_cam.py with
# tool/data.py's VOC12ClsHeatCropDataset and network/scalenet_SEAM.py): SEAM's objective
# on ScaleNet-101 (output stride 8: strides 1-2-1-1, no dilation; stem and first stage
# fixed, every BN frozen; PCM on the detached stage-2/3 outputs, 512/1024 ch; no dropout
# before the classifier), batch 16, 20 epochs, SGD lr 0.02 poly with SEAM's optimiser,
# 10x on the new layers.
#
# Each sample is one window of the multi-crop grid (scales 0.75-3, 448 windows every 300
# px), labelled by the classes its heat map shows, then flipped, colour-jittered and
# resized to 448x448 (mmhfpl.HeatmapGuidedCrop). The heat maps come from the first
# network (pmm_r38_voc.py):
#   python tools/generate_cams.py configs/pmm/pmm_r38_voc.py work_dirs/pmm_r38_voc/epoch_8.pth \
#       --ann-file ImageSets/Segmentation/train_aug.txt --scales 0.5 1 1.5 2 \
#       --out-dir work_dirs/pmm_r38_voc/cams_train_aug
#   python tools/make_pseudo_labels.py configs/pmm/pmm_r38_voc.py \
#       --ann-file ImageSets/Segmentation/train_aug.txt \
#       --cams work_dirs/pmm_r38_voc/cams_train_aug --out-dir work_dirs/pmm_r38_voc/heat \
#       --alpha 24 --crf --min-confidence 0.9 --workers 8
# Then train this config, generate its multi-crop CAMs and PMM's pseudo-masks:
#   python tools/generate_cams.py configs/pmm/pmm_multicrop_scalenet101_voc.py CKPT \
#       --ann-file ImageSets/Segmentation/train_aug.txt --crop-size 448 --crop-stride 300 \
#       --scales 0.75 1 1.25 1.5 1.75 2 2.25 2.5 2.75 3 --out-dir work_dirs/pmm_mc/cams
#   python tools/make_pseudo_labels.py configs/pmm/pmm_multicrop_scalenet101_voc.py \
#       --ann-file ImageSets/Segmentation/train_aug.txt --cams work_dirs/pmm_mc/cams \
#       --out-dir work_dirs/pmm_mc/ppg --ppg-alpha 11 --workers 8
#
# ScaleNet's structure file and ImageNet weights (scalenet101.json, scalenet101.pth) are
# published on the authors' drive, which cannot be reached from here: put them under
# checkpoints/. The backbone is a config entry, so any mmhfpl/mmpretrain backbone with
# three outputs (PCM, PCM, CAM) can stand in (e.g. ResNet38d as pmm_r38_voc.py), which is
# not PMM's setting.
_base_ = './pmm_r38_voc.py'
crop_size = 448
heat_dir = 'work_dirs/pmm_r38_voc/heat'
pretrained = 'checkpoints/scalenet101.pth'
model = dict(
    backbone=dict(
        _delete_=True,
        type='ScaleNet',
        structure='checkpoints/scalenet101.json',
        depth=101,
        strides=(1, 2, 1, 1),
        dilations=(1, 1, 1, 1),
        out_indices=(1, 2, 3),
        frozen_stages=1,
        norm_cfg=dict(type='BN', requires_grad=False),
        norm_eval=True,
        init_cfg=dict(type='Pretrained', checkpoint=pretrained),
    ),
    head=dict(in_channels=2048),
    pcm=dict(in_channels=(512, 1024)),
    cam_dropout=0.0,
)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='HeatmapGuidedCrop', heat_dir=heat_dir, crop_size=crop_size, stride=300,
         match_thresh=0.1),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='ColorJitter', brightness=0.3, contrast=0.3, saturation=0.3, hue=0.1),
    dict(type='Resize', scale=(crop_size, crop_size), keep_ratio=False, backend='pillow',
         interpolation='bilinear'),
    dict(type='mmpretrain.PackInputs'),
]
train_dataloader = dict(batch_size=16, dataset=dict(pipeline=train_pipeline))
param_scheduler = [
    dict(type='PolyLR', power=0.9, eta_min=0.0, by_epoch=True, begin=0, end=20,
         convert_to_iter_based=True),
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=20, val_interval=20)
auto_scale_lr = dict(base_batch_size=16, enable=False)
