# Toy counterpart of spatial_bce_hfpl_r38_voc.py: + 0.2 x binomial ISL and FSL (FSL on the OS8
# logits of the 112 crops upsampled x2, as cam/cam_hfpl_r18_toy.py).
_base_ = './spatial_bce_r18_toy.py'
model = dict(
    head=dict(extra_losses=[
        dict(type='ImportanceSamplingLoss', num_samples=10, lambda_=1.0, loss_weight=0.2),
        dict(type='FeatureSimilarityLoss', gating='r', mu=2.5, sigma=5.0, upsample=2),
    ]))
