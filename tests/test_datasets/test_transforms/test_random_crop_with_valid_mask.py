"""IRN's random crop (imutils.random_crop / get_random_crop_box) with its valid mask."""

import numpy as np
import pytest
from mmengine.registry import init_default_scope

from mmhfpl.datasets.transforms import RandomCropWithValidMask
from mmhfpl.registry import TRANSFORMS


def _image(height: int, width: int) -> np.ndarray:
    return (np.arange(height * width * 3) % 251).astype(np.uint8).reshape(height, width, 3)


@pytest.mark.parametrize('size', [(30, 50), (70, 20), (40, 40), (64, 64), (10, 80)])
def test_crop_matches_irn_random_crop(size):
    """Every output is the IRN crop of the image for the offsets drawn."""
    img = _image(*size)
    crop = RandomCropWithValidMask(40, pad_val=(1, 2, 3))
    np.random.seed(0)
    for _ in range(20):
        out = crop.transform(dict(img=img.copy()))
        valid = out['valid_mask'].astype(bool)
        assert out['img'].shape == (40, 40, 3) and out['img_shape'] == (40, 40)
        rows, cols = np.where(valid.any(axis=1))[0], np.where(valid.any(axis=0))[0]
        assert len(rows) == min(40, size[0]) and len(cols) == min(40, size[1])
        assert valid[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1].all()
        assert (out['img'][~valid] == (1, 2, 3)).all()
        # the valid box is a contiguous window of the image (an IRN crop box)
        box = out['img'][rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
        found = [(y, x) for y in range(size[0] - box.shape[0] + 1)
                 for x in range(size[1] - box.shape[1] + 1)
                 if np.array_equal(img[y:y + box.shape[0], x:x + box.shape[1]], box)]
        assert found
        if size[0] <= 40:  # a short axis is placed, not cropped
            assert found[0][0] == 0
        else:
            assert rows[0] == 0


def test_offsets_are_uniform_over_the_free_space():
    crop = RandomCropWithValidMask(40)
    np.random.seed(1)
    tops = [np.argmax(crop.transform(dict(img=_image(37, 40)))['valid_mask'][:, 0])
            for _ in range(400)]
    assert set(tops) == {0, 1, 2, 3}  # canvas offsets 0..3 for 3 free rows


def test_registered_and_validated():
    init_default_scope('mmhfpl')
    assert TRANSFORMS.build(dict(type='RandomCropWithValidMask', crop_size=8)).crop_size == 8
    with pytest.raises(ValueError, match='positive'):
        RandomCropWithValidMask(0)
