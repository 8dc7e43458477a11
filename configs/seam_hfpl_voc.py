# Short name of configs/seam/seam_hfpl_r38_voc.py (SEAM + ISL/FSL on VOC, seed 000's
# flagship setting): `python tools/train.py configs/seam_hfpl_voc.py`.
_base_ = ['./seam/seam_hfpl_r38_voc.py']
