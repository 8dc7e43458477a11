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


def test_class_fractions_average_each_class_share_over_the_images_that_have_it(tmp_path):
    gt_a = np.zeros((4, 5), np.uint8)
    gt_a[0, :] = 255  # 15 non-void pixels
    gt_a[1, :2] = 1
    gt_b = np.full((4, 5), 2, np.uint8)  # class 2 only, 20 pixels
    label_a = np.zeros((4, 5), np.uint8)
    label_a[1:, :3] = 1  # 9 of the 15 non-void pixels
    label_a[0, :] = 1  # on void GT: not counted
    label_b = np.zeros((4, 5), np.uint8)
    label_b[:, :2] = 2  # 8 of 20 pixels
    label_b[3, 4] = 1  # class 1 is not in b's GT: not averaged over b
    for name, gt, label in (('a', gt_a, label_a), ('b', gt_b, label_b)):
        save_label_png(tmp_path / 'gt' / f'{name}.png', gt)
        save_label_png(tmp_path / 'pred' / f'{name}.png', label)
    shares = tool.class_fractions(str(tmp_path / 'pred'), str(tmp_path / 'gt'), ['a', 'b'], 4)
    np.testing.assert_allclose(shares[:2], [9 / 15, 8 / 20])
    assert np.isnan(shares[2])  # no GT has class 3
    gt_shares = tool.class_fractions(str(tmp_path / 'gt'), str(tmp_path / 'gt'), ['a', 'b'], 4)
    np.testing.assert_allclose(gt_shares[:2], [2 / 15, 1.0])
    save_label_png(tmp_path / 'pred' / 'a.png', np.zeros((3, 5), np.uint8))
    with pytest.raises(ValueError, match='a.png: size'):
        tool.class_fractions(str(tmp_path / 'pred'), str(tmp_path / 'gt'), ['a'], 4)
