# CAM baseline + binomial ISL and FSL (seed 000, paper defaults): ISL with N = 10 draws
# and lambda = 0.2 replaces the GAP BCE term by Eq. 16; FSL gates the max-normalised CAM
# r (absent classes masked) with mu = 2.5, sigma = 5 fixed. The OS16 CAM of a 512 crop
# is 32x32; it is upsampled x2 for FSL (as the paper does for SIPE's 32x32 CAMs).
_base_ = './cam_r50_voc.py'
model = dict(
    head=dict(losses=[
        dict(type='ImportanceSamplingLoss', num_samples=10, lambda_=0.2),
        dict(type='FeatureSimilarityLoss', gating='r', mu=2.5, sigma=5.0, upsample=2),
    ]))
