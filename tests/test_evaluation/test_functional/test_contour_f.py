"""Contour quality F (DAVIS boundary F-measure): boundaries, matching, conventions, void."""

import math

import numpy as np
import pytest
from scipy import ndimage
from skimage.morphology import disk

from mmhfpl.evaluation.functional.contour_f import (
    boundary_tolerance,
    contour_f_counts,
    contour_f_from_counts,
    contour_f_score,
    seg2bmap,
)

# --------------------------------------------------------------------------- helpers


def square(shape, top, left, size, label=1, base=None):
    """Label map with a size x size square of ``label`` at (top, left)."""
    out = np.zeros(shape, dtype=np.uint8) if base is None else base.copy()
    out[top:top + size, left:left + size] = label
    return out


def loop_seg2bmap(mask):
    """seg2bmap written literally from its definition, one pixel at a time."""
    h, w = mask.shape
    out = np.zeros((h, w), dtype=bool)
    for y in range(h):
        for x in range(w):
            neighbours = [(y, x + 1), (y + 1, x), (y + 1, x + 1)]
            out[y, x] = any(mask[y, x] != mask[ny, nx]
                            for ny, nx in neighbours if ny < h and nx < w)
    return out


def reference_counts(pred, gt, num_classes, bound_th, void_as_background):
    """Straightforward per-class version: full-image binary dilation with skimage's disk(r).

    ``scipy.ndimage.binary_dilation`` is what ``skimage.morphology.binary_dilation``
    (deprecated since scikit-image 0.26) runs, with the same all-False border.
    """
    gt = gt.copy()
    void = gt == 255
    if void_as_background:
        gt[void] = 0
        void[:] = False
    keep = ~void
    radius = bound_th if bound_th >= 1 else math.ceil(bound_th * np.linalg.norm(gt.shape))
    footprint = disk(int(radius))
    counts = np.zeros((num_classes, 4), dtype=np.int64)
    for c in range(num_classes):
        pred_b = seg2bmap(pred == c)
        gt_b = seg2bmap(gt == c)
        pred_dil = ndimage.binary_dilation(pred_b, structure=footprint)
        gt_dil = ndimage.binary_dilation(gt_b, structure=footprint)
        counts[c] = [(pred_b & gt_dil & keep).sum(), (pred_b & keep).sum(),
                     (gt_b & pred_dil & keep).sum(), (gt_b & keep).sum()]
    return counts


