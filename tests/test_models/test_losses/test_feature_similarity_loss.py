"""Feature similarity loss (seed 000 §4.3, Eq. 9-13): the fast core against independent
references, and the FeatureSimilarityLoss module (gating inputs, class masking, images)."""

import importlib
import math

import pytest
import torch
import torch.nn.functional as F

from mmhfpl.models.losses import FeatureSimilarityLoss
from mmhfpl.models.losses.cam_posteriors import max_normalize, multinomial_posterior
from mmhfpl.models.losses.feature_similarity_loss import (
    feature_similarity_loss,
    fsl_window_tail_mass,
)

fsl_module = importlib.import_module('mmhfpl.models.losses.feature_similarity_loss')

EPS = 1e-6


# Direct references of Eq. 10, 12 and 13 (the loss has one implementation, its block kernel).
def fsl_compatibility(delta, mu=2.5, eps=EPS):
    """Eq. 12 as written: tanh(mu + log(delta / (1 - delta))), delta clamped into (0, 1)."""
    delta = delta.clamp(eps, 1 - eps)
    return torch.tanh(mu + torch.log(delta / (1 - delta)))


def fsl_pixel_dissimilarity(x_i, x_j):
    """Eq. 13: |x_i - x_j|_1 / 3 for all pairs of (..., n, 3) and (..., m, 3) colours."""
    return (x_i[..., :, None, :] - x_j[..., None, :, :]).abs().sum(-1) / 3


def fsl_spatial_weights(height, width, sigma=5.0, dtype=torch.float64):
    """Eq. 10 for every pair of row-major pixels: a (HW, HW) matrix."""
    rows, cols = torch.meshgrid(torch.arange(height), torch.arange(width), indexing='ij')
    pos = torch.stack([rows.flatten(), cols.flatten()], dim=1).to(dtype)
    dist2 = (pos[:, None, :] - pos[None, :, :]).square().sum(-1)
    return torch.exp(-dist2 / (2 * sigma**2)) / (2 * math.pi * sigma**2)


def loss_by_pairs(maps, images, mu=2.5, sigma=5.0, eps=EPS):
    """Eq. 9-13 term by term: plain Python over every ordered pixel pair."""
    bsz, channels, height, width = maps.shape
    a, x = maps.tolist(), images.tolist()
    pixels = [(r, c) for r in range(height) for c in range(width)]
    total = 0.0
    for b in range(bsz):
        pair_sum = 0.0
        for ri, ci in pixels:
            for rj, cj in pixels:
                dist2 = (ri - rj) ** 2 + (ci - cj) ** 2
                w = math.exp(-dist2 / (2 * sigma**2)) / (2 * math.pi * sigma**2)
                g = 0.5 * sum((a[b][k][ri][ci] - a[b][k][rj][cj]) ** 2 for k in range(channels))
                delta = sum(abs(x[b][ch][ri][ci] - x[b][ch][rj][cj]) for ch in range(3)) / 3
                delta = min(max(delta, eps), 1 - eps)
                f = math.tanh(mu + math.log(delta / (1 - delta)))
                pair_sum += w * g * f
        total += -pair_sum / (height * width)
    return total / bsz


def loss_dense(maps, images, mu=2.5, sigma=5.0, eps=EPS):
    """Eq. 9-13 with explicit (B, HW, HW) broadcast matrices; differentiable by autograd."""
    bsz, channels, height, width = maps.shape
    n = height * width
    a = maps.reshape(bsz, channels, n)
    x = images.reshape(bsz, 3, n)
    g = 0.5 * (a[:, :, :, None] - a[:, :, None, :]).square().sum(1)
    delta = ((x[:, :, :, None] - x[:, :, None, :]).abs().sum(1) / 3).clamp(eps, 1 - eps)
    f = torch.tanh(mu + torch.log(delta / (1 - delta)))
    rows, cols = torch.meshgrid(torch.arange(height), torch.arange(width), indexing='ij')
    pos = torch.stack([rows.reshape(-1), cols.reshape(-1)], 1).to(maps.dtype)
    dist2 = (pos[:, None, :] - pos[None, :, :]).square().sum(-1)
    w = torch.exp(-dist2 / (2 * sigma**2)) / (2 * math.pi * sigma**2)
    return -(w * g * f).sum((1, 2)).mean() / n


def make_inputs(bsz, channels, height, width, dtype=torch.float64, seed=0):
    gen = torch.Generator().manual_seed(seed)
    maps = torch.rand(bsz, channels, height, width, generator=gen, dtype=dtype)
    images = torch.rand(bsz, 3, height, width, generator=gen, dtype=dtype)
    return maps, images


