# Toy counterpart of mctformer_v2_hfpl_deit-s_voc.py: + ISL and FSL scaled by 0.1; FSL on
# the 14x14 patch CAMs of a 112 crop upsampled x4 (56x56).
_base_ = './mctformer_v2_vit-t_toy.py'
model = dict(
    head=dict(losses=[
        dict(type='ImportanceSamplingLoss', num_samples=10, lambda_=0.02),
        dict(type='FeatureSimilarityLoss', gating='r', mu=2.5, sigma=5.0, upsample=4,
             loss_weight=0.1),
    ]))
