# SEAM + ISL/FSL on MS COCO 2014 (80 classes; train2014 for training, val2014 for the
# classification metrics): the VOC recipe of seam_hfpl_r38_voc.py (8 epochs, batch 8, 448 crops)
# with FSL scaled down by 0.2 (seed 000 §5.1). Needs the layout of README.md written by
# tools/dataset_converters/convert_coco_wsss.py.
_base_ = ['./seam_hfpl_r38_voc.py']
num_classes = 80
dataset_type = 'COCOWSSSDataset'
data_root = 'data/coco2014'

model = dict(
    data_preprocessor=dict(num_classes=num_classes),
    head=dict(num_classes=num_classes, losses=[
        dict(type='ImportanceSamplingLoss', num_samples=10, lambda_=0.2, loss_weight=0.5),
        dict(type='FeatureSimilarityLoss', gating='r', mu=2.5, sigma=5.0,
             with_background=True, loss_weight=0.2),
    ]),
)
train_dataloader = dict(dataset=dict(
    type=dataset_type, data_root=data_root, split='train2014',
    ann_file='ImageSets/train2014.txt'))
val_dataloader = dict(dataset=dict(
    type=dataset_type, data_root=data_root, split='val2014', ann_file='ImageSets/val2014.txt'))
test_dataloader = val_dataloader
