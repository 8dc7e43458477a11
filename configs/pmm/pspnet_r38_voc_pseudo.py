# PMM stage 3 (Eli-YiLi/WSSS_MMSeg, configs/pspnet_wsss/pspnet_wres38-d8_*.py): PSPNet on the
# wide ResNet-38 ("WideRes38", the ResNet-38d of SEAM/AffinityNet, output stride 8) trained on
# PMM's proportional pseudo-masks with the pretended under-fitting loss (PUF, clamped cross
# entropy, beta = k = 0.5 on VOC) on both heads. Everything else is the data wiring, recipe and
# metric of deeplabv3plus_r101_voc_pseudo.py, which follows mmseg's VOC-aug 20k recipe as the
# authors' configs do (their _base_ is mmseg's pspnet_r50-d8_20k_voc12aug):
#   - PSPHead (pool scales 1, 2, 3, 6; 512 channels) on the 4096-channel features, FCN
#     auxiliary head (256 channels, loss weight 0.4) on the 1024-channel b5 features, as the
#     authors' wres38 config (in_channels 4096 / 1024);
#   - ImageNet ResNet-38d weights: the file SEAM/AffinityNet load, converted as
#     configs/_base_/models/seam_r38.py says, at checkpoints/resnet38d_ilsvrc.pth;
#   - 512x512 crops, batch 4 per GPU x 4 GPUs, SGD lr 0.01 poly, 20k iterations.
# PMM's cyclic pseudo-mask retrain is two runs of this config (README "PMM"): train on the
# proportional pseudo-masks, predict train_aug with the trained model (tools/test.py with
# --cfg-options test_dataloader.dataset.ann_file=ImageSets/Segmentation/train_aug.txt and
# test_evaluator.format_only=True output_dir=...), then train again on those predictions.
# Test as the authors' `aug_test` with crf=True: `tools/test.py ... --tta` (below). Their
# VOC configs also set slide inference; the crop and stride of those files are not in the
# public repository snapshot, so test_cfg stays mmseg's whole-image mode (docs/fidelity.md).
_base_ = ['../deeplab/deeplabv3plus_r101_voc_pseudo.py']

pretrained = 'checkpoints/resnet38d_ilsvrc.pth'
norm_cfg = dict(type='SyncBN', requires_grad=True)
puf = dict(type='mmhfpl.PretendedUnderFittingLoss', beta=0.5, k=0.5)

model = dict(
    pretrained=None,
    backbone=dict(
        _delete_=True,
        type='mmhfpl.ResNet38d',
        out_indices=(4, 6),
        norm_cfg=norm_cfg,
        init_cfg=dict(type='Pretrained', checkpoint=pretrained)),
    decode_head=dict(
        _delete_=True,
        type='PSPHead',
        in_channels=4096,
        in_index=1,
        channels=512,
        pool_scales=(1, 2, 3, 6),
        dropout_ratio=0.1,
        num_classes=21,
        norm_cfg=norm_cfg,
        align_corners=False,
        loss_decode=dict(**puf, loss_weight=1.0)),
    auxiliary_head=dict(
        in_channels=1024,
        in_index=0,
        channels=256,
        loss_decode=dict(_delete_=True, **puf, loss_weight=0.4)),
)

# PMM's test (`tools/test.py CONFIG CHECKPOINT --tta`): mmseg's VOC test-time augmentation
# (scales 0.5-1.75 and flips, from the base's tta_pipeline), the views' probabilities
# averaged and refined by PMM's dCRF (mmhfpl.PMM_TEST_CRF).
tta_model = dict(type='mmhfpl.DenseCRFSegTTAModel')
