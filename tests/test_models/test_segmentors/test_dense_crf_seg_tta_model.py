"""DenseCRFSegTTAModel: mmseg's TTA averaging followed by PMM's test dCRF."""

from dataclasses import asdict

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.model import revert_sync_batchnorm
from mmengine.registry import DefaultScope
from mmengine.structures import PixelData
from PIL import Image

from mmhfpl.models.segmentors import PMM_TEST_CRF, DenseCRFSegTTAModel
from mmhfpl.pseudo_labels.crf import CRFConfig, dense_crf
from tests.conftest import REPO


@pytest.fixture
def views(tmp_path):
    """Two views (logits at the original size) of one 24 x 32 image: left half red, right
    half blue; the logits favour class 1 on the left and class 2 on the right, weakly."""
    from mmseg.structures import SegDataSample

    image = np.zeros((24, 32, 3), np.uint8)
    image[:, :16, 0] = 220
    image[:, 16:, 2] = 220
    path = tmp_path / 'image.png'
    Image.fromarray(image).save(path)
    generator = torch.Generator().manual_seed(0)
    samples = []
    for _ in range(2):
        logits = torch.randn(3, 24, 32, generator=generator)
        logits[1, :, :16] += 1.0
        logits[2, :, 16:] += 1.0
        sample = SegDataSample(seg_logits=PixelData(data=logits),
                               gt_sem_seg=PixelData(data=torch.zeros(1, 24, 32).long()))
        sample.set_metainfo(dict(img_path=str(path), ori_shape=(24, 32)))
        samples.append(sample)
    return image, samples


def _model(**kwargs) -> DenseCRFSegTTAModel:
    """The TTA model around the (untrained) toy PSPNet of PMM."""
    from mmseg.registry import MODELS

    with DefaultScope.overwrite_default_scope('mmseg'):
        cfg = Config.fromfile(str(REPO / 'configs/pmm/pspnet_r18_toy_pseudo.py'))
        return DenseCRFSegTTAModel(module=revert_sync_batchnorm(MODELS.build(cfg.model)),
                                   **kwargs)


def test_averages_the_views_then_refines_with_pmms_dcrf(views):
    image, samples = views
    mean = torch.stack([s.seg_logits.data.softmax(dim=0) for s in samples]).mean(dim=0)
    expected = dense_crf(image, mean.numpy(), **PMM_TEST_CRF).argmax(axis=0)
    merged = _model().merge_preds([samples])[0]
    np.testing.assert_array_equal(merged.pred_sem_seg.data[0].numpy(), expected)
    assert merged.img_path.endswith('image.png') and 'gt_sem_seg' in merged
    # The dCRF cleans the noisy argmax of the average along the colour edge.
    noisy = mean.argmax(dim=0).numpy()
    ideal = np.where(np.arange(32) < 16, 1, 2)[None].repeat(24, axis=0)
    assert (expected == ideal).mean() > (noisy == ideal).mean()


def test_without_iterations_it_is_mmsegs_tta(views):
    from mmseg.models.segmentors import SegTTAModel

    _, samples = views
    ours = _model(crf=dict(iterations=0)).merge_preds([samples])[0].pred_sem_seg.data[0]
    module = _model().module
    theirs = SegTTAModel(module=module).merge_preds([samples])[0].pred_sem_seg.data
    torch.testing.assert_close(ours, theirs.reshape(ours.shape))


def test_crf_overrides_and_errors(views):
    model = _model(crf=dict(scale_factor=4.0))
    assert asdict(model.crf) == asdict(CRFConfig(**{**PMM_TEST_CRF, 'scale_factor': 4.0}))
    with pytest.raises(TypeError):
        _model(crf=dict(sxy=3))
    _, samples = views
    for sample in samples:
        sample.seg_logits = PixelData(data=sample.seg_logits.data[:, :20])
    with pytest.raises(ValueError, match=r'image\.png: image size \(24, 32\) differs'):
        model.merge_preds([samples])


def test_logit_fusion_averages_logits_before_one_softmax(views):
    """``fuse='logits'``: seed 000's ``eval_final_voc.py`` (mean of the views' logits, one
    softmax, then its dCRF)."""
    image, samples = views
    samples[0].seg_logits = PixelData(data=samples[0].seg_logits.data * 4)  # views disagree
    crf = dict(iterations=1, gaussian_sxy=3, gaussian_compat=3, bilateral_sxy=32,
               bilateral_srgb=13, bilateral_compat=10)
    logits = torch.stack([s.seg_logits.data for s in samples])
    expected = {}
    for fuse, probs in (('logits', logits.mean(dim=0).softmax(dim=0)),
                        ('probs', logits.softmax(dim=1).mean(dim=0))):
        expected[fuse] = dense_crf(image, probs.numpy(), **crf).argmax(axis=0)
        merged = _model(crf=crf, fuse=fuse).merge_preds([samples])[0]
        np.testing.assert_array_equal(merged.pred_sem_seg.data[0].numpy(), expected[fuse])
    assert (expected['logits'] != expected['probs']).any()  # the two rules differ here
    with pytest.raises(ValueError, match="fuse must be 'probs' or 'logits'"):
        _model(fuse='mean')
