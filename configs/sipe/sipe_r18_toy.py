# Toy counterpart of sipe_r50_voc.py: SIPE on the toy set, CPU, a few minutes. The toy
# CAM baseline's ResNet-18 (half width, output stride 8) returns every stage for the side
# convolutions (32/64/128/256 -> 32/32/64/64 channels). Trained from scratch like the other
# toy models, so no stage is frozen (SIPE freezes stages 1-2 of an ImageNet network); the
# toy schedule (AdamW) with SIPE's gradient clipping; 112 crops of 128 px images need no
# padding, so no valid mask.
_base_ = [
    '../_base_/default_runtime.py',
    '../_base_/models/cam_r18_toy.py',
    '../_base_/datasets/toy_voc_cls.py',
    '../_base_/schedules/toy_iter300.py',
]
model = dict(
    type='SIPE',
    backbone=dict(out_indices=(0, 1, 2, 3)),
    prototypes=dict(type='ImageSpecificPrototypes', in_channels=(32, 64, 128, 256),
                    out_channels=(32, 32, 64, 64), bg_weight=0.5),
    gsc_loss=dict(type='GeneralSpecificConsistencyLoss', loss_weight=1.0),
)
optim_wrapper = dict(clip_grad=dict(max_norm=1.0))
