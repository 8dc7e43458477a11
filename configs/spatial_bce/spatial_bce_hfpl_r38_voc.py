# Spatial-BCE + binomial ISL/FSL (seed 000 §5.1): the paper setting of
# spatial_bce_r38_voc.py with ISL (N = 10, lambda = 0.2) and FSL (r gating, mu = 2.5,
# sigma = 5) on the scaled class logits. For IRN refinement of these CAMs seed 000 keeps
# IRN's foreground/background seed thresholds 0.60/0.25 and sets the semantic segmentation
# (background) threshold to 0.30 with ISL and 0.40 with FSL (configs/refine/).
_base_ = './spatial_bce_r38_voc.py'
model = dict(
    head=dict(extra_losses=[
        dict(type='ImportanceSamplingLoss', num_samples=10, lambda_=0.2),
        dict(type='FeatureSimilarityLoss', gating='r', mu=2.5, sigma=5.0),
    ]))
