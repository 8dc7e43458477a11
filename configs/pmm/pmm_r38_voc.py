# PMM stage 1, multi-scale training (Eli-YiLi/PMM: run.py --train_multi_scale,
# pipeline/train_cam.py): SEAM's network and objective on ResNet-38 (seam_r38_voc.py: PCM,
# classification + ER + ECR + adaptive min-pooling, SEAM's augmentation, 448 crops, poly
# SGD, 8 epochs) with PMM's batch 24 and lr 0.02. Pseudo-masks: tools/generate_cams.py
# (SEAM's fusion; PMM's infer_multi_scale.py uses scales 0.5, 1, 1.5, 2 + flip) then
# tools/make_pseudo_labels.py --ppg-alpha 11 (CV smoothing + proportional pseudo-masks).
# PMM's second stage-1 network (ScaleNet-101 trained on heat-map-guided multi-crops):
# pmm_multicrop_scalenet101_voc.py, whose heat maps come from this network.
_base_ = '../seam/seam_r38_voc.py'
train_dataloader = dict(batch_size=24)
optim_wrapper = dict(optimizer=dict(lr=0.02))
auto_scale_lr = dict(base_batch_size=24, enable=False)