def rel_err(value, reference):
    value = torch.as_tensor(value, dtype=torch.float64)  # also for Python floats
    reference = torch.as_tensor(reference, dtype=torch.float64)
    return ((value - reference).norm() / reference.norm()).item()


@pytest.mark.parametrize('shape, mu, sigma', [
    ((2, 3, 4, 5), 2.5, 5.0),
    ((1, 2, 5, 3), 1.0, 1.5),
    ((2, 1, 3, 6), 0.0, 0.8),
])
def test_matches_pair_enumeration(shape, mu, sigma):
    maps, images = make_inputs(*shape)
    value = feature_similarity_loss(maps, images, mu=mu, sigma=sigma, block_size=shape[3])
    expected = loss_by_pairs(maps, images, mu=mu, sigma=sigma)
    assert value.dtype == torch.float64
    assert rel_err(value, expected) <= 1e-10


@pytest.mark.parametrize('shape', [(2, 4, 12, 10), (1, 3, 7, 13), (3, 2, 10, 10)])
def test_value_and_gradient_match_dense_form(shape):
    maps, images = make_inputs(*shape, seed=1)
    maps_fast = maps.clone().requires_grad_()
    maps_ref = maps.clone().requires_grad_()
    value = feature_similarity_loss(maps_fast, images, block_size=3 * shape[3])
    expected = loss_dense(maps_ref, images)
    value.backward()
    expected.backward()
    assert rel_err(value, expected) <= 1e-10
    assert rel_err(maps_fast.grad, maps_ref.grad) <= 1e-10


def test_float32_matches_float64_dense_form():
    maps, images = make_inputs(2, 5, 12, 10, seed=2)
    maps32 = maps.float().requires_grad_()
    maps64 = maps.clone().requires_grad_()
    value = feature_similarity_loss(maps32, images.float())
    expected = loss_dense(maps64, images)
    value.backward()
    expected.backward()
    assert value.dtype == torch.float32 and maps32.grad.dtype == torch.float32
    assert rel_err(value, expected) <= 1e-5
    assert rel_err(maps32.grad, maps64.grad) <= 1e-5


@pytest.mark.parametrize('dtype, sigma', [(torch.float32, 1.0), (torch.float64, 0.5)])
def test_skipping_negligible_far_pairs_is_below_rounding(dtype, sigma):
    reach = fsl_module.fsl_negligible_reach(sigma, dtype)
    maps, images = make_inputs(2, 3, 3 * reach, 2 * reach + 3, seed=13)
    maps_fast = maps.to(dtype).clone().requires_grad_()
    maps_ref = maps.clone().requires_grad_()
    value = feature_similarity_loss(maps_fast, images.to(dtype), sigma=sigma, block_size=1)
    expected = loss_dense(maps_ref, images, sigma=sigma)  # float64, all pairs
    value.backward()
    expected.backward()
    tol = 1e-5 if dtype == torch.float32 else 1e-10
    assert rel_err(value, expected) <= tol
    assert rel_err(maps_fast.grad, maps_ref.grad) <= tol


@pytest.mark.parametrize('implementation', ['blocked', 'straightforward'])
def test_gradcheck(implementation):
    maps, images = make_inputs(2, 2, 5, 4, seed=3)
    maps.requires_grad_()
    if implementation == 'blocked':
        # two rows per block: diagonal and off-diagonal (transposed) blocks both contribute
        func = lambda m: feature_similarity_loss(m, images, mu=1.5, sigma=2.0,  # noqa: E731
                                                 block_size=8)
    else:
        func = lambda m: loss_dense(m, images, mu=1.5, sigma=2.0)  # noqa: E731
    assert torch.autograd.gradcheck(func, (maps,))


def test_images_receive_no_gradient():
    maps, images = make_inputs(1, 2, 4, 4, seed=4)
    maps.requires_grad_()
    images.requires_grad_()
    feature_similarity_loss(maps, images).backward()
    assert images.grad is None
    assert maps.grad is not None