def random_pair(rng, shape, num_classes, void):
    """Blob GT (ellipses and rectangles), optional void bands, and a perturbed prediction."""
    h, w = shape
    yy, xx = np.mgrid[:h, :w]
    gt = np.zeros(shape, dtype=np.uint8)
    for _ in range(rng.integers(1, 6)):
        cls = rng.integers(1, num_classes)
        cy, cx = rng.uniform(0, h), rng.uniform(0, w)
        ry, rx = rng.uniform(0.5, max(h / 2, 1)), rng.uniform(0.5, max(w / 2, 1))
        if rng.random() < 0.5:
            gt[((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 <= 1] = cls
        else:
            gt[(abs(yy - cy) <= ry) & (abs(xx - cx) <= rx)] = cls
    pred = np.roll(gt, (rng.integers(-4, 5), rng.integers(-4, 5)), axis=(0, 1))
    swap = rng.integers(0, num_classes, size=num_classes)
    pred = np.where(rng.random(num_classes)[pred] < 0.3, swap[pred], pred).astype(np.uint8)
    if rng.random() < 0.5:  # an extra predicted blob, sometimes with an "ignore" label
        cy, cx, r = rng.integers(0, h), rng.integers(0, w), rng.integers(1, 8)
        label = 255 if rng.random() < 0.3 else rng.integers(0, num_classes)
        pred[(yy - cy) ** 2 + (xx - cx) ** 2 <= r * r] = label
    if void:
        edges = np.zeros(shape, dtype=bool)
        for c in np.unique(gt):
            edges |= seg2bmap(gt == c)
        band = ndimage.binary_dilation(edges, iterations=int(rng.integers(0, 3)) or 1)
        gt[band & (rng.random(shape) < 0.9)] = 255
    return pred, gt


# --------------------------------------------------------------------------- seg2bmap


def test_seg2bmap_square_ring():
    # 3x3 square at rows/cols 1..3 of a 6x6 mask. A pixel is on the boundary when it
    # differs from its E, S or SE neighbour: inside, the bottom row and right column of
    # the square; outside, the pixels whose E/S/SE neighbour is inside, i.e. row 0 and
    # column 0 over 0..3. Together: the ring of the 4x4 square at rows/cols 0..3.
    mask = square((6, 6), 1, 1, 3).astype(bool)
    expected = np.zeros((6, 6), dtype=bool)
    expected[0, 0:4] = expected[3, 0:4] = expected[0:4, 0] = expected[0:4, 3] = True
    np.testing.assert_array_equal(seg2bmap(mask), expected)


def test_seg2bmap_last_row_col_and_corner_rules():
    # Foreground = last row and last column of a 4x4 mask (an "L" along the border).
    mask = np.zeros((4, 4), dtype=bool)
    mask[3, :] = True
    mask[:, 3] = True
    expected = np.zeros((4, 4), dtype=bool)
    # Rows 0..2, columns 0..2: pixel background; its S/E/SE neighbour is foreground
    # only for row 2 (S = row 3) or column 2 (E = column 3).
    expected[2, 0:3] = True
    expected[0:3, 2] = True
    # Last column (rows 0..2) compares south only: foreground vs foreground -> False.
    # Last row (columns 0..2) compares east only: foreground vs foreground -> False.
    # Bottom-right corner: never a boundary.
    np.testing.assert_array_equal(seg2bmap(mask), expected)

    # A single foreground pixel in the bottom-right corner: the corner itself is not a
    # boundary; (3, 2) sees it east, (2, 3) sees it south, (2, 2) sees it south-east.
    corner = np.zeros((4, 4), dtype=bool)
    corner[3, 3] = True
    expected = np.zeros((4, 4), dtype=bool)
    expected[3, 2] = expected[2, 3] = expected[2, 2] = True
    np.testing.assert_array_equal(seg2bmap(corner), expected)

    # Last row differing from its east neighbour only: (3, 0) = 1, (3, 1) = 0. (3, 0)
    # differs east; (2, 0) differs south; nothing else compares with (3, 0).
    row = np.zeros((4, 4), dtype=bool)
    row[3, 0] = True
    expected = np.zeros((4, 4), dtype=bool)
    expected[3, 0] = expected[2, 0] = True
    np.testing.assert_array_equal(seg2bmap(row), expected)


@pytest.mark.parametrize('shape', [(1, 1), (1, 7), (7, 1), (5, 6), (9, 4)])
def test_seg2bmap_matches_literal_definition(shape):
    rng = np.random.default_rng(sum(shape))
    for _ in range(5):
        mask = rng.random(shape) < 0.4
        np.testing.assert_array_equal(seg2bmap(mask), loop_seg2bmap(mask))


def test_seg2bmap_rejects_non_2d():
    with pytest.raises(ValueError, match='2-D'):
        seg2bmap(np.zeros((2, 3, 4)))


# --------------------------------------------------------------------------- tolerance


def test_skimage_disk_is_the_euclidean_ball():
    # The fast path relies on disk(r) == {(dy, dx): dy^2 + dx^2 <= r^2}.
    for r in range(0, 16):
        dy, dx = np.mgrid[-r:r + 1, -r:r + 1]
        np.testing.assert_array_equal(disk(r).astype(bool), dy ** 2 + dx ** 2 <= r * r)


def test_boundary_tolerance():
    # 375x500: diagonal sqrt(375^2 + 500^2) = 625, 0.008 * 625 = 5 -> 5.
    assert boundary_tolerance((375, 500), 0.008) == 5
    # 100x100: diagonal 141.42..., 0.008 * 141.42 = 1.13 -> ceil 2.
    assert boundary_tolerance((100, 100), 0.008) == 2
    assert boundary_tolerance((100, 100), 0.0) == 0
    assert boundary_tolerance((100, 100), 3) == 3  # >= 1: pixels
    assert boundary_tolerance((100, 100), 2.5) == 3
    with pytest.raises(ValueError, match='bound_th'):
        boundary_tolerance((10, 10), -0.1)


def test_match_at_exact_disk_radius():
    # GT: single pixel (20, 20) -> boundary ring rows 19..20 x cols 19..20.
    gt = np.zeros((40, 40), dtype=np.uint8)
    gt[20, 20] = 1
    # Pred single pixel (24, 25) -> ring rows 23..24 x cols 24..25. The closest pair is
    # (23, 24)-(20, 20): dy=3, dx=4, d^2=25; the next closest pairs have d^2 = 9+25 = 34
    # ((23,25)-(20,20)) and 16+16 = 32 ((24,24)-(20,20)). With r=5 exactly one pixel on each
    # side matches; with r=4 none.
    pred = np.zeros_like(gt)
    pred[24, 25] = 1
    np.testing.assert_array_equal(contour_f_counts(pred, gt, 2, 5)[1], [1, 4, 1, 4])
    np.testing.assert_array_equal(contour_f_counts(pred, gt, 2, 4)[1], [0, 4, 0, 4])
    # Pred single pixel (22, 26) -> ring rows 21..22 x cols 25..26. Closest pair
    # (21, 25)-(20, 20): d^2 = 1 + 25 = 26 > 25, so nothing matches with r=5.
    pred = np.zeros_like(gt)
    pred[22, 26] = 1
    np.testing.assert_array_equal(contour_f_counts(pred, gt, 2, 5)[1], [0, 4, 0, 4])


# --------------------------------------------------------------------------- known F


def test_identical_masks_give_f_one():
    rng = np.random.default_rng(0)
    _, gt = random_pair(rng, (50, 70), 6, void=False)
    result = contour_f_score([gt], [gt], 6)
    counts = result['counts']
    assert counts[:, 1].sum() > 0
    np.testing.assert_array_equal(counts[:, 0], counts[:, 1])
    np.testing.assert_array_equal(counts[:, 2], counts[:, 3])
    assert result['F'] == 1.0
    present = np.isin(np.arange(1, 6), gt)
    np.testing.assert_array_equal(result['per_class_F'][present], np.ones(present.sum()))
    assert np.isnan(result['per_class_F'][~present]).all()


@pytest.mark.parametrize(('radius', 'matched'), [(1, 20), (2, 24), (3, 40)])
def test_shifted_square(radius, matched):
    # GT: 10x10 square rows/cols 10..19 -> boundary = ring of the 11x11 square at rows/cols
    # 9..19 (40 pixels). Pred: the same square shifted right by 3 -> ring rows 9..19,
    # cols 12..22. Pred ring pixel (y, x) is matched when a GT ring pixel is within r:
    # r=1: top/bottom rows x=12..19 lie on the GT rows, x=20 is 1 from (.,19) -> 9 + 9;
    #      left column x=12, y=10..18: only y=10 and y=18 are 1 from a GT row -> 2;
    #      right column x=22 is 3 from GT column 19 -> 0.  Total 20 of 40.
    # r=2: rows x=12..21 -> 10 + 10; left column y=10,11,17,18 -> 4; right column 0 -> 24.
    # r=3: every pred pixel is within 3 of GT column 19 / column 9 / a GT row -> 40.
    # By mirror symmetry the GT ring matches the same number. P = R = matched / 40.
    gt = square((40, 40), 10, 10, 10)
    pred = square((40, 40), 10, 13, 10)
    counts = contour_f_counts(pred, gt, 2, radius)
    np.testing.assert_array_equal(counts[1], [matched, 40, matched, 40])
    result = contour_f_from_counts(counts)
    assert result['per_class_precision'][0] == pytest.approx(matched / 40)
    assert result['per_class_recall'][0] == pytest.approx(matched / 40)
    assert result['F'] == pytest.approx(matched / 40)


def test_extra_predicted_blob_lowers_precision_only():
    # Pred = GT square (40-pixel ring, all matched) + an isolated pixel far away whose
    # boundary is the 2x2 ring around it (4 unmatched pixels). P = 40/44 = 10/11, R = 1,
    # F = 2 * (10/11) / (21/11) = 20/21.
    gt = square((40, 40), 5, 5, 10)
    pred = gt.copy()
    pred[32, 32] = 1
    result = contour_f_score([pred], [gt], 2, bound_th=2)
    np.testing.assert_array_equal(result['counts'][1], [40, 44, 40, 40])
    assert result['per_class_precision'][0] == pytest.approx(10 / 11)
    assert result['per_class_recall'][0] == 1.0
    assert result['F'] == pytest.approx(20 / 21)


# --------------------------------------------------------------------------- conventions


def test_absent_class_conventions():
    # Class 1 identical in both; class 2 only in GT; class 3 only in pred; class 4 nowhere.
    gt = square((40, 40), 2, 2, 6, label=1)
    gt = square(None, 20, 2, 5, label=2, base=gt)
    pred = square((40, 40), 2, 2, 6, label=1)
    pred = square(None, 20, 20, 5, label=3, base=pred)
    result = contour_f_score([pred], [gt], 5, count_absent=True)
    counts = result['counts']
    # A 5x5 square has a 6x6 boundary ring of 4 * 6 - 4 = 20 pixels.
    np.testing.assert_array_equal(counts[2], [0, 0, 0, 20])
    np.testing.assert_array_equal(counts[3], [0, 20, 0, 0])
    np.testing.assert_array_equal(counts[4], [0, 0, 0, 0])
    # The authors' rule: only GT -> P 1, R 0; only pred -> P 0, R 1; neither -> P 1, R 1,
    # and the class that occurs nowhere counts with F = 1.
    np.testing.assert_array_equal(result['per_class_precision'], [1, 1, 0, 1])
    np.testing.assert_array_equal(result['per_class_recall'], [1, 0, 1, 1])
    np.testing.assert_array_equal(result['per_class_F'], [1, 0, 0, 1])
    assert result['F'] == 0.5
    # Default, as mIoU: the mean runs over the classes that occur (1, 2, 3); class 4 is nan.
    default = contour_f_score([pred], [gt], 5)
    np.testing.assert_array_equal(default['per_class_F'][:3], [1, 0, 0])
    assert np.isnan(default['per_class_F'][3])
    assert default['F'] == pytest.approx(1 / 3)


def test_class_filling_the_image_has_no_boundary():
    # A mask covering everything has no boundary pixels: "neither" -> F = 1 for every class.
    full = np.ones((8, 8), dtype=np.uint8)
    result = contour_f_score([full], [full], 2, count_absent=True)
    np.testing.assert_array_equal(result['counts'], np.zeros((2, 4)))
    assert result['F'] == 1.0 and result['background_F'] == 1.0
    default = contour_f_score([full], [full], 2)  # class 1 occurs; background does not
    assert default['F'] == 1.0 and np.isnan(default['background_F'])


def test_from_counts_hand_values():
    counts = np.array([[0, 0, 0, 0],        # background, ignored by 'F'
                       [3, 4, 1, 2],        # P 3/4, R 1/2 -> F = 2*(3/8)/(5/4) = 3/5
                       [0, 5, 0, 5]])       # P 0, R 0 -> F 0 (P + R = 0)
    result = contour_f_from_counts(counts)
    np.testing.assert_allclose(result['per_class_precision'], [0.75, 0.0])
    np.testing.assert_allclose(result['per_class_recall'], [0.5, 0.0])
    np.testing.assert_allclose(result['per_class_F'], [0.6, 0.0])
    assert result['F'] == pytest.approx(0.3)
    with pytest.raises(ValueError, match='matched'):
        contour_f_from_counts(np.array([[0, 0, 0, 0], [5, 4, 0, 0]]))
    with pytest.raises(ValueError, match='other side'):
        contour_f_from_counts(np.array([[0, 0, 0, 0], [0, 0, 2, 4]]))
    with pytest.raises(ValueError, match='shape'):
        contour_f_from_counts(np.zeros((3, 3)))


def test_accumulates_counts_not_per_image_f():
    # Image A: identical 10x10 squares -> class 1 counts [40, 40, 40, 40], F_A = 1.
    # Image B: GT single pixel (4-pixel ring), pred empty -> [0, 0, 0, 4]; per image that
    # is "only GT" -> F_B = 0, so the mean of per-image F is 0.5.
    # Accumulated: [40, 40, 40, 44] -> P = 1, R = 10/11, F = 20/21.
    gt_a = square((30, 30), 5, 5, 10)
    gt_b = np.zeros((30, 30), dtype=np.uint8)
    gt_b[15, 15] = 1
    pred_b = np.zeros_like(gt_b)
    per_image = [contour_f_score([p], [g], 2)['F'] for p, g in ((gt_a, gt_a), (pred_b, gt_b))]
    assert per_image == [1.0, 0.0]
    result = contour_f_score([gt_a, pred_b], [gt_a, gt_b], 2)
    np.testing.assert_array_equal(result['counts'][1], [40, 40, 40, 44])
    assert result['F'] == pytest.approx(20 / 21)
    streamed = contour_f_counts(gt_a, gt_a, 2) + contour_f_counts(pred_b, gt_b, 2)
    np.testing.assert_array_equal(contour_f_from_counts(streamed)['counts'], result['counts'])


# --------------------------------------------------------------------------- void


def void_case():
    # GT: class-1 square rows/cols 10..19 inside a void band covering rows/cols 8..21.
    # Pred: class-1 square covering object + band, rows/cols 8..21. Tolerance r = 2.
    gt = square((40, 40), 8, 8, 14, label=255)
    gt = square(None, 10, 10, 10, label=1, base=gt)
    pred = square((40, 40), 8, 8, 14, label=1)
    return pred, gt


def test_void_as_background():
    # Void -> background: GT ring = ring of rows/cols 9..19 (40 px); pred ring = ring of
    # rows/cols 7..21 (15x15 -> 56 px). Pred ring rows 7 and 21 are 2 from GT rows 9 and
    # 19 for x = 9..19 (11 each), likewise columns 7 and 21 for y = 9..19 (11 each): 44 of
    # 56 matched. Every GT ring pixel is 2 from the pred ring: 40 of 40.
    # P = 44/56 = 11/14, R = 1, F = 2 * (11/14) / (25/14) = 22/25.
    pred, gt = void_case()
    counts = contour_f_counts(pred, gt, 2, bound_th=2)
    np.testing.assert_array_equal(counts[1], [44, 56, 40, 40])
    assert contour_f_from_counts(counts)['F'] == pytest.approx(22 / 25)
    gt_zeroed = np.where(gt == 255, 0, gt)
    np.testing.assert_array_equal(counts, contour_f_counts(pred, gt_zeroed, 2, bound_th=2))


def test_void_excluded():
    # Void kept: GT boundary is the same ring (rows/cols 9..19), but its row 9 and column 9
    # (21 px) lie in the void band, leaving 19 counted pixels (row 19 x=10..19, column 19
    # y=10..18), all 2 from the pred ring -> 19/19.
    # Pred ring (rows/cols 7..21): row 21 x=8..21 and column 21 y=8..20 lie on void (27 px);
    # counted are row 7 (15 px) and column 7 y=8..21 (14 px) = 29. Of those, row 7 x=9..19
    # and column 7 y=9..19 are 2 from the GT row 9 / column 9 pixels (which lie on void:
    # not counted themselves, but still matching targets) -> 22/29.
    # P = 22/29, R = 1, F = 2 * (22/29) / (51/29) = 44/51.
    pred, gt = void_case()
    counts = contour_f_counts(pred, gt, 2, bound_th=2, void_as_background=False)
    np.testing.assert_array_equal(counts[1], [22, 29, 19, 19])
    assert contour_f_from_counts(counts)['F'] == pytest.approx(44 / 51)


# --------------------------------------------------------------------------- fast == reference


@pytest.mark.parametrize('void_as_background', [True, False])
def test_matches_full_dilation_reference(void_as_background):
    rng = np.random.default_rng(1234 + void_as_background)
    num_classes = 6
    shapes = [(48, 64), (64, 48), (37, 53), (1, 30), (30, 1), (2, 2)]
    preds, gts = [], []
    for index in range(14):
        pred, gt = random_pair(rng, shapes[index % len(shapes)], num_classes, void=True)
        preds.append(pred)
        gts.append(gt)
    # 0.008 -> r = 1 on these sizes; 0.05 -> r = 4; pixel radii 0, 2 and 9.
    for bound_th in (0.008, 0.05, 0, 2, 9):
        total = np.zeros((num_classes, 4), dtype=np.int64)
        for pred, gt in zip(preds, gts, strict=True):
            expected = reference_counts(pred, gt, num_classes, bound_th, void_as_background)
            got = contour_f_counts(pred, gt, num_classes, bound_th, void_as_background)
            np.testing.assert_array_equal(got, expected)
            total += expected
        result = contour_f_score(preds, gts, num_classes, bound_th, void_as_background)
        np.testing.assert_array_equal(result['counts'], total)
        assert 0.0 <= result['F'] <= 1.0
    assert total[:, 1].sum() > 0 and total[:, 0].sum() < total[:, 1].sum()


# --------------------------------------------------------------------------- errors


def test_size_mismatch_names_index():
    ok = np.zeros((10, 10), dtype=np.uint8)
    with pytest.raises(ValueError, match='index 1'):
        contour_f_score([ok, ok], [ok, np.zeros((10, 11), dtype=np.uint8)], 2)
    with pytest.raises(ValueError, match='shape'):
        contour_f_counts(ok, np.zeros((11, 10), dtype=np.uint8), 2)


def test_bad_inputs():
    ok = np.zeros((10, 10), dtype=np.uint8)
    with pytest.raises(ValueError, match='predictions'):
        contour_f_score([ok], [ok, ok], 2)
    with pytest.raises(ValueError, match='at least one'):
        contour_f_score([], [], 2)
    with pytest.raises(ValueError, match='index 0.*outside'):
        contour_f_score([ok], [np.full((10, 10), 7, dtype=np.uint8)], 2)
    with pytest.raises(ValueError, match='integer'):
        contour_f_counts(ok.astype(float), ok, 2)
    with pytest.raises(ValueError, match='2-D'):
        contour_f_counts(ok[None], ok[None], 2)
    with pytest.raises(ValueError, match='num_classes'):
        contour_f_counts(ok, ok, 1)
