# Short name of configs/seam/seam_r38_voc.py (SEAM on VOC, the authors' recipe).
_base_ = ['./seam/seam_r38_voc.py']
