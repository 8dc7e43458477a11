# SIPE + ISL/FSL on MS COCO 2014: the COCO recipe of sipe_r50_coco.py with the add-on of
# sipe_hfpl_r50_voc.py (ISL and FSL scaled by 0.1, FSL upsampled x2).
_base_ = ['./sipe_r50_coco.py']
model = dict(
    head=dict(losses=[
        dict(type='ImportanceSamplingLoss', num_samples=10, lambda_=0.02),
        dict(type='FeatureSimilarityLoss', gating='r', mu=2.5, sigma=5.0, upsample=2,
             loss_weight=0.1),
    ]))