@pytest.mark.parametrize('mu', [-1.0, 0.0, 2.5, 4.0])
def test_rational_compatibility_equals_tanh_form(mu):
    delta = torch.cat([torch.linspace(0, 1, 2001, dtype=torch.float64),
                       torch.logspace(-9, -1, 50, dtype=torch.float64),
                       1 - torch.logspace(-9, -1, 50, dtype=torch.float64)])
    expected = fsl_compatibility(delta, mu=mu, eps=EPS)
    # the kernel used inside the loss, in both its eager and compilable formulations
    c, lo, hi = math.exp(2 * mu), 3 * EPS, 3 - 3 * EPS
    colours = delta[None, None, :].expand(1, 3, -1)  # |x_i - x_j|_1 / 3 = delta for x_i = 0
    origin = torch.zeros(1, 3, 1, dtype=torch.float64)
    w = torch.full((1, delta.numel()), 0.5, dtype=torch.float64)
    for kernel in (fsl_module._kernel_block_eager, fsl_module._kernel_block_fused):
        out, tmp = torch.empty(2, 1, 1, delta.numel(), dtype=torch.float64)
        k_blk = kernel(origin, colours, w, c, lo, hi, out, tmp)
        assert (k_blk[0, 0] - 0.5 * expected).abs().max().item() <= 1e-12


def test_reference_dissimilarity_and_spatial_weights_by_hand():
    _, images = make_inputs(1, 1, 3, 4, seed=5)
    x = images.reshape(1, 3, -1).transpose(1, 2)
    delta = fsl_pixel_dissimilarity(x, x)
    expected = (x[:, :, None, :] - x[:, None, :, :]).abs().sum(-1) / 3
    assert torch.allclose(delta, expected, rtol=0, atol=1e-12)
    w = fsl_spatial_weights(3, 4, sigma=1.7, dtype=torch.float64)
    i, j = 1 * 4 + 3, 2 * 4 + 0  # (row 1, col 3) and (row 2, col 0)
    expected_w = math.exp(-(1 + 9) / (2 * 1.7**2)) / (2 * math.pi * 1.7**2)
    assert w.shape == (12, 12)
    assert w[i, j].item() == pytest.approx(expected_w, rel=1e-12)
    assert torch.equal(w, w.T)


def _fast_and_dense(maps, images):
    """Value and gradient of the fast loss and of the dense reference on the same inputs."""
    maps = maps.detach().clone().requires_grad_()
    value = feature_similarity_loss(maps, images)
    value.backward()
    ref_maps = maps.detach().clone().requires_grad_()
    expected = loss_dense(ref_maps, images)
    expected.backward()
    return value, expected, maps, ref_maps


def test_constant_image():
    maps, _ = make_inputs(2, 3, 6, 5, seed=6)
    images = torch.full((2, 3, 6, 5), 0.4, dtype=torch.float64)
    value, expected, maps, ref_maps = _fast_and_dense(maps, images)
    # delta = 0 -> f = -1 everywhere: the loss is a positive smoothness penalty
    assert value.item() > 0
    assert rel_err(value, expected) <= 1e-10
    assert rel_err(maps.grad, ref_maps.grad) <= 1e-10


def test_saturated_black_white_pairs():
    maps, _ = make_inputs(2, 3, 6, 6, seed=7)
    checker = ((torch.arange(6)[:, None] + torch.arange(6)[None, :]) % 2).to(torch.float64)
    images = checker.expand(2, 3, 6, 6).clone()  # black/white: delta in {0, 1}
    value, expected, maps, ref_maps = _fast_and_dense(maps, images)
    assert torch.isfinite(value) and torch.isfinite(maps.grad).all()
    assert rel_err(value, expected) <= 1e-10
    assert rel_err(maps.grad, ref_maps.grad) <= 1e-10
    assert value.item() == pytest.approx(loss_by_pairs(maps.detach(), images), rel=1e-10)


def test_all_zero_maps():
    _, images = make_inputs(2, 3, 5, 7, seed=8)
    maps = torch.zeros(2, 3, 5, 7, dtype=torch.float32, requires_grad=True)
    value = feature_similarity_loss(maps, images.float())
    value.backward()
    assert value.item() == 0.0
    assert torch.count_nonzero(maps.grad).item() == 0


@pytest.mark.parametrize('dtype', [torch.float16, torch.bfloat16])
def test_low_precision_under_autocast(dtype):
    maps, images = make_inputs(2, 4, 9, 7, dtype=torch.float32, seed=9)
    images[0, :, :3] = 0.0  # saturated and constant regions as well
    images[0, :, 3:6] = 1.0
    maps_lp = maps.to(dtype).requires_grad_()
    with torch.autocast('cpu', dtype=dtype):
        value = feature_similarity_loss(maps_lp, images.to(dtype))
    value.backward()
    assert value.dtype == torch.float32
    assert maps_lp.grad.dtype == dtype
    assert torch.isfinite(value) and torch.isfinite(maps_lp.grad).all()
    ref_maps = maps_lp.detach().double().requires_grad_()
    expected = loss_dense(ref_maps, images.to(dtype).double())
    expected.backward()
    assert rel_err(value, expected) <= 1e-5  # computed in float32 from the rounded inputs
    assert rel_err(maps_lp.grad, ref_maps.grad) <= 1e-2  # gradient rounded to `dtype`


