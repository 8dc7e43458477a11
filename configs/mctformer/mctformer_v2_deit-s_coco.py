# MCTformer-V2 on MS COCO 2014 (80 class tokens), as the authors' run_coco.sh: the VOC
# recipe of mctformer_v2_deit-s_voc.py. Weights: convert_deit_class_tokens.py
# --num-classes 80 -> checkpoints/deit-s_80cls.pth.
_base_ = ['./mctformer_v2_deit-s_voc.py']
num_classes = 80
dataset_type = 'COCOWSSSDataset'
data_root = 'data/coco2014'
model = dict(
    data_preprocessor=dict(num_classes=num_classes),
    backbone=dict(num_class_tokens=num_classes,
                  init_cfg=dict(checkpoint='checkpoints/deit-s_80cls.pth')),
    head=dict(num_classes=num_classes))
train_dataloader = dict(dataset=dict(
    type=dataset_type, data_root=data_root, split='train2014',
    ann_file='ImageSets/train2014.txt'))
val_dataloader = dict(dataset=dict(
    type=dataset_type, data_root=data_root, split='val2014', ann_file='ImageSets/val2014.txt'))
test_dataloader = val_dataloader
