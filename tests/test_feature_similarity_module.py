"""FeatureSimilarityLoss: gating inputs, class masking, image handling (seed 000 §4.3)."""

import pytest
import torch
import torch.nn.functional as F

from mmhfpl.models.losses import FeatureSimilarityLoss, feature_similarity_loss
from mmhfpl.models.losses.cam_posteriors import max_normalize, multinomial_posterior


@pytest.fixture
def batch():
    torch.manual_seed(0)
    scores = torch.randn(2, 3, 6, 7)
    labels = torch.tensor([[1.0, 0.0, 1.0], [0.0, 1.0, 0.0]])
    rgb = torch.rand(2, 3, 12, 14)
    images = rgb  # what the classifier hands to its losses (CAMClassifier.input_images)
    return scores, labels, rgb, images


def authors_max_norm(scores: torch.Tensor, e: float = 1e-5) -> torch.Tensor:
    """The authors' ``max_norm`` (train_cam_voc.py), map by map: ReLU, then min-max."""
    out = torch.zeros_like(scores)
    for b in range(scores.shape[0]):
        for c in range(scores.shape[1]):
            p = scores[b, c].clamp(min=0)
            out[b, c] = (p - p.min() - e).clamp(min=0) / (p.max() - p.min() + e)
    return out


def test_rgb_images_undo_normalisation_and_resize_as_the_authors(batch):
    _, _, rgb, images = batch
    module = FeatureSimilarityLoss()
    torch.testing.assert_close(module.rgb_images(images, (12, 14)), rgb)
    # train_cam_voc.py: F.interpolate(img, (h, w), mode='bilinear', align_corners=True),
    # then the normalisation undone (both linear, so the order does not matter).
    small = module.rgb_images(images, (6, 7))
    torch.testing.assert_close(small, F.interpolate(rgb, size=(6, 7), mode='bilinear',
                                                    align_corners=True))
    smooth = FeatureSimilarityLoss(align_corners=False, antialias=True).rgb_images(
        images, (6, 7))
    torch.testing.assert_close(smooth, F.interpolate(rgb, size=(6, 7), mode='bilinear',
                                                     antialias=True, align_corners=False))
    assert (smooth - small).abs().max() > 0.01


def test_r_gating_is_the_authors_min_max_by_default_and_eq4_on_request(batch):
    scores, labels, _, _ = batch
    shifted = scores + 3.0  # every map's minimum is above 0: min-max and Eq. 4 differ
    default = FeatureSimilarityLoss().gating_maps(shifted, labels)
    torch.testing.assert_close(default, authors_max_norm(shifted) * labels[..., None, None])
    eq4 = FeatureSimilarityLoss(normalize='max').gating_maps(shifted, labels)
    torch.testing.assert_close(eq4, max_normalize(shifted) * labels[..., None, None])
    assert (default - eq4).abs().max() > 0.1
    # Where a map reaches 0 (the usual case after the ReLU) the two agree up to eps.
    torch.testing.assert_close(FeatureSimilarityLoss().gating_maps(scores, labels),
                               FeatureSimilarityLoss(normalize='max').gating_maps(
                                   scores, labels), atol=2e-5, rtol=0)
    with pytest.raises(ValueError, match='normalize'):
        FeatureSimilarityLoss(normalize='softmax')


@pytest.mark.parametrize('gating', ['r', 'b', 's'])
def test_value_is_the_core_on_masked_gating_maps(batch, gating):
    scores, labels, rgb, images = batch
    module = FeatureSimilarityLoss(gating=gating, loss_weight=0.5)
    maps = {'r': authors_max_norm, 'b': torch.sigmoid, 's': lambda s: s}[gating](scores)
    maps = maps * labels[..., None, None]
    expected = feature_similarity_loss(maps, module.rgb_images(images, (6, 7)))
    torch.testing.assert_close(module(scores, labels, images)['loss_fsl'], 0.5 * expected)


