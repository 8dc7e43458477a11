# MCTformer-V2 + ISL/FSL on MS COCO 2014: the COCO recipe with the add-on of
# mctformer_v2_hfpl_deit-s_voc.py (ISL and FSL x 0.1, FSL upsampled x4).
_base_ = ['./mctformer_v2_deit-s_coco.py']
model = dict(
    head=dict(losses=[
        dict(type='ImportanceSamplingLoss', num_samples=10, lambda_=0.02),
        dict(type='FeatureSimilarityLoss', gating='r', mu=2.5, sigma=5.0, upsample=4,
             loss_weight=0.1),
    ]))
