# Toy counterpart of mctformer_v2_deit-s_voc.py: MCTformer-V2 on the toy set, CPU, minutes.
# A small ViT (96 dims, 6 layers, 3 heads, patch 8) with 6 class tokens, trained from
# scratch (the toy has no ImageNet weights): 112 crops give a 14x14 patch grid as DeiT-S at
# 224 does; the toy schedule (AdamW, 300 iterations) and the toy CAM pipeline. CAMs as the
# authors': class attention of the last 3 layers x ReLU(patch CAM), refined by the patch
# attention of all layers, one scale + flip, min-max normalised.
_base_ = [
    '../_base_/default_runtime.py',
    '../_base_/models/mctformer_v2_deit-s.py',
    '../_base_/datasets/toy_voc_cls.py',
    '../_base_/schedules/toy_iter300.py',
]
num_classes = 6
model = dict(
    data_preprocessor=dict(num_classes=num_classes),
    backbone=dict(
        num_class_tokens=num_classes,
        arch=dict(_delete_=True, embed_dims=96, num_layers=6, num_heads=3,
                  feedforward_channels=384),
        img_size=112,
        patch_size=8,
        drop_path_rate=0.1,
        init_cfg=None,
    ),
    head=dict(num_classes=num_classes, in_channels=96),
)
