# SIPE on MS COCO 2014 (80 classes; train2014 for training, val2014 for the classification
# metrics), as the authors' run_coco.sh: the VOC recipe of sipe_r50_voc.py; on COCO the
# authors refine with dCRF instead of IRN (make_pseudo_labels.py --bg-scale 1 --crf). Needs
# the layout of README.md written by tools/dataset_converters/convert_coco_wsss.py.
_base_ = ['./sipe_r50_voc.py']
num_classes = 80
dataset_type = 'COCOWSSSDataset'
data_root = 'data/coco2014'
model = dict(data_preprocessor=dict(num_classes=num_classes),
             head=dict(num_classes=num_classes))
train_dataloader = dict(dataset=dict(
    type=dataset_type, data_root=data_root, split='train2014',
    ann_file='ImageSets/train2014.txt'))
val_dataloader = dict(dataset=dict(
    type=dataset_type, data_root=data_root, split='val2014', ann_file='ImageSets/val2014.txt'))
test_dataloader = val_dataloader
