"""Dense-CRF refinement of pseudo-labels (mmhfpl.pseudo_labels.crf)."""

import inspect
from dataclasses import asdict

import numpy as np
import pytest

from mmhfpl.pseudo_labels.crf import CRFConfig, crf_map, dense_crf, dense_crf_labels

H, W = 48, 64
SHIFT = 6  # pixels the score / label boundary is displaced from the colour edge
COLOURS = np.array([[190, 70, 50], [50, 110, 200]], dtype=np.float64)


def make_scene(seed: int = 0, noise: float = 3.0):
    """Two flat colour regions split by a sinusoidal edge, plus mild Gaussian noise.

    Returns (image, true region map, column grid, edge position per pixel).
    """
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[:H, :W]
    edge = W / 2 + 6 * np.sin(2 * np.pi * y / 24)
    truth = (x >= edge).astype(np.int64)
    image = COLOURS[truth] + rng.normal(0.0, noise, (H, W, 3))
    return np.clip(image, 0, 255).astype(np.uint8), truth, x, edge


def make_probs(seed: int = 0) -> np.ndarray:
    """Blurred, noisy scores whose boundary sits SHIFT pixels right of the colour edge.

    Three classes like a real CAM stack: background, the object, and a negligible class.
    """
    _, _, x, edge = make_scene(seed)
    rng = np.random.default_rng(seed + 1000)
    fg = 1.0 / (1.0 + np.exp(-(x - edge - SHIFT) / 2.0))
    fg = np.clip(fg + rng.normal(0.0, 0.1, fg.shape), 0.01, 0.99)
    return np.stack([1.0 - fg, fg, np.full_like(fg, 0.02)]).astype(np.float32)


def test_dense_crf_snaps_scores_to_colour_edge():
    image, truth, _, _ = make_scene()
    probs = make_probs()
    band = SHIFT * H  # pixels between the colour edge and the displaced score edge
    errors_before = int((probs.argmax(0) != truth).sum())
    assert errors_before >= 0.9 * band  # the construction misassigns (about) the whole band

    errors_after = int((dense_crf(image, probs).argmax(0) != truth).sum())
    # Snapping to the colour edge leaves at most one wrong pixel per row (edge quantisation),
    # i.e. a SHIFT-fold reduction of the band error.
    assert errors_after <= H, (errors_before, errors_after)


def test_dense_crf_output_is_deterministic_distribution():
    image, _, _, _ = make_scene()
    probs = make_probs()
    out = dense_crf(image, probs)
    assert out.shape == probs.shape and out.dtype == np.float32 and out.flags.c_contiguous
    assert (out >= 0).all()
    np.testing.assert_allclose(out.sum(0), 1.0, atol=1e-5)
    np.testing.assert_array_equal(out, dense_crf(image, probs))


def test_dense_crf_normalises_scores():
    image, _, _, _ = make_scene()
    probs = make_probs()
    normalised = probs / probs.sum(0, keepdims=True)
    # Zero iterations return the normalised input (all entries are above the 1e-5 clip).
    np.testing.assert_allclose(dense_crf(image, 7.5 * probs, iterations=0), normalised,
                               atol=1e-5)
    # A per-pixel scale of the scores does not change the posterior.
    scale = np.linspace(0.5, 4.0, H * W, dtype=np.float32).reshape(H, W)
    np.testing.assert_allclose(dense_crf(image, probs * scale), dense_crf(image, normalised),
                               atol=1e-5)
    # A pixel with no evidence (all-zero scores) gets a uniform unary: still a distribution.
    empty = probs.copy()
    empty[:, 10, 10] = 0
    out = dense_crf(image, empty)
    np.testing.assert_allclose(out.sum(0), 1.0, atol=1e-5)


