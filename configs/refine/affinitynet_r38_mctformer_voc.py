# AffinityNet on MCTformer-V2's CAMs (configs/mctformer/mctformer_v2_deit-s_voc.py), as the
# authors' run_psa.sh with their copy of PSA (psa/train_aff.py, psa/infer_aff.py):
#   - seeds: background powers 1 and 12 with AffinityNet's dCRF (--out-crf alphas 1 / 12);
#   - training: SGD lr 0.01 with poly decay, 5 epochs, batch 8, 448 crops, weight decay
#     5e-4 (their train_aff.py defaults; SEAM's AffinityNet trains 8 epochs at 0.1);
#   - inference: random walk with beta 8 over 2^6 steps and a constant background 0.39
#     walked with the classes (their infer_aff.py), instead of (1 - max CAM)^alpha.
# Everything else is affinitynet_r38_voc.py (ResNet38d from ImageNet weights).
_base_ = ['./affinitynet_r38_voc.py']

cam_dir = 'work_dirs/cams/mctformer_voc_train_aug'
seed_cache_dir = 'work_dirs/seeds/affinitynet_mctformer_voc_train_aug'  # one per CAM dir
crop_size = 448

model = dict(test_cfg=dict(beta=8.0, logt=6, bg_threshold=0.39))
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadCAMFromFile', cam_dir=cam_dir),
    dict(type='AlphaSeedLabels', alpha_low=1, alpha_high=12, crf=True,
         cache_dir=seed_cache_dir),
    dict(type='ColorJitter', brightness=0.3, contrast=0.3, saturation=0.3, hue=0.1),
    dict(type='mmseg.RandomCrop', crop_size=(crop_size, crop_size)),
    dict(type='Pad', size=(crop_size, crop_size), pad_val=dict(img={{_base_.mean_bgr}}, seg=255)),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PairwiseAffinityLabels', radius={{_base_.radius}}, stride={{_base_.stride}}),
    dict(type='PackAffinityInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadCAMFromFile', cam_dir=cam_dir),
    dict(type='mmseg.LoadAnnotations'),
    dict(type='PackAffinityInputs'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
test_dataloader = dict(dataset=dict(pipeline=test_pipeline))
optim_wrapper = dict(optimizer=dict(lr=0.01))
param_scheduler = [
    dict(type='PolyLR', power=0.9, eta_min=0.0, by_epoch=True, begin=0, end=5,
         convert_to_iter_based=True),
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=5)
