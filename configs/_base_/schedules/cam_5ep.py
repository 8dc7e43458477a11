# IRN's train_cam schedule: 5 epochs, SGD, poly decay (power 0.9), lr 0.1 for the
# backbone and 10x for the newly added CAM classifier, weight decay 1e-4. IRN's
# PolyOptimizer hands weight_decay to SGD's positional momentum slot (and sets weight
# decay per parameter group), so its effective momentum is ~0; momentum=0 reproduces it.
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.1, momentum=0.0, weight_decay=1e-4),
    paramwise_cfg=dict(custom_keys={'head': dict(lr_mult=10.0)}),
)
param_scheduler = [
    dict(type='PolyLR', power=0.9, eta_min=0.0, by_epoch=True, begin=0, end=5,
         convert_to_iter_based=True),
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=5, val_interval=5)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
# Learning rates assume a total batch of 16 (e.g. 4 GPUs x 4 or 1 GPU x 16).
auto_scale_lr = dict(base_batch_size=16, enable=False)
