# MCTformer-V2 (xulianuwa/MCTformer, models.py before MCTformer+): DeiT-S (patch 16, 384
# dims, 12 layers, 6 heads) with 20 class tokens, drop path 0.1, no final LayerNorm; a 3x3
# convolution with bias on the patch tokens gives the patch CAM, pooled by GAP. Losses: the
# multi-label soft margin (= GAPBCELoss) on the class-token logits (each token's mean) and on
# the pooled patch CAM. Weights: the official DeiT-S ImageNet checkpoint
# deit_small_patch16_224-cd65a155.pth converted with
#   python tools/model_converters/convert_deit_class_tokens.py \
#       deit_small_patch16_224-cd65a155.pth checkpoints/deit-s_20cls.pth --num-classes 20
# (class token and its position embedding tiled 20 times, as the authors' --finetune).
# The head keeps PyTorch's default weight initialisation as the authors' (timm's
# _init_weights leaves Conv2d alone); its bias starts at 0 here (PyTorch: uniform).
pretrained = 'checkpoints/deit-s_20cls.pth'
num_classes = 20
model = dict(
    type='MCTformer',
    data_preprocessor=dict(
        type='mmpretrain.ClsDataPreprocessor',
        num_classes=num_classes,
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        to_rgb=True,
    ),
    backbone=dict(
        type='ClassTokenViT',
        num_class_tokens=num_classes,
        arch='deit-small',
        img_size=224,
        patch_size=16,
        drop_rate=0.0,
        drop_path_rate=0.1,
        init_cfg=dict(type='Pretrained', checkpoint=pretrained, prefix='backbone.'),
    ),
    head=dict(
        type='CAMHead',
        num_classes=num_classes,
        in_channels=384,
        kernel_size=3,
        bias=True,
        losses=[dict(type='GAPBCELoss')],
        init_cfg=dict(type='Kaiming', layer='Conv2d', a=2.23606797749979, mode='fan_in',
                      nonlinearity='leaky_relu', distribution='uniform'),
    ),
    token_loss=dict(type='GAPBCELoss', loss_name='loss_cls_token'),
    # CAMs: class attention of the last 3 layers x ReLU(patch CAM), refined by the
    # patch-to-patch attention of all layers (run_psa.sh: --layer-index 3
    # --attention-type fused --patch-attn-refine).
    test_cfg=dict(cam_layers=3, refine=True),
)
