# Toy counterpart of configs/seam/seam_hfpl_r38_voc.py: + binomial ISL (N = 10, lambda = 0.2)
# and FSL (r gating with the background map appended). The OS8 CAM of a 112 crop is 14x14; FSL runs
# on it upsampled x2 (28x28), as in cam_hfpl_r18_toy.py.
_base_ = ['./seam_r18_toy.py']
model = dict(head=dict(losses=[
    dict(type='ImportanceSamplingLoss', num_samples=10, lambda_=0.2, loss_weight=0.5),
    dict(type='FeatureSimilarityLoss', gating='r', mu=2.5, sigma=5.0, upsample=2,
         with_background=True, loss_weight=1.0),
]))
