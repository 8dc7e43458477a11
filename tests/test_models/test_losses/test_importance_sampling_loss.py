"""GAP BCE (Eq. 17), ISL (Eq. 14-18, binomial and multinomial) and the CAM posteriors."""

import importlib
import math

import pytest
import torch

from mmhfpl.models.losses import (
    GAPBCELoss,
    ImportanceSamplingLoss,
    gap_bce_loss,
    importance_sampling_loss,
)
from mmhfpl.models.losses.cam_posteriors import (
    max_normalize,
    min_max_normalize,
    multinomial_log_posterior,
    multinomial_posterior,
)

isl_module = importlib.import_module('mmhfpl.models.losses.importance_sampling_loss')


def _bce(y: float, p: torch.Tensor) -> torch.Tensor:
    return -(y * torch.log(p) + (1 - y) * torch.log(1 - p))


@pytest.fixture
def scores():
    torch.manual_seed(0)
    return torch.randn(2, 3, 4, 5, dtype=torch.float64)


@pytest.fixture
def labels():
    return torch.tensor([[1.0, 0.0, 1.0], [0.0, 1.0, 0.0]], dtype=torch.float64)


def test_max_normalize_eq4(scores):
    r = max_normalize(scores)
    for b in range(2):
        for c in range(3):
            relu = scores[b, c].clamp(min=0)
            torch.testing.assert_close(r[b, c], relu / (relu.max() + 1e-5))
    assert torch.isfinite(max_normalize(-scores.abs())).all()
    assert max_normalize(-scores.abs()).abs().max() == 0


def test_min_max_normalize_is_the_authors_max_norm(scores):
    """ReLU, then (p - min - 1e-5)^+ / (max - min + 1e-5) per image and class."""
    shifted = scores + torch.tensor([0.0, 5.0])[:, None, None, None]  # image 1: min > 0
    r = min_max_normalize(shifted)
    for b in range(2):
        for c in range(3):
            p = shifted[b, c].clamp(min=0)
            expected = (p - p.min() - 1e-5).clamp(min=0) / (p.max() - p.min() + 1e-5)
            torch.testing.assert_close(r[b, c], expected)
    assert r[1].amin(dim=(1, 2)).abs().max() == 0, 'the minimum maps to 0'
    torch.testing.assert_close(r[0], max_normalize(scores)[0], atol=2e-5, rtol=0)


def test_multinomial_posterior_eq5(scores):
    a = multinomial_posterior(scores)
    b, c, i, j = 1, 2, 3, 4
    denom = 1 + scores[b, :, i, j].exp().sum()
    torch.testing.assert_close(a[b, c + 1, i, j], scores[b, c, i, j].exp() / denom)
    torch.testing.assert_close(a[b, 0, i, j], 1 / denom)
    torch.testing.assert_close(a.sum(dim=1), torch.ones(2, 4, 5, dtype=torch.float64))
    big = torch.full((1, 2, 1, 1), 200.0)
    assert torch.isfinite(multinomial_log_posterior(big)).all()


def test_gap_bce_eq17_and_gradcheck(scores, labels):
    expected = 0
    for b in range(2):
        for c in range(3):
            big_b = torch.sigmoid(scores[b, c].mean())
            expected = expected + _bce(labels[b, c].item(), big_b)
    torch.testing.assert_close(gap_bce_loss(scores, labels), expected / 6)
    assert torch.autograd.gradcheck(lambda s: gap_bce_loss(s, labels),
                                    (scores.clone().requires_grad_(),))


def test_gap_bce_rejects_wrong_label_shape(scores):
    with pytest.raises(ValueError, match=r'labels must have shape \(B, 3\)'):
        gap_bce_loss(scores, torch.ones(2, 4))


def _fixed_draws(monkeypatch, index: torch.Tensor) -> None:
    monkeypatch.setattr(isl_module, 'sample_pixels', lambda weights, n, generator=None: index)


def test_binomial_isl_eq18_on_fixed_draws_and_gradcheck(scores, labels, monkeypatch):
    index = torch.randint(0, 20, (2, 3, 6), generator=torch.Generator().manual_seed(3))
    _fixed_draws(monkeypatch, index)
    expected = 0
    for b in range(2):
        for c in range(3):
            for n in range(6):
                pixel = divmod(index[b, c, n].item(), 5)
                b_tilde = torch.sigmoid(scores[b, c, pixel[0], pixel[1]])
                expected = expected + _bce(labels[b, c].item(), b_tilde)
    value = importance_sampling_loss(scores, labels, num_samples=6)
    torch.testing.assert_close(value, expected / 36)
    for posterior in ('binomial', 'multinomial'):
        assert torch.autograd.gradcheck(
            lambda s, posterior=posterior: importance_sampling_loss(s, labels, 6, posterior),
            (scores.clone().requires_grad_(),))


