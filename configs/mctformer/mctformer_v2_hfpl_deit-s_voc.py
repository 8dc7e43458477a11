# MCTformer-V2 + binomial ISL and FSL (seed 000 §5.1): both scaled down by 0.1 because
# MCTformer trains with AdamW; FSL on the 14x14 patch CAMs upsampled x4 (56x56, SEAM's
# size). "ISL x 0.1" as for SIPE (docs/fidelity.md row 15): lambda 0.2 -> 0.02 in Eq. 16.
# The add-on acts on the patch CAM through the head's loss list: no model change.
_base_ = './mctformer_v2_deit-s_voc.py'
model = dict(
    head=dict(losses=[
        dict(type='ImportanceSamplingLoss', num_samples=10, lambda_=0.02),
        dict(type='FeatureSimilarityLoss', gating='r', mu=2.5, sigma=5.0, upsample=4,
             loss_weight=0.1),
    ]))