def test_dense_crf_non_contiguous_readonly_inputs():
    image, _, _, _ = make_scene()
    probs = make_probs()
    expected = dense_crf(image, probs)

    image_t = np.ascontiguousarray(image.transpose(1, 0, 2)).transpose(1, 0, 2)  # F-order view
    image_t.flags.writeable = False  # pydensecrf itself rejects read-only buffers
    probs64 = np.ascontiguousarray(probs.transpose(1, 2, 0), dtype=np.float64)
    probs_view = probs64.transpose(2, 0, 1)  # (K, H, W) view of an (H, W, K) array
    assert not image_t.flags.c_contiguous and not probs_view.flags.c_contiguous
    np.testing.assert_allclose(dense_crf(image_t, probs_view), expected, atol=1e-5)

    big_image = np.repeat(np.repeat(image, 2, axis=0), 2, axis=1)
    big_probs = np.repeat(np.repeat(probs, 2, axis=1), 2, axis=2)
    out = dense_crf(big_image[::2, ::2], big_probs[:, ::2, ::2])  # strided slices
    np.testing.assert_allclose(out, expected, atol=1e-5)

    uint_probs = np.round(probs * 100).astype(np.uint16)  # integer scores are accepted too
    assert dense_crf(image, uint_probs).dtype == np.float32


def test_scale_factor_divides_spatial_stds():
    image, _, _, _ = make_scene()
    probs = make_probs()
    np.testing.assert_array_equal(
        dense_crf(image, probs, scale_factor=2.0),
        dense_crf(image, probs, gaussian_sxy=1.5, bilateral_sxy=40.0),
    )


def test_crf_config_defaults_and_overrides():
    defaults = {name: p.default for name, p in inspect.signature(dense_crf).parameters.items()
                if p.kind is inspect.Parameter.KEYWORD_ONLY}
    assert asdict(CRFConfig()) == defaults
    assert defaults == dict(iterations=10, gaussian_sxy=3, gaussian_compat=3, bilateral_sxy=80,
                            bilateral_srgb=13, bilateral_compat=10, scale_factor=1.0)
    cfg = CRFConfig(**dict(iterations=3, bilateral_srgb=20))
    assert cfg.iterations == 3 and cfg.bilateral_sxy == 80
    image, _, _, _ = make_scene()
    probs = make_probs()
    np.testing.assert_array_equal(dense_crf(image, probs, **asdict(cfg)),
                                  dense_crf(image, probs, iterations=3, bilateral_srgb=20))
    with pytest.raises(ValueError, match='bilateral_srgb'):
        CRFConfig(bilateral_srgb=0)
    with pytest.raises(ValueError, match='iterations'):
        CRFConfig(iterations=-1)
    with pytest.raises(TypeError):
        CRFConfig(unknown=1)


def test_dense_crf_labels_snaps_boundary():
    image, truth, x, edge = make_scene()
    labels = (x >= edge + SHIFT).astype(np.int64)
    errors_before = int((labels != truth).sum())
    assert errors_before >= 0.9 * SHIFT * H
    out = dense_crf_labels(image, labels, 2)
    assert out.shape == (H, W) and out.dtype == labels.dtype
    assert int((out != truth).sum()) <= H, errors_before  # <= 1 px per row, as above


def test_dense_crf_labels_ignore_pixels_are_filled_by_colour():
    image, truth, x, edge = make_scene()
    labels = truth.astype(np.uint8)
    # An "unsure" band from 3 px left to 9 px right of the edge: splitting it spatially
    # (at its middle) would get 3 px per row wrong; following the colour edge gets <= 1.
    unsure = (x >= edge - 3) & (x < edge + 9)
    labels[unsure] = 255
    out = dense_crf_labels(image, labels, 2, ignore_index=255)
    assert out.dtype == np.uint8 and set(np.unique(out).tolist()) <= {0, 1}
    assert int((out[unsure] != truth[unsure]).sum()) <= H
    np.testing.assert_array_equal(out[~unsure], truth[~unsure])

    # Sparse seeds: two 4x4 labelled patches, everything else unsure. Uniform unaries let
    # each colour region follow its seed (<= 1 px per row wrong); treating unsure pixels as
    # any fixed label would flip (nearly) the whole region of the other colour instead.
    seeds = np.full((H, W), 255, dtype=np.uint8)
    seeds[20:24, 2:6] = 0
    seeds[20:24, W - 6:W - 2] = 1
    out = dense_crf_labels(image, seeds, 2, ignore_index=255)
    assert int((out != truth).sum()) <= H

    # With 3 classes, pixels labelled with the ignore value never produce a fake class.
    out3 = dense_crf_labels(image, labels.astype(np.int32), 3, ignore_index=255)
    assert set(np.unique(out3).tolist()) <= {0, 1}

    # No evidence anywhere: returned unchanged.
    all_unsure = np.full((H, W), 255, dtype=np.uint8)
    np.testing.assert_array_equal(dense_crf_labels(image, all_unsure, 2, ignore_index=255),
                                  all_unsure)


