"""Spatial-BCE (seed 003 Eq. 1-5), adaptive thresholds (Alg. 1) and the T/NT KL (Eq. 6-8)."""

import math

import pytest
import torch

from mmhfpl.models.losses.spatial_bce_loss import (
    NEGATIVE_THRESHOLD,
    SpatialBCELoss,
    select_thresholds,
    spatial_bce_loss,
)
from mmhfpl.models.losses.tnt_kl_loss import TNTProportionKLLoss, tnt_kl_loss
from mmhfpl.registry import MODELS


def _r(p: float, t: float) -> float:
    """R(p) of Eq. 3-5 for one pixel."""
    if p <= t:
        return 1 - (p - t) ** 2 / t**2
    return 1 - (p - t) ** 2 / (1 - t) ** 2


def _pixels(logits, labels, thresholds):
    """(y, p, t) per entry, straight from the tensors."""
    bsz, classes, height, width = logits.shape
    for b in range(bsz):
        for c in range(classes):
            for i in range(height):
                for j in range(width):
                    p = 1 / (1 + math.exp(-float(logits[b, c, i, j])))
                    yield float(labels[b, c]), p, float(thresholds[b, c])


def _reference_prob(logits, labels, thresholds):
    terms = [y * _r(p, t) + (1 - y) * -math.log(1 - p)
             for y, p, t in _pixels(logits, labels, thresholds)]
    return sum(terms) / len(terms)


def _reference_threshold(logits, labels, thresholds):
    low = [_r(p, t) for y, p, t in _pixels(logits, labels, thresholds) if y and p <= t]
    high = [_r(p, t) for y, p, t in _pixels(logits, labels, thresholds) if y and p > t]
    return ((sum(low) / len(low) if low else 0.0) + (sum(high) / len(high) if high else 0.0))


def _reference_thresholds(probs, labels, q):
    """Full descending sort per positive map, rank floor(q HW) clamped into [0, HW - 1]."""
    bsz, classes = labels.shape
    n = probs.shape[2] * probs.shape[3]
    out = torch.full((bsz, classes), NEGATIVE_THRESHOLD, dtype=probs.dtype)
    for b in range(bsz):
        for c in range(classes):
            if labels[b, c]:
                ordered = torch.sort(probs[b, c].flatten(), descending=True).values
                out[b, c] = ordered[min(max(math.floor(float(q[b, c]) * n), 0), n - 1)]
    return out


@pytest.fixture
def batch():
    """Logits spread on both sides of the thresholds, 3 images x 4 classes x 3x4 pixels."""
    gen = torch.Generator().manual_seed(0)
    logits = 2.0 * torch.randn(3, 4, 3, 4, generator=gen, dtype=torch.float64)
    labels = torch.tensor([[1, 0, 1, 0], [0, 0, 0, 1], [1, 1, 0, 0]], dtype=torch.float64)
    thresholds = 0.2 + 0.6 * torch.rand(3, 4, generator=gen, dtype=torch.float64)
    return logits, labels, thresholds


def test_uncertainty_values_on_both_sides_eq3_eq4(batch):
    logits, labels, thresholds = batch
    sides = {p > t for y, p, t in _pixels(logits, labels, thresholds) if y}
    assert sides == {True, False}
    torch.testing.assert_close(spatial_bce_loss(logits, labels, thresholds, 'prob'),
                               torch.tensor(_reference_prob(logits, labels, thresholds),
                                            dtype=torch.float64))
    torch.testing.assert_close(spatial_bce_loss(logits, labels, thresholds, 'threshold'),
                               torch.tensor(_reference_threshold(logits, labels, thresholds),
                                            dtype=torch.float64))


def test_uncertainty_shape():
    """R = 1 at p = t, 0 at p = 0 and p = 1 (the three principles of Sec. 3.2)."""
    labels = torch.ones(1, 1, dtype=torch.float64)
    t = torch.full((1, 1), 0.3, dtype=torch.float64)
    for p, expected in ((0.3, 1.0), (1e-12, 0.0), (1 - 1e-12, 0.0), (0.15, 0.75), (0.65, 0.75)):
        logit = torch.full((1, 1, 1, 1), math.log(p / (1 - p)), dtype=torch.float64)
        loss = spatial_bce_loss(logit, labels, t, 'threshold')
        assert loss.item() == pytest.approx(expected, abs=1e-9)


def test_gradcheck_prob_phase(batch):
    logits, labels, thresholds = batch
    logits.requires_grad_(True)
    assert torch.autograd.gradcheck(
        lambda x: spatial_bce_loss(x, labels, thresholds, 'prob'), (logits,))


