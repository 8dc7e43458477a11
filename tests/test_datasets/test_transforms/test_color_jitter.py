"""ColorJitter with a numpy-2-safe hue step (PSA / SEAM / AffinityNet colour jitter)."""

import mmcv
import numpy as np
import pytest
from mmpretrain.datasets.transforms import ColorJitter as MMPretrainColorJitter

from mmhfpl.datasets.transforms import ColorJitter, adjust_hue
from mmhfpl.registry import TRANSFORMS

GREEN = (0, 255, 0)  # BGR
RED = (0, 0, 255)
BLUE = (255, 0, 0)


def _image(seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (16, 20, 3), dtype=np.uint8)


def _solid(bgr) -> np.ndarray:
    return np.tile(np.array(bgr, np.uint8), (4, 4, 1))


def test_mmcv_adjust_hue_still_fails_on_negative_factors():
    """The reason this transform exists; if mmcv is fixed, mmpretrain's can be used again."""
    with pytest.raises(OverflowError):
        mmcv.adjust_hue(_image(), -0.1, backend='cv2')


def test_adjust_hue_matches_mmcv_for_positive_and_rotates_backwards_for_negative():
    img = _image()
    for factor in (0.0, 0.05, 0.1, 0.5):
        np.testing.assert_array_equal(adjust_hue(img, factor),
                                      mmcv.adjust_hue(img, factor, backend='cv2'))
    # A third of a turn backwards: green -> red, blue -> green (full-range hue 85 = 120 deg).
    # (up to the rounding of OpenCV's 256-step hue: 120 deg is 85.3 steps)
    np.testing.assert_allclose(adjust_hue(_solid(GREEN), -85 / 255), _solid(RED), atol=8)
    np.testing.assert_allclose(adjust_hue(_solid(BLUE), -85 / 255), _solid(GREEN), atol=8)
    # Rotating back and forth returns the image up to HSV rounding.
    back = adjust_hue(adjust_hue(img, -0.1), 0.1).astype(int)
    assert np.abs(back - img).mean() < 3
    with pytest.raises(ValueError, match='hue_factor'):
        adjust_hue(img, -0.6)


def test_color_jitter_samples_like_mmpretrain():
    img = _image(1)
    kwargs = dict(brightness=0.3, contrast=0.3, saturation=0.3)
    for seed in range(5):  # no hue: identical to mmpretrain's transform
        np.random.seed(seed)
        ours = ColorJitter(**kwargs)(dict(img=img.copy()))['img']
        np.random.seed(seed)
        theirs = MMPretrainColorJitter(**kwargs)(dict(img=img.copy()))['img']
        np.testing.assert_array_equal(ours, theirs)
    negative = 0
    for seed in range(20):  # hue only: the sampled factor through adjust_hue
        np.random.seed(seed)
        out = ColorJitter(hue=0.1)(dict(img=img.copy()))['img']
        np.random.seed(seed)
        np.random.permutation(4)
        factor = np.random.uniform(-0.1, 0.1)
        negative += factor < 0
        np.testing.assert_array_equal(out, adjust_hue(img, factor))
    assert negative > 0


def test_registered_in_the_mmhfpl_scope():
    transform = TRANSFORMS.build(dict(type='ColorJitter', brightness=0.3, contrast=0.3,
                                      saturation=0.3, hue=0.1))
    assert isinstance(transform, ColorJitter)
    np.random.seed(0)
    for _ in range(10):
        assert transform(dict(img=_image()))['img'].shape == (16, 20, 3)
