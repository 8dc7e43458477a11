# Toy counterpart of sipe_hfpl_r50_voc.py: + ISL and FSL scaled by 0.1 (seed 000 §5.1);
# FSL on the 14x14 CAMs of a 112 crop upsampled x2 (28x28).
_base_ = './sipe_r18_toy.py'
model = dict(
    head=dict(losses=[
        dict(type='ImportanceSamplingLoss', num_samples=10, lambda_=0.02),
        dict(type='FeatureSimilarityLoss', gating='r', mu=2.5, sigma=5.0, upsample=2,
             loss_weight=0.1),
    ]))