def test_bad_inputs_raise_value_error():
    image, truth, _, _ = make_scene()
    probs = make_probs()
    with pytest.raises(ValueError, match=r'\(3, 48, 60\).*\(48, 64, 3\)'):
        dense_crf(image, probs[:, :, :60])
    with pytest.raises(ValueError, match='uint8'):
        dense_crf(image.astype(np.float32), probs)
    with pytest.raises(ValueError, match=r'\(H, W, 3\)'):
        dense_crf(np.concatenate([image, image[..., :1]], axis=2), probs)
    with pytest.raises(ValueError, match='non-negative'):
        dense_crf(image, probs - 0.5)
    with pytest.raises(ValueError, match='K >= 2'):
        dense_crf(image, probs[:1])
    with pytest.raises(ValueError, match=r'\(K, H, W\)'):
        dense_crf(image, probs[0])
    bad = probs.copy()
    bad[0, 0, 0] = np.nan
    with pytest.raises(ValueError, match='NaN'):
        dense_crf(image, bad)
    with pytest.raises(ValueError, match='scale_factor'):
        dense_crf(image, probs, scale_factor=0)

    with pytest.raises(ValueError, match=r'\(48, 60\).*\(48, 64, 3\)'):
        dense_crf_labels(image, truth[:, :60], 2)
    with pytest.raises(ValueError, match=r'0\.\.1.*\[2\]'):
        dense_crf_labels(image, truth * 2, 2)
    with pytest.raises(ValueError, match='integer'):
        dense_crf_labels(image, truth.astype(np.float32), 2)
    with pytest.raises(ValueError, match='collides'):
        dense_crf_labels(image, truth, 2, ignore_index=1)
    with pytest.raises(ValueError, match='gt_prob'):
        dense_crf_labels(image, truth, 2, gt_prob=1.0)
    with pytest.raises(ValueError, match='num_labels'):
        dense_crf_labels(image, truth, 1)


def crf_job(seed: int) -> tuple[int, np.ndarray]:
    """Top-level (picklable) per-image job for crf_map."""
    image, _, _, _ = make_scene(seed)
    return seed, dense_crf(image, make_probs(seed), iterations=5)


def fail_on_two(value: int) -> int:
    if value == 2:
        raise RuntimeError('job 2 failed')
    return value


@pytest.mark.timeout(120)
def test_crf_map_inline_and_pool_agree():
    torch = pytest.importorskip('torch')
    # Run a multi-threaded torch op first: forking afterwards must not deadlock.
    torch.set_num_threads(2)
    torch.randn(256, 256) @ torch.randn(256, 256)

    seeds = [3, 1, 4, 0, 5]
    inline = crf_map(crf_job, seeds, num_workers=1)
    pooled = crf_map(crf_job, iter(seeds), num_workers=2, start_method='fork')
    assert [seed for seed, _ in inline] == seeds == [seed for seed, _ in pooled]
    for (_, a), (_, b) in zip(inline, pooled, strict=True):
        np.testing.assert_array_equal(a, b)

    assert crf_map(crf_job, [], num_workers=2) == []
    with pytest.raises(RuntimeError, match='job 2 failed'):
        crf_map(fail_on_two, range(4), num_workers=2, start_method='fork')

