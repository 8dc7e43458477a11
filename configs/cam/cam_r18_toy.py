# Toy counterpart of cam_r50_voc.py: CAM baseline on the toy set, CPU, a few minutes.
_base_ = [
    '../_base_/default_runtime.py',
    '../_base_/models/cam_r18_toy.py',
    '../_base_/datasets/toy_voc_cls.py',
    '../_base_/schedules/toy_iter300.py',
]
