"""SpatialBCEHead (seed 003 §3-4): per-pixel BCE with a learned threshold branch."""

import math

import pytest
import torch
from mmpretrain.structures import DataSample
from torch import nn

from mmhfpl.models.heads import SpatialBCEHead
from mmhfpl.models.heads.spatial_bce_head import FG_FRACTION_KEY
from mmhfpl.models.losses import tnt_kl_loss
from tests.test_models.test_losses.test_spatial_bce_loss import (
    _reference_prob,
    _reference_threshold,
    _reference_thresholds,
)

C = 3


def _samples(labels: torch.Tensor, q: torch.Tensor | None) -> list[DataSample]:
    samples = []
    for i in range(labels.shape[0]):
        sample = DataSample().set_gt_label(torch.where(labels[i] > 0)[0])
        if q is not None:
            sample.set_field(q[i], FG_FRACTION_KEY)
        samples.append(sample)
    return samples


def _setup(seed: int = 0, **head_kwargs):
    torch.manual_seed(seed)
    backbone = nn.Conv2d(3, 8, kernel_size=3, padding=1)
    head = SpatialBCEHead(num_classes=C, in_channels=8, **head_kwargs)
    head.init_weights()
    with torch.no_grad():
        head.log_logit_scale.copy_(torch.tensor([0.5, 1.0, 1.5]))
    images = torch.randn(2, 3, 5, 6)
    labels = torch.tensor([[1.0, 0.0, 1.0], [0.0, 1.0, 0.0]])
    q = torch.tensor([[0.3, 0.0, 0.55], [0.0, 0.2, 0.0]])
    return backbone, head, images, labels, q


def test_default_logit_scale_is_ln10_and_multiplies_by_ten():
    head = SpatialBCEHead(num_classes=C, in_channels=4)
    torch.testing.assert_close(head.log_logit_scale.detach(), torch.full((C, ), math.log(10.0)))
    torch.testing.assert_close(head.logit_scale().detach(), torch.full((C, ), 10.0))
    with pytest.raises(ValueError, match='phase'):
        head.phase = 'both'


@pytest.mark.parametrize('phase', ['prob', 'threshold'])
def test_head_loss_matches_the_direct_per_pixel_formulas(phase):
    backbone, head, images, labels, q = _setup(mid_channels=4)
    head.phase = phase
    feats = backbone(images)
    losses = head.loss(feats, _samples(labels, q))
    raw, threshold_maps = head(feats)
    logits = (raw * head.logit_scale()[None, :, None, None]).detach().double()
    if phase == 'prob':
        thresholds = _reference_thresholds(torch.sigmoid(logits), labels, q)
        expected = _reference_prob(logits, labels, thresholds)
    else:
        thresholds = torch.sigmoid(threshold_maps.detach().double().mean(dim=(2, 3)))
        expected = _reference_threshold(logits, labels, thresholds)
    assert float(losses['loss_sbce'].detach()) == pytest.approx(expected, rel=1e-5)
    assert float(losses['loss_tnt'].detach()) == pytest.approx(
        float(tnt_kl_loss(logits, labels, q)), rel=1e-5)


def _grads(head, backbone, losses, key):
    for module in (head, backbone):
        module.zero_grad(set_to_none=True)
    losses[key].backward(retain_graph=True)

    def norm(param):
        return 0.0 if param.grad is None else float(param.grad.abs().sum())
    return dict(cls=norm(head.conv_cls.weight), reduce=norm(head.reduce.weight),
                scale=norm(head.log_logit_scale), thr=norm(head.conv_threshold.weight),
                backbone=norm(backbone.weight))


def test_probability_phase_trains_probabilities_not_thresholds():
    backbone, head, images, labels, q = _setup(mid_channels=4)
    head.phase = 'prob'
    losses = head.loss(backbone(images), _samples(labels, q))
    sbce = _grads(head, backbone, losses, 'loss_sbce')
    assert sbce['thr'] == 0.0
    assert min(sbce['cls'], sbce['reduce'], sbce['scale'], sbce['backbone']) > 0


def test_threshold_phase_trains_thresholds_not_probabilities():
    backbone, head, images, labels, q = _setup(mid_channels=4)
    head.phase = 'threshold'
    losses = head.loss(backbone(images), _samples(labels, q))
    sbce = _grads(head, backbone, losses, 'loss_sbce')
    assert sbce['cls'] == sbce['reduce'] == sbce['scale'] == 0.0
    # The threshold branch reads the backbone features without a detach (authors' code).
    assert sbce['thr'] > 0 and sbce['backbone'] > 0
    # The T/NT KL trains the probabilities in both sub-phases and never the thresholds.
    tnt = _grads(head, backbone, losses, 'loss_tnt')
    assert tnt['thr'] == 0.0 and tnt['cls'] > 0 and tnt['scale'] > 0


def test_extra_losses_see_the_scaled_logits_and_the_images():
    seen = {}

    class Probe(nn.Module):
        loss_name = 'loss_probe'

        def forward(self, scores, labels, images):
            seen.update(scores=scores.detach(), images=images)
            return {'loss_probe': scores.mean()}

    backbone, head, images, labels, q = _setup()
    head.losses.append(Probe())
    feats = backbone(images)
    losses = head.loss(feats, _samples(labels, q), images=images)
    raw, _ = head(feats)
    torch.testing.assert_close(seen['scores'],
                               (raw * head.logit_scale()[None, :, None, None]).detach())
    assert seen['images'] is images and 'loss_probe' in losses


def test_missing_fractions_name_the_hook():
    backbone, head, images, labels, _ = _setup()
    with pytest.raises(KeyError, match='QUpdateHook'):
        head.loss(backbone(images), _samples(labels, None))


def test_predict_drops_the_logit_scale_and_maps_thresholds_to_unscaled_probabilities():
    backbone, head, images, labels, _ = _setup(mid_channels=4)
    feats = backbone(images)
    samples = head.predict(feats)
    raw, threshold_maps = head(feats)
    scale = head.logit_scale()
    for i, sample in enumerate(samples):
        torch.testing.assert_close(sample.cam, raw[i])  # logits; TTA averages them
        # A pixel passes the learned threshold in training (scaled) iff it passes the
        # reported one at inference (unscaled): sigmoid(k x) > sigmoid(a) <=> sigmoid(x) > t.
        a = threshold_maps[i].mean(dim=(1, 2))
        torch.testing.assert_close(sample.thresholds, torch.sigmoid(a / scale))
        trained = torch.sigmoid(raw[i] * scale[:, None, None]) > torch.sigmoid(a)[:, None, None]
        inferred = torch.sigmoid(sample.cam) > sample.thresholds[:, None, None]
        assert torch.equal(trained, inferred)
        torch.testing.assert_close(sample.pred_score, torch.sigmoid(raw[i]).amax(dim=(1, 2)))


def test_duplicate_loss_names_are_refused():
    backbone, head, images, labels, q = _setup()

    class SameName(nn.Module):
        def forward(self, scores, labels, images):
            return {'loss_tnt': scores.mean()}

    head.losses.append(SameName())
    with pytest.raises(KeyError, match='loss_tnt'):
        head.loss(backbone(images), _samples(labels, q), images=images)