@pytest.mark.parametrize('shape', [(2, 3, 11, 9), (1, 2, 4, 17)])
def test_block_size_independence(shape):
    maps, images = make_inputs(*shape, seed=10)
    width = shape[3]
    values = [feature_similarity_loss(maps, images, block_size=size).item()
              for size in (1, width, 2 * width + 1, 3 * width, None, 10**9)]
    for value in values[1:]:
        assert value == pytest.approx(values[0], rel=1e-12, abs=0)
    maps32, images32 = maps.float(), images.float()
    values32 = [feature_similarity_loss(maps32, images32, block_size=size).item()
                for size in (1, 2 * width, None)]
    for value in values32:
        assert value == pytest.approx(values[0], rel=1e-5, abs=0)


def test_window_tail_mass_bounds_dropped_weight():
    sigma = 2.0
    w = fsl_spatial_weights(40, 40, sigma=sigma, dtype=torch.float64)
    rows = torch.arange(40).repeat_interleave(40)
    far = (rows[:, None] - rows[None, :]).abs()
    for window in (0, 2, 4, 6, 8):
        dropped = (w * (far > window)).sum(1).max().item()
        bound = fsl_window_tail_mass(sigma, window)
        assert dropped <= bound
        assert bound <= 5 * dropped  # and it is not vacuous


@pytest.mark.parametrize('window', [2, 4, 6, 9])
def test_windowed_variant_within_documented_bound(window):
    sigma = 2.0
    maps, images = make_inputs(2, 3, 24, 6, seed=11)
    exact = feature_similarity_loss(maps, images, sigma=sigma, block_size=12)
    approx = feature_similarity_loss(maps, images, sigma=sigma, block_size=12, window=window)
    a = maps.reshape(2, 3, -1)
    max_g = 0.5 * (a[:, :, :, None] - a[:, :, None, :]).square().sum(1).max().item()
    error = abs((approx - exact).item())
    assert 0 < error <= fsl_window_tail_mass(sigma, window) * max_g
    # the windowed variant is exactly the loss with w_ij = 0 for |r_i - r_j| > window
    rows = torch.arange(24).repeat_interleave(6)
    keep = (rows[:, None] - rows[None, :]).abs() <= window
    w = fsl_spatial_weights(24, 6, sigma=sigma, dtype=torch.float64) * keep
    x = images.reshape(2, 3, -1).transpose(1, 2)
    f = fsl_compatibility(fsl_pixel_dissimilarity(x, x), eps=EPS)
    g = 0.5 * (a[:, :, :, None] - a[:, :, None, :]).square().sum(1)
    banded = -(w * g * f).sum((1, 2)).mean() / 144
    assert rel_err(approx, banded) <= 1e-10


def test_window_covering_the_map_is_exact():
    maps, images = make_inputs(2, 3, 8, 5, seed=12)
    exact = feature_similarity_loss(maps, images, block_size=10)
    assert feature_similarity_loss(maps, images, block_size=10, window=7).item() == exact.item()


def test_invalid_arguments():
    maps, images = make_inputs(1, 2, 4, 4)
    with pytest.raises(ValueError):
        feature_similarity_loss(maps, images[:, :2])
    with pytest.raises(ValueError):
        feature_similarity_loss(maps, images[..., :3])
    with pytest.raises(ValueError):
        feature_similarity_loss(maps[0], images[0])
    with pytest.raises(ValueError):
        feature_similarity_loss(maps, images, eps=1e-3)
    with pytest.raises(ValueError):
        feature_similarity_loss(maps, images, window=-1)


def test_compile_is_off_by_default(monkeypatch):
    monkeypatch.delenv(fsl_module.COMPILE_ENV, raising=False)
    assert fsl_module._block_kernel(None) is fsl_module._kernel_block_eager
    monkeypatch.setenv(fsl_module.COMPILE_ENV, '0')
    assert fsl_module._block_kernel(None) is fsl_module._kernel_block_eager


# --- FeatureSimilarityLoss module (seed 000 §4.3) ---

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
