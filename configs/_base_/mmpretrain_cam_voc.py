# Stage-1 CAM training on PASCAL VOC 2012 train_aug (data, IRN's schedule, mmhfpl's runtime)
# for a stock mmpretrain classifier model. With this file and the model file of any
# mmpretrain classifier as the only bases, six lines make a CAM model with the ISL/FSL add-on
# (README, "Adding ISL/FSL to an existing config"):
#
#   _base_ = ['mmpretrain::_base_/models/resnet50.py', 'mmhfpl::_base_/mmpretrain_cam_voc.py']
#   model = dict(type='mmhfpl.CAMClassifier', neck=None, head=dict(
#       _delete_=True, type='mmhfpl.CAMHead', num_classes=20, in_channels=2048,
#       losses=[dict(type='mmhfpl.ImportanceSamplingLoss', num_samples=10, lambda_=0.2),
#               dict(type='mmhfpl.FeatureSimilarityLoss')]))
#
# mmpretrain is the default scope, so the stock model's unprefixed types (ImageClassifier's
# backbone, ...) resolve; mmhfpl's dataset carries its prefix here. The stock ResNet-50 runs
# at output stride 32; IRN's CAM network uses 16: add
# backbone=dict(strides=(1, 2, 2, 1), dilations=(1, 1, 1, 2)) to the model.
_base_ = ['./datasets/voc_cls.py', './schedules/cam_5ep.py', './default_runtime.py']
default_scope = 'mmpretrain'
train_dataloader = dict(dataset=dict(type='mmhfpl.VOCWSSSDataset'))
val_dataloader = dict(dataset=dict(type='mmhfpl.VOCWSSSDataset'))
test_dataloader = val_dataloader
