# Toy counterpart of cam_hfpl_r50_voc.py: + binomial ISL (N = 10, lambda = 0.2) and FSL
# (r gating, mu = 2.5, sigma = 5). The OS8 CAM of a 112 crop is 14x14; FSL runs on it
# upsampled x2 (28x28).
_base_ = './cam_r18_toy.py'
model = dict(
    head=dict(losses=[
        dict(type='ImportanceSamplingLoss', num_samples=10, lambda_=0.2),
        dict(type='FeatureSimilarityLoss', gating='r', mu=2.5, sigma=5.0, upsample=2),
    ]))
