# SIPE + binomial ISL and FSL (seed 000 §5.1): both scaled down by 0.1 because SIPE trains
# with a higher learning rate; FSL on the 32x32 CAMs of a 512 crop upsampled x2 (64x64).
# "ISL scaled by 0.1" is read as 0.1 x the change Eq. 16 makes to the classification loss
# (lambda 0.2 -> 0.02: 0.98 L_ce + 0.02 L_is); the authors' SIPE code with ISL/FSL is not
# public (docs/fidelity.md).
_base_ = './sipe_r50_voc.py'
model = dict(
    head=dict(losses=[
        dict(type='ImportanceSamplingLoss', num_samples=10, lambda_=0.02),
        dict(type='FeatureSimilarityLoss', gating='r', mu=2.5, sigma=5.0, upsample=2,
             loss_weight=0.1),
    ]))
