# Stage 3 as seed 000 trained it (arvijj/hfpl at 1038a68: voc12/config_voc2012.py,
# train_final_voc.py, eval_final_voc.py, lib/net/deeplabv1.py, from YudeWang's segmentation
# codebase): DeepLab-v1 LargeFOV on the wide ResNet-38 (ResNet-38d, output stride 8),
# trained on the pseudo-labels of the AffinityNet random walk and tested with six scales,
# flips and a dCRF. Seed 000's Table 2 (final J / F / J&F) comes from this network;
# deeplabv3plus_r101_voc_pseudo.py is mmseg's stock recipe instead. Data wiring, the metric
# and `pseudo_label_dir` come from that config (see its header for setting the labels).
#   - model: ResNet-38d (its Dropout2d 0.3 / 0.5 in b6 / b7) -> conv 3x3 dilation 12 (4096
#     -> 512, no bias) - BN - ReLU - conv 1x1 - BN - ReLU - dropout 0.5 - conv 1x1 to 21
#     classes (mmhfpl.DeepLabV1Head); logits resized bilinearly with align_corners=True;
#   - BN: batch statistics in training with momentum 3e-4 (PyTorch's convention), affine
#     parameters never updated (the authors' optimiser holds conv parameters only; their
#     `train()` override that would freeze BN and conv1a is never called during training);
#   - SGD momentum 0.9, lr 1e-3 (x10 for the head's convolutions, x20 and no weight decay
#     for the classifier's bias), weight decay 5e-4, poly power 0.9 per iteration, 20k
#     iterations of batch 10 on one GPU;
#   - cross entropy over the non-ignored pixels (ignore 255);
#   - input: HSV shift of up to +-10 per channel (mmhfpl.RandomHSVShift), flip, random scale
#     0.5-1.5 (bicubic), 448 x 448 crop, ImageNet mean / std, padding 0 after normalising
#     and 255 in the label;
#   - test (`tools/test.py CONFIG CKPT --tta`): scales 0.5-1.75 (bicubic) and flips, the
#     views' logits averaged, one softmax, dCRF with 1 iteration (Gaussian sxy 3 / compat 3,
#     bilateral sxy 32 / srgb 13 / compat 10); without --tta, one view at the original size.
#   - ImageNet weights: the ResNet-38d file SEAM / AffinityNet load, converted as
#     configs/_base_/models/seam_r38.py says, at checkpoints/resnet38d_ilsvrc.pth.
# Differences (docs/fidelity.md row 34): mmseg scales the long side to 500 x U(0.5, 1.5)
# (the authors scale each image's own size; equal for VOC's 500-pixel images), pads a
# smaller crop at its bottom right (theirs: a random offset), and resizes the uint8 image
# before normalising (theirs: the normalised one); mmengine's PolyLR decays to 0 at 20k
# (theirs: (1 - i / 20001) ** 0.9); the classifier's bias starts at 0.
_base_ = ['./deeplabv3plus_r101_voc_pseudo.py']

pretrained = 'checkpoints/resnet38d_ilsvrc.pth'
crop_size = (448, 448)
# requires_grad=False: the authors' optimiser holds no BN parameter; BN still uses and
# updates batch statistics in training (norm_eval=False).
norm_cfg = dict(type='BN', momentum=3e-4, requires_grad=False)

model = dict(
    pretrained=None,
    data_preprocessor=dict(size=crop_size),
    backbone=dict(
        _delete_=True,
        type='mmhfpl.ResNet38d',
        out_indices=(6, ),
        norm_cfg=norm_cfg,
        norm_eval=False,
        init_cfg=dict(type='Pretrained', checkpoint=pretrained)),
    decode_head=dict(
        _delete_=True,
        type='mmhfpl.DeepLabV1Head',
        in_channels=4096,
        channels=512,
        dilation=12,
        dropout_ratio=0.5,
        num_classes=21,
        norm_cfg=norm_cfg,
        align_corners=True,
        loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0,
                         avg_non_ignore=True)),
    auxiliary_head=None,
    test_cfg=dict(mode='whole'))

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='mmhfpl.RandomHSVShift', hue_delta=10, saturation_delta=10, value_delta=10),
    dict(type='RandomFlip', prob=0.5),
    dict(type='RandomResize', scale=(500, 500), ratio_range=(0.5, 1.5), keep_ratio=True,
         interpolation='bicubic'),
    dict(type='RandomCrop', crop_size=crop_size),
    dict(type='PackSegInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs'),
]
tta_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='TestTimeAug', transforms=[
        [dict(type='Resize', scale_factor=r, keep_ratio=True, interpolation='bicubic')
         for r in (0.5, 0.75, 1.0, 1.25, 1.5, 1.75)],
        [dict(type='RandomFlip', prob=0.0, direction='horizontal'),
         dict(type='RandomFlip', prob=1.0, direction='horizontal')],
        [dict(type='LoadAnnotations')],
        [dict(type='PackSegInputs')],
    ]),
]
tta_model = dict(type='mmhfpl.DenseCRFSegTTAModel', fuse='logits',
                 crf=dict(iterations=1, gaussian_sxy=3, gaussian_compat=3, bilateral_sxy=32,
                          bilateral_srgb=13, bilateral_compat=10))

train_dataloader = dict(batch_size=10, num_workers=4,
                        dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(batch_size=1, dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader

optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=1e-3, momentum=0.9, weight_decay=5e-4),
    paramwise_cfg=dict(custom_keys={
        'decode_head.conv_seg.bias': dict(lr_mult=20.0, decay_mult=0.0),
        'decode_head': dict(lr_mult=10.0),
    }))
param_scheduler = [
    dict(type='PolyLR', eta_min=0.0, power=0.9, begin=0, end=20000, by_epoch=False),
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=20000, val_interval=2000)
