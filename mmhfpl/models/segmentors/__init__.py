"""Segmentor wrappers for mmseg's stage 3."""

from .dense_crf_seg_tta_model import PMM_TEST_CRF, DenseCRFSegTTAModel

__all__ = ['DenseCRFSegTTAModel', 'PMM_TEST_CRF']