def test_absent_classes_get_no_gradient(batch):
    scores, labels, _, images = batch
    leaf = scores.clone().requires_grad_()
    FeatureSimilarityLoss()(leaf, labels, images)['loss_fsl'].backward()
    absent = labels == 0
    assert leaf.grad[absent].abs().max() == 0
    assert leaf.grad[~absent].abs().max() > 0


def test_background_map_and_multinomial_gating(batch):
    scores, labels, _, _ = batch
    with_bg = FeatureSimilarityLoss(with_background=True).gating_maps(scores, labels)
    r = authors_max_norm(scores) * labels[..., None, None]
    assert with_bg.shape == (2, 4, 6, 7)
    torch.testing.assert_close(with_bg[:, 3], 1 - r.amax(dim=1))
    multi = FeatureSimilarityLoss(gating='multinomial').gating_maps(scores, labels)
    torch.testing.assert_close(multi, multinomial_posterior(scores))
    masked = FeatureSimilarityLoss(gating='multinomial', mask_absent=True).gating_maps(
        scores, labels)
    assert masked[0, 2].abs().max() == 0 and masked[0, 0].abs().max() > 0


def test_upsampling_factor(batch):
    scores, labels, _, images = batch
    module = FeatureSimilarityLoss(upsample=2)
    up = F.interpolate(scores, scale_factor=2, mode='bilinear', align_corners=False)
    maps = authors_max_norm(up) * labels[..., None, None]
    expected = feature_similarity_loss(maps, module.rgb_images(images, (12, 14)))
    torch.testing.assert_close(module(scores, labels, images)['loss_fsl'], expected)


def test_finite_for_constant_images_zero_cams_absent_classes_and_half_precision(batch):
    scores, labels, _, images = batch
    module = FeatureSimilarityLoss(with_background=True)
    cases = [
        (scores, labels, torch.zeros_like(images)),               # constant image: delta = 0
        (torch.zeros_like(scores), labels, images),                # all-zero CAMs
        (scores, torch.zeros_like(labels), images),                # every class absent
    ]
    for case_scores, case_labels, case_images in cases:
        leaf = case_scores.clone().requires_grad_()
        value = module(leaf, case_labels, case_images)['loss_fsl']
        value.backward()
        assert torch.isfinite(value) and torch.isfinite(leaf.grad).all()
    for dtype in (torch.float16, torch.bfloat16):
        leaf = scores.to(dtype).requires_grad_()
        with torch.autocast('cpu', dtype=torch.bfloat16):
            value = module(leaf, labels, images.to(dtype))['loss_fsl']
        value.backward()
        assert torch.isfinite(value) and torch.isfinite(leaf.grad).all()


def test_bad_configuration_and_missing_images(batch):
    scores, labels, _, _ = batch
    with pytest.raises(ValueError, match='gating'):
        FeatureSimilarityLoss(gating='softmax')
    with pytest.raises(ValueError, match='upsample'):
        FeatureSimilarityLoss(upsample=1.5)
    with pytest.raises(ValueError, match='with_background'):
        FeatureSimilarityLoss(gating='s', with_background=True)
    with pytest.raises(ValueError, match='needs the input images'):
        FeatureSimilarityLoss()(scores, labels)


def test_option_typos_and_mmseg_decode_heads_fail_early_with_a_clear_message(batch):
    with pytest.raises(TypeError, match=r"unknown options \['sigmma'\].*sigma"):
        FeatureSimilarityLoss(sigmma=3.0)
    scores, labels, _, _ = batch
    # mmseg's decode head calls loss_decode(seg_logits, seg_label, weight=..., ignore_index=...)
    with pytest.raises(TypeError, match='loss of a CAM head.*decode head'):
        FeatureSimilarityLoss()(scores, labels, weight=None, ignore_index=255)
    assert FeatureSimilarityLoss(block_size=64, window=20).fsl_options == dict(block_size=64,
                                                                               window=20)