def test_gradcheck_threshold_phase(batch):
    logits, labels, thresholds = batch
    # No pixel within the finite-difference step of its threshold (a side switch is a jump).
    gap = (torch.sigmoid(logits) - thresholds[..., None, None]).abs()
    assert gap[labels.bool()].min() > 1e-4
    thresholds.requires_grad_(True)
    assert torch.autograd.gradcheck(
        lambda t: spatial_bce_loss(logits, labels, t, 'threshold'), (thresholds,))


def test_gradient_isolation(batch):
    logits, labels, thresholds = batch
    logits.requires_grad_(True)
    thresholds.requires_grad_(True)
    spatial_bce_loss(logits, labels, thresholds, 'prob').backward()
    assert thresholds.grad is None
    assert logits.grad is not None and logits.grad.abs().sum() > 0
    logits.grad = None
    spatial_bce_loss(logits, labels, thresholds, 'threshold').backward()
    assert logits.grad is None
    assert thresholds.grad is not None and thresholds.grad.abs().sum() > 0
    # Only positive classes carry a threshold gradient.
    assert (thresholds.grad[~labels.bool()] == 0).all()


@pytest.mark.parametrize('phase', ['prob', 'threshold'])
def test_extreme_thresholds_are_finite(batch, phase):
    logits, labels, _ = batch
    logits = torch.cat([logits, torch.full_like(logits[:, :, :1], 40.0),
                        torch.full_like(logits[:, :, :1], -40.0)], dim=2).requires_grad_(True)
    for value in (0.0, 1.0):
        thresholds = torch.full((3, 4), value, dtype=torch.float64, requires_grad=True)
        loss = spatial_bce_loss(logits, labels, thresholds, phase)
        loss.backward()
        assert torch.isfinite(loss)
        grad = logits.grad if phase == 'prob' else thresholds.grad
        assert grad is not None and torch.isfinite(grad).all()
        logits.grad = None


