# Seed 000's final network on MS COCO 2014 (arvijj/hfpl: coco/config_coco2014.py,
# train_final_coco.py, eval_final_coco.py): deeplabv1_r38_voc_pseudo.py with 81 classes and
# 200k iterations, trained on pseudo-labels of train2014 and evaluated on val2014 (J, and
# contour F over the 80 classes). Everything else is the VOC recipe, as in the authors' code.
#   - Layout: data/coco2014 as tools/dataset_converters/convert_coco_wsss.py writes it
#     (README "COCO"); pseudo-labels of every train2014 image as <id>.png in
#     `pseudo_label_dir` (or --cfg-options
#     train_dataloader.dataset.data_prefix.seg_map_path=/abs/pseudo_labels).
#   - Random scale: the long side to 640 x U(0.5, 1.5) (most COCO images are 640 pixels on
#     their long side; the authors scale each image's own size, docs/fidelity.md row 34).
#   - Validation on the 40,504 val2014 images runs once, at the end (the VOC config's every
#     2k iterations would cost more than the training); checkpoints every 20k iterations.
_base_ = ['./deeplabv1_r38_voc_pseudo.py']

# Default: <repo>/work_dirs/pseudo_labels/coco_train2014 (absolute, so independent of data_root).
pseudo_label_dir = '{{ fileDirname }}/../../work_dirs/pseudo_labels/coco_train2014'
dataset_type = 'mmhfpl.COCOWSSSDataset'
data_root = 'data/coco2014'
max_iters = 200000

model = dict(decode_head=dict(num_classes=81))

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='mmhfpl.RandomHSVShift', hue_delta=10, saturation_delta=10, value_delta=10),
    dict(type='RandomFlip', prob=0.5),
    dict(type='RandomResize', scale=(640, 640), ratio_range=(0.5, 1.5), keep_ratio=True,
         interpolation='bicubic'),
    dict(type='RandomCrop', crop_size={{_base_.crop_size}}),
    dict(type='PackSegInputs'),
]
train_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type=dataset_type,
        data_root=data_root,
        split='train2014',
        data_prefix=dict(seg_map_path=pseudo_label_dir),
        filter_cfg=dict(filter_empty_gt=False),
        pipeline=train_pipeline,
    ))
val_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type=dataset_type,
        data_root=data_root,
        split='val2014',
        test_mode=True,
        pipeline={{_base_.test_pipeline}},
    ))
test_dataloader = val_dataloader

param_scheduler = [
    dict(type='PolyLR', eta_min=0.0, power=0.9, begin=0, end=max_iters, by_epoch=False),
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=max_iters)
default_hooks = dict(checkpoint=dict(interval=20000))
