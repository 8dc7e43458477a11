# Toy counterpart of pmm_multicrop_scalenet101_voc.py: PMM's heat-map-guided multi-crop
# training on the toy set with seam_r18_toy.py's network (ScaleNet-101 has no toy size; the
# backbone is a config entry) and no dropout before the classifier, as PMM's ScaleNet.
# Windows and stride are PMM's 448 / 300 scaled to the toy's 112 crops (x 1/4); the
# scales are PMM's. Heat maps from the toy SEAM, with the dCRF widths / 4 as for every toy
# dCRF:
#   python tools/generate_cams.py configs/seam/seam_r18_toy.py CKPT --scales 0.5 1 1.5 2 \
#       --ann-file ImageSets/Segmentation/train.txt --out-dir work_dirs/seam_r18_toy/cams
#   python tools/make_pseudo_labels.py configs/seam/seam_r18_toy.py \
#       --ann-file ImageSets/Segmentation/train.txt --cams work_dirs/seam_r18_toy/cams \
#       --out-dir work_dirs/seam_r18_toy/heat --alpha 24 --crf --crf-scale-factor 4 \
#       --min-confidence 0.9
# Multi-crop CAMs: tools/generate_cams.py ... --crop-size 112 --crop-stride 75 --scales
# 0.75 1 1.25 1.5 1.75 2 2.25 2.5 2.75 3.
_base_ = ['../seam/seam_r18_toy.py']
crop_size = 112
heat_dir = 'work_dirs/seam_r18_toy/heat'
model = dict(cam_dropout=0.0)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='HeatmapGuidedCrop', heat_dir=heat_dir, crop_size=crop_size, stride=75,
         match_thresh=0.1),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='ColorJitter', brightness=0.3, contrast=0.3, saturation=0.3, hue=0.1),
    dict(type='Resize', scale=(crop_size, crop_size), keep_ratio=False, backend='pillow',
         interpolation='bilinear'),
    dict(type='mmpretrain.PackInputs'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
