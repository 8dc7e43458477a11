"""label_confusion: pixel counts per (GT class, label) against a direct count."""

import numpy as np
import pytest

from mmhfpl.structures import save_label_png
from tests.conftest import load_tool

tool = load_tool('tools/analysis_tools/label_confusion.py')


def test_confusion_counts_pixels_and_skips_void(tmp_path):
    rng = np.random.default_rng(0)
    gts = [rng.integers(0, 4, (5, 6)).astype(np.uint8) for _ in range(3)]
    gts[0][0, :] = 255
    preds = [rng.integers(0, 4, (5, 6)).astype(np.uint8) for _ in range(3)]
    for k, (gt, pred) in enumerate(zip(gts, preds, strict=True)):
        save_label_png(tmp_path / 'gt' / f'{k}.png', gt)
        save_label_png(tmp_path / 'pred' / f'{k}.png', pred)
    counts = tool.confusion(str(tmp_path / 'pred'), str(tmp_path / 'gt'), ['0', '1', '2'], 4)
    expected = np.zeros((4, 4), dtype=np.int64)
    for gt, pred in zip(gts, preds, strict=True):
        for g, p in zip(gt.ravel(), pred.ravel(), strict=True):
            if g != 255:
                expected[g, p] += 1
    np.testing.assert_array_equal(counts, expected)
    save_label_png(tmp_path / 'pred' / '1.png', np.zeros((4, 6), np.uint8))
    with pytest.raises(ValueError, match='1.png: size'):
        tool.confusion(str(tmp_path / 'pred'), str(tmp_path / 'gt'), ['1'], 4)
