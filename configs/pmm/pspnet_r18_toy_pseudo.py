# Toy counterpart of pspnet_r38_voc_pseudo.py: PMM's stage 3 (PSPNet with the pretended
# under-fitting loss on both heads) on the toy set, with everything else of the toy DeepLab
# config (deeplab/deeplabv3plus_r18_toy_pseudo.py: ResNet-18-V1c at half width and output
# stride 8 from scratch, 112 crops, AdamW, 1,200 iterations), so the two stage-3 models
# differ only in the head and the loss. PSPHead with 128 channels on the 14x14 features of a
# 112 crop (pool scales 1, 2, 3, 6 as PMM's).
_base_ = ['../deeplab/deeplabv3plus_r18_toy_pseudo.py']

puf = dict(type='mmhfpl.PretendedUnderFittingLoss', beta=0.5, k=0.5)

model = dict(
    decode_head=dict(
        _delete_=True,
        type='PSPHead',
        in_channels=256,
        in_index=3,
        channels=128,
        pool_scales=(1, 2, 3, 6),
        dropout_ratio=0.1,
        num_classes=7,
        norm_cfg=dict(type='BN', requires_grad=True),
        align_corners=False,
        loss_decode=dict(**puf, loss_weight=1.0)),
    auxiliary_head=dict(loss_decode=dict(_delete_=True, **puf, loss_weight=0.4)),
)

# PMM's test with `--tta`: the base's multi-scale + flip views, then PMM's dCRF with its
# spatial widths divided by 4 for the 128-pixel images (as every toy dCRF).
tta_model = dict(type='mmhfpl.DenseCRFSegTTAModel', crf=dict(scale_factor=4.0))
