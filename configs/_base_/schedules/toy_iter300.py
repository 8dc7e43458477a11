# Short CPU schedule for the toy benchmark.
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=1e-3, weight_decay=1e-4),
)
param_scheduler = [dict(type='PolyLR', power=0.9, eta_min=1e-5, by_epoch=False, end=300)]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=300, val_interval=100)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