def test_isl_gradient_matches_float64_reference(scores, labels, monkeypatch):
    index = torch.randint(0, 20, (2, 3, 6), generator=torch.Generator().manual_seed(4))
    _fixed_draws(monkeypatch, index)
    for posterior in ('binomial', 'multinomial'):
        leaf = scores.clone().requires_grad_()
        (grad,) = torch.autograd.grad(
            importance_sampling_loss(leaf, labels, 6, posterior), leaf)
        ref_leaf = scores.clone().requires_grad_()
        if posterior == 'binomial':
            probs = torch.sigmoid(ref_leaf).flatten(2).gather(2, index)
        else:
            probs = multinomial_posterior(ref_leaf)[:, 1:].flatten(2).gather(2, index)
        ref = _bce_tensor(labels[..., None], probs).mean()
        (ref_grad,) = torch.autograd.grad(ref, ref_leaf)
        torch.testing.assert_close(grad, ref_grad)


def _bce_tensor(y: torch.Tensor, p: torch.Tensor) -> torch.Tensor:
    return -(y * torch.log(p) + (1 - y) * torch.log(1 - p))


@pytest.mark.parametrize('posterior', ['binomial', 'multinomial'])
def test_isl_matches_closed_form_expectation(posterior):
    """With many draws ISL approaches sum_ij (b_ij / Z) BCE(y, b_ij) (within 5 std. errors)."""
    torch.manual_seed(1)
    scores = 2 * torch.randn(2, 3, 6, 7, dtype=torch.float64)
    labels = torch.tensor([[1.0, 0.0, 1.0], [0.0, 1.0, 1.0]], dtype=torch.float64)
    if posterior == 'binomial':
        probs = torch.sigmoid(scores).flatten(2)
    else:
        probs = multinomial_posterior(scores)[:, 1:].flatten(2)
    weights = probs / probs.sum(dim=2, keepdim=True)
    bce = _bce_tensor(labels[..., None], probs)
    mean = (weights * bce).sum(dim=2)                       # E over draws, per (b, c)
    var = (weights * (bce - mean[..., None]) ** 2).sum(dim=2)
    num_samples = 20000
    expected = mean.mean().item()
    std_error = math.sqrt(var.sum().item() / num_samples) / mean.numel()
    value = importance_sampling_loss(scores, labels, num_samples, posterior,
                                     generator=torch.Generator().manual_seed(0)).item()
    assert abs(value - expected) < 5 * std_error, (value, expected, std_error)


def test_isl_draws_follow_the_posterior():
    weights = torch.tensor([[[0.1, 0.0, 0.6, 0.3]]])
    draws = isl_module.sample_pixels(weights, 40000, torch.Generator().manual_seed(0))
    freq = torch.bincount(draws.flatten(), minlength=4).float() / 40000
    torch.testing.assert_close(freq, weights[0, 0], atol=0.01, rtol=0)
    zero = isl_module.sample_pixels(torch.zeros(1, 1, 4), 8)
    assert zero.shape == (1, 1, 8), 'an underflowed posterior falls back to uniform draws'


def test_isl_module_combines_terms_as_eq16(scores, labels, monkeypatch):
    index = torch.zeros(2, 3, 10, dtype=torch.long)
    _fixed_draws(monkeypatch, index)
    module = ImportanceSamplingLoss(lambda_=0.2, loss_weight=0.5)
    out = module(scores.float(), labels)
    assert set(out) == {'loss_isl', 'loss_gap_bce'}
    total = out['loss_isl'] + out['loss_gap_bce']
    eq16 = 0.8 * gap_bce_loss(scores.float(), labels) + 0.2 * importance_sampling_loss(
        scores.float(), labels)
    torch.testing.assert_close(total, 0.5 * eq16)
    assert set(ImportanceSamplingLoss(lambda_=1.0)(scores, labels)) == {'loss_isl'}
    with pytest.raises(ValueError, match='lambda_'):
        ImportanceSamplingLoss(lambda_=1.5)
    with pytest.raises(ValueError, match='posterior'):
        ImportanceSamplingLoss(posterior='gaussian')


def test_losses_are_finite_under_float16_autocast_and_extremes(labels):
    scores = torch.randn(2, 3, 8, 8, dtype=torch.bfloat16) * 50
    for fn in (lambda s: gap_bce_loss(s, labels),
               lambda s: importance_sampling_loss(s, labels),
               lambda s: importance_sampling_loss(s, labels, posterior='multinomial')):
        with torch.autocast('cpu', dtype=torch.bfloat16):
            leaf = scores.clone().requires_grad_()
            value = fn(leaf)
            value.backward()
        assert torch.isfinite(value) and torch.isfinite(leaf.grad).all()
    module = GAPBCELoss(loss_weight=2.0, loss_name='loss_cls')
    assert set(module(scores.float(), labels)) == {'loss_cls'}
