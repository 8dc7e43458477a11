"""RandomHSVShift: additive integer offsets in OpenCV's 8-bit HSV (seed 000's RandomHSV)."""

import colorsys

import cv2
import numpy as np
import pytest

from mmhfpl.datasets.transforms import RandomHSVShift, shift_hsv
from mmhfpl.registry import TRANSFORMS


def _hsv_of(bgr) -> tuple[float, float, float]:
    """Hue in degrees, saturation and value in [0, 1] (Python's colorsys, from RGB)."""
    blue, green, red = (c / 255 for c in bgr)
    hue, saturation, value = colorsys.rgb_to_hsv(red, green, blue)
    return 360 * hue, saturation, value


def test_offsets_act_on_hue_in_two_degree_steps_and_clip_saturation_and_value():
    # Pure red: hue 0 (a shift of -10 steps is -20 degrees, i.e. 340 after the wrap).
    red = np.tile(np.array([0, 0, 255], np.uint8), (2, 3, 1))
    hue, saturation, value = _hsv_of(shift_hsv(red, (-10, 0, 0))[0, 0])
    assert hue == pytest.approx(340, abs=1.5) and saturation == pytest.approx(1, abs=0.01)
    assert value == pytest.approx(1, abs=0.01)
    # Saturation and value already at 255 stay there; a negative shift lowers them.
    assert np.array_equal(shift_hsv(red, (0, 10, 10)), red)
    hue, saturation, value = _hsv_of(shift_hsv(red, (0, -51, -51))[0, 0])
    assert saturation == pytest.approx(204 / 255, abs=0.01)
    assert value == pytest.approx(204 / 255, abs=0.01) and hue == pytest.approx(0, abs=1.5)
    # No shift: OpenCV's HSV round trip, nothing else.
    image = np.random.default_rng(0).integers(0, 256, (8, 9, 3), dtype=np.uint8)
    roundtrip = cv2.cvtColor(cv2.cvtColor(image, cv2.COLOR_BGR2HSV), cv2.COLOR_HSV2BGR)
    assert np.array_equal(shift_hsv(image, (0, 0, 0)), roundtrip)


def test_draws_are_integers_over_the_closed_range_and_one_per_image():
    transform = TRANSFORMS.build(dict(type='RandomHSVShift', hue_delta=2, saturation_delta=0,
                                      value_delta=1))
    np.random.seed(0)
    draws = {transform._shifts() for _ in range(300)}
    assert {d[0] for d in draws} == {-2, -1, 0, 1, 2}
    assert {d[1] for d in draws} == {0} and {d[2] for d in draws} == {-1, 0, 1}
    # One draw for the whole image: a grey image stays grey-level uniform.
    grey = np.full((5, 6, 3), 128, np.uint8)
    out = transform(dict(img=grey.copy()))['img']
    assert len(np.unique(out.reshape(-1, 3), axis=0)) == 1
    assert 'hue_delta=2' in repr(transform)


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match='hue_delta must be a non-negative integer'):
        RandomHSVShift(hue_delta=-1)
    with pytest.raises(ValueError, match='value_delta must be a non-negative integer'):
        RandomHSVShift(value_delta=0.5)
    with pytest.raises(ValueError, match='expected a uint8 BGR image'):
        shift_hsv(np.zeros((4, 4, 3), np.float32), (1, 1, 1))
