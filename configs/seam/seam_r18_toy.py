# Toy counterpart of configs/seam/seam_r38_voc.py: SEAM on the toy set with the small CAM classifier
# of cam_r18_toy.py (ResNet-18, half width, output stride 8), trained from scratch on CPU.
# ResNet-18 outputs 1 (64 ch) and 2 (128 ch) feed the PCM, 3 (256 ch) the CAM; the SEAM
# losses keep the paper's settings (scale 0.3, ECR top 20%, min-pooling 1/4).
_base_ = ['../cam/cam_r18_toy.py']
model = dict(
    type='SEAM',
    backbone=dict(out_indices=(1, 2, 3)),
    head=dict(
        losses=[dict(type='GAPBCELoss', loss_weight=0.5)],
        init_cfg=dict(type='Xavier', layer='Conv2d', distribution='uniform'),
    ),
    pcm=dict(type='PixelCorrelationModule', in_channels=(64, 128), proj_channels=(64, 128),
             embed_channels=192),
    pcm_in_index=(0, 1),
    scale_factor=0.3,
    cam_dropout=0.5,
)