def test_empty_side_and_no_positive_label():
    logits = torch.full((2, 3, 2, 2), 5.0, requires_grad=True)  # p ~ 0.993 everywhere
    labels = torch.tensor([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    thresholds = torch.full((2, 3), 0.5, requires_grad=True)
    loss = spatial_bce_loss(logits, labels, thresholds, 'threshold')  # low side empty
    p = torch.sigmoid(torch.tensor(5.0))
    torch.testing.assert_close(loss, 1 - ((p - 0.5) / 0.5) ** 2)
    loss.backward()
    assert torch.isfinite(thresholds.grad).all()

    none = torch.zeros(2, 3)
    for phase in ('prob', 'threshold'):
        thresholds.grad = None
        loss = spatial_bce_loss(logits, none, thresholds, phase)
        loss.backward()
        assert torch.isfinite(loss)
        if phase == 'threshold':
            assert loss.item() == 0.0 and (thresholds.grad == 0).all()
        else:
            torch.testing.assert_close(loss, torch.nn.functional.softplus(logits).mean())


def test_input_checks(batch):
    logits, labels, thresholds = batch
    with pytest.raises(ValueError, match='phase'):
        spatial_bce_loss(logits, labels, thresholds, 'both')
    with pytest.raises(ValueError, match='thresholds'):
        spatial_bce_loss(logits, labels, thresholds[:, :2], 'prob')
    with pytest.raises(ValueError, match='labels'):
        select_thresholds(torch.sigmoid(logits), labels[:, :2], thresholds)


def test_select_thresholds_matches_full_sort():
    gen = torch.Generator().manual_seed(1)
    probs = torch.rand(4, 5, 6, 7, generator=gen)
    probs[0, 0] = 0.25  # constant map
    probs[1, 2] = torch.randint(0, 3, (6, 7), generator=gen) / 4.0  # many ties
    labels = torch.rand(4, 5, generator=gen) < 0.6
    labels[0, 0] = labels[1, 2] = True
    labels[3] = False  # an image without positive classes
    cases = {
        'zero': torch.zeros(4, 5), 'one': torch.ones(4, 5),
        'low': 0.3 * torch.rand(4, 5, generator=gen),  # selection from the top
        'high': 0.7 + 0.3 * torch.rand(4, 5, generator=gen),  # selection from the bottom
        'mixed': torch.rand(4, 5, generator=gen),
        'exact': torch.randint(0, 43, (4, 5), generator=gen) / 42.0,  # q * HW on integers
        'outside': torch.tensor([-0.5, 1.5, 0.5, 2.0, -1.0]).expand(4, 5),
    }
    probs_grad = probs.clone().requires_grad_(True)
    for name, q in cases.items():
        out = select_thresholds(probs_grad, labels, q)
        assert not out.requires_grad
        torch.testing.assert_close(out, _reference_thresholds(probs, labels, q), rtol=0, atol=0,
                                   msg=name)
        assert (out[~labels] == NEGATIVE_THRESHOLD).all()
    maxima = probs.flatten(2).amax(2)
    torch.testing.assert_close(select_thresholds(probs, labels, cases['zero'])[labels],
                               maxima[labels])
    no_labels = torch.zeros(4, 5, dtype=torch.bool)
    assert (select_thresholds(probs, no_labels, cases['mixed']) == NEGATIVE_THRESHOLD).all()


def test_select_thresholds_gives_the_target_fraction():
    """Pixels strictly above t make up floor(q HW) of a map without ties."""
    probs = torch.rand(2, 3, 10, 10, generator=torch.Generator().manual_seed(2))
    labels = torch.ones(2, 3)
    q = torch.tensor([[0.125, 0.25, 0.5], [0.0, 0.75, 0.875]])  # exact binary fractions
    t = select_thresholds(probs, labels, q)
    above = (probs > t[..., None, None]).sum((2, 3))
    torch.testing.assert_close(above, (q * 100).floor().long())


def _reference_kl(logits, labels, q, eps=1e-6):
    total, count = 0.0, 0
    for b in range(labels.shape[0]):
        for c in range(labels.shape[1]):
            if labels[b, c]:
                m = float(torch.sigmoid(logits[b, c]).mean())
                t = min(max(float(q[b, c]), eps), 1 - eps)
                total += m * math.log(max(m, eps) / t) + (1 - m) * math.log(
                    max(1 - m, eps) / (1 - t))
                count += 1
    return total / max(count, 1)


def test_tnt_kl_matches_direct_formula_and_gradcheck(batch):
    logits, labels, _ = batch
    q = torch.rand(3, 4, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    torch.testing.assert_close(tnt_kl_loss(logits, labels, q),
                               torch.tensor(_reference_kl(logits, labels, q),
                                            dtype=torch.float64))
    # At q = mean p the divergence vanishes.
    torch.testing.assert_close(tnt_kl_loss(logits, labels, torch.sigmoid(logits).mean((2, 3))),
                               torch.tensor(0.0, dtype=torch.float64))
    logits.requires_grad_(True)
    assert torch.autograd.gradcheck(lambda x: tnt_kl_loss(x, labels, q), (logits,))


def test_tnt_kl_edge_cases_are_finite(batch):
    logits, labels, _ = batch
    for scale in (0.0, 200.0, -200.0):  # mean p in {0.5, 1, 0}
        x = torch.full_like(logits, scale).requires_grad_(True)
        for value in (0.0, 1.0, 0.5):
            q = torch.full((3, 4), value, dtype=torch.float64)
            loss = tnt_kl_loss(x, labels, q)
            loss.backward()
            assert torch.isfinite(loss) and torch.isfinite(x.grad).all()
            x.grad = None
    # A saturated mean still gets a gradient towards q.
    x = torch.full_like(logits, -200.0).requires_grad_(True)
    tnt_kl_loss(x, labels, torch.full((3, 4), 0.5, dtype=torch.float64)).backward()
    assert (x.grad[labels.bool()] < 0).all()
    x = torch.zeros_like(logits, requires_grad=True)
    loss = tnt_kl_loss(x, torch.zeros(3, 4), torch.zeros(3, 4))
    loss.backward()
    assert loss.item() == 0.0 and (x.grad == 0).all()


def _reference_reverse_kl(logits, labels, q, eps=1e-6):
    """KL(t || m) per positive pair from the plain means, averaged over the pairs."""
    total, count = 0.0, 0
    for b in range(labels.shape[0]):
        for c in range(labels.shape[1]):
            if labels[b, c]:
                m = float(torch.sigmoid(logits[b, c]).mean())
                t = min(max(float(q[b, c]), eps), 1 - eps)
                total += t * math.log(t / m) + (1 - t) * math.log((1 - t) / (1 - m))
                count += 1
    return total / max(count, 1)


def test_reverse_tnt_kl_matches_direct_formula_and_gradcheck(batch):
    logits, labels, _ = batch
    q = torch.rand(3, 4, generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    torch.testing.assert_close(tnt_kl_loss(logits, labels, q, direction='reverse'),
                               torch.tensor(_reference_reverse_kl(logits, labels, q),
                                            dtype=torch.float64))
    assert float(tnt_kl_loss(logits, labels, q, direction='reverse')) != pytest.approx(
        float(tnt_kl_loss(logits, labels, q)), rel=1e-3)
    torch.testing.assert_close(
        tnt_kl_loss(logits, labels, torch.sigmoid(logits).mean((2, 3)), direction='reverse'),
        torch.tensor(0.0, dtype=torch.float64))
    logits.requires_grad_(True)
    assert torch.autograd.gradcheck(
        lambda x: tnt_kl_loss(x, labels, q, direction='reverse'), (logits,))
    loss = MODELS.build(dict(type='TNTProportionKLLoss', direction='reverse', loss_weight=2.0))
    torch.testing.assert_close(loss(logits, labels, q)['loss_tnt'],
                               2.0 * tnt_kl_loss(logits, labels, q, direction='reverse'))
    with pytest.raises(ValueError, match='direction'):
        TNTProportionKLLoss(direction='backward')
    with pytest.raises(ValueError, match='direction'):
        tnt_kl_loss(logits, labels, q, direction='sideways')


def test_reverse_tnt_kl_resists_collapse_where_forward_does_not(batch):
    """At an all-background map the forward KL is bounded by -log(1 - q) with a vanishing
    gradient; the reverse KL is large and pushes the most confident pixel with about q."""
    _, labels, _ = batch
    q = torch.full((3, 4), 0.1, dtype=torch.float64)
    x = torch.full((3, 4, 5, 6), -30.0, dtype=torch.float64)
    x[:, :, 0, 0] = -20.0
    x.requires_grad_(True)
    forward = tnt_kl_loss(x, labels, q)
    assert float(forward.detach()) == pytest.approx(-math.log(0.9), rel=1e-6)
    forward.backward()
    assert float(x.grad.abs().max()) < 1e-6
    x.grad = None
    reverse = tnt_kl_loss(x, labels, q, direction='reverse')
    assert float(reverse.detach()) > 1.0 and torch.isfinite(reverse)
    reverse.backward()
    positive = labels.bool()
    top = x.grad[..., 0, 0][positive] * positive.sum()  # undo the mean over the pairs
    torch.testing.assert_close(top, torch.full_like(top, -0.1), rtol=1e-2, atol=0)
    for scale in (200.0, -200.0):
        for value in (0.0, 1.0):
            xs = torch.full((3, 4, 5, 6), scale, dtype=torch.float64, requires_grad=True)
            out = tnt_kl_loss(xs, labels, torch.full((3, 4), value, dtype=torch.float64),
                              direction='reverse')
            out.backward()
            assert torch.isfinite(out) and torch.isfinite(xs.grad).all()


def test_autocast_bfloat16_is_finite():
    gen = torch.Generator().manual_seed(4)
    conv = torch.nn.Conv2d(3, 5, 1)
    images = torch.randn(2, 3, 8, 8, generator=gen)
    labels = torch.tensor([[1.0, 0, 0, 1, 0], [0, 0, 1, 0, 0]])
    q = torch.tensor([[0.2, 0, 0, 0.0, 0], [0, 0, 1.0, 0, 0]])
    raw = torch.rand(2, 5, generator=gen).requires_grad_(True)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        logits = 10.0 * conv(images)
        assert logits.dtype == torch.bfloat16
        thresholds = select_thresholds(torch.sigmoid(logits), labels, q)
        losses = [spatial_bce_loss(logits, labels, thresholds, 'prob'),
                  spatial_bce_loss(logits, labels, torch.sigmoid(raw), 'threshold'),
                  tnt_kl_loss(logits, labels, q)]
    for loss in losses:
        assert loss.dtype == torch.float32 and torch.isfinite(loss)
    sum(losses).backward()
    assert torch.isfinite(conv.weight.grad).all() and torch.isfinite(raw.grad).all()


def test_registered_modules(batch):
    logits, labels, thresholds = batch
    sbce = MODELS.build(dict(type='SpatialBCELoss', loss_weight=0.5))
    assert isinstance(sbce, SpatialBCELoss)
    out = sbce(logits, labels, thresholds, 'prob')
    assert list(out) == ['loss_sbce']
    torch.testing.assert_close(out['loss_sbce'],
                               0.5 * spatial_bce_loss(logits, labels, thresholds, 'prob'))
    tnt = MODELS.build(dict(type='TNTProportionKLLoss', loss_name='loss_kl'))
    assert isinstance(tnt, TNTProportionKLLoss)
    out = tnt(logits, labels, thresholds)
    torch.testing.assert_close(out['loss_kl'], tnt_kl_loss(logits, labels, thresholds))
    with pytest.raises(ValueError, match='loss_name'):
        SpatialBCELoss(loss_name='sbce')
