# SEAM + binomial ISL and FSL (seed 000, paper settings for SEAM): ISL with N = 10 draws and
# lambda = 0.2 replaces the GAP BCE of the full-resolution branch by Eq. 16 (keeping SEAM's
# factor 1/2 of that branch's classification loss); FSL (r gating, absent classes masked,
# background map 1 - max_c r_c appended, mu = 2.5, sigma = 5) on the 56x56 CAM of that
# branch with weight 1, as the authors' SEAM code does.
_base_ = ['./seam_r38_voc.py']
model = dict(head=dict(losses=[
    dict(type='ImportanceSamplingLoss', num_samples=10, lambda_=0.2, loss_weight=0.5),
    dict(type='FeatureSimilarityLoss', gating='r', mu=2.5, sigma=5.0, with_background=True,
         loss_weight=1.0),
]))
