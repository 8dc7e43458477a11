# PMM stage 1 + ISL/FSL: seed 000 §5.1 applies ISL during PMM's multi-scale training (this
# stage) and FSL during both stages; here with SEAM + ISL/FSL's settings
# (seam_hfpl_r38_voc.py: ISL N = 10, lambda 0.2 inside SEAM's classification loss, FSL with
# background) and PMM's batch 24 and lr 0.02.
_base_ = '../seam/seam_hfpl_r38_voc.py'
train_dataloader = dict(batch_size=24)
optim_wrapper = dict(optimizer=dict(lr=0.02))
auto_scale_lr = dict(base_batch_size=24, enable=False)
