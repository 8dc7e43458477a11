"""Contour quality F (the DAVIS boundary F-measure) for multi-class label maps.

For every class ``c`` the binary masks ``pred == c`` and ``gt == c`` are turned into
1-pixel boundary maps (:func:`seg2bmap`). A predicted boundary pixel is *matched* when a
GT boundary pixel of the same class lies within the tolerance disk around it, and vice
versa. Matched and total boundary-pixel counts are summed per class over the whole set,
then turned into precision, recall and F (:func:`contour_f_from_counts`).

Dilating a boundary map ``B`` with the footprint of ``skimage.morphology.disk(r)`` marks
exactly the pixels ``p`` with some ``b`` in ``B`` such that ``|p - b|^2 <= r^2`` (the disk
is ``{(dy, dx): dy^2 + dx^2 <= r^2}``). Since only the dilated map's values *at boundary
pixels* enter the counts, the implementation never builds dilated images: it collects
the boundary pixels of all classes at once from the label map (a pixel lies on the
boundary of class ``c`` iff it or one of its compared neighbours has label ``c`` and the
two labels differ) and answers "is there a same-class boundary pixel within distance
``r``?" with one k-d tree nearest-neighbour query per image and direction. The result
is identical to full-image binary dilation; the tests check this against
``scipy.ndimage.binary_dilation`` with the ``disk(r)`` footprint (what the deprecated
``skimage.morphology.binary_dilation`` runs) and that ``disk(r)`` is the ball above.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from scipy.spatial import cKDTree

__all__ = [
    'seg2bmap',
    'boundary_tolerance',
    'contour_f_counts',
    'contour_f_from_counts',
    'contour_f_score',
    'class_presence',
    'j_and_f',
]

#: Column order of the per-class count arrays.
COUNT_FIELDS = ('matched_pred', 'n_pred', 'matched_gt', 'n_gt')


def seg2bmap(mask: np.ndarray) -> np.ndarray:
    """1-pixel boundary map of a binary mask, with the DAVIS ``seg2bmap`` convention.

    A pixel is a boundary pixel when its value differs from its east, south or
    south-east neighbour. Neighbours outside the image are not compared: the last row
    compares east only, the last column south only, and the bottom-right corner is never
    a boundary pixel. For a filled rectangle the result is the closed 1-pixel ring whose
    top/left sides lie just outside the rectangle and bottom/right sides just inside.

    Args:
        mask: (H, W) mask; non-zero values are foreground.

    Returns:
        (H, W) boolean boundary map.

    Raises:
        ValueError: If ``mask`` is not two-dimensional.
    """
    mask = np.asarray(mask)
    if mask.ndim != 2:
        raise ValueError(f'seg2bmap expects a 2-D mask, got shape {mask.shape}')
    mask = mask.astype(bool, copy=False)
    bmap = np.zeros(mask.shape, dtype=bool)
    bmap[:, :-1] |= mask[:, :-1] != mask[:, 1:]  # east
    bmap[:-1, :] |= mask[:-1, :] != mask[1:, :]  # south
    bmap[:-1, :-1] |= mask[:-1, :-1] != mask[1:, 1:]  # south-east
    return bmap


def boundary_tolerance(shape: tuple[int, int], bound_th: float = 0.008) -> int:
    """Tolerance radius in pixels for an image of the given size.

    Args:
        shape: (H, W) of the image.
        bound_th: Values < 1 are a fraction of the image diagonal, the radius being
            ``ceil(bound_th * sqrt(H^2 + W^2))`` (DAVIS); values >= 1 are a radius in
            pixels (rounded up to an integer).

    Returns:
        The integer radius ``r`` of the tolerance disk.

    Raises:
        ValueError: If ``bound_th`` is negative or not finite.
    """
    if not math.isfinite(bound_th) or bound_th < 0:
        raise ValueError(f'bound_th must be a finite non-negative number, got {bound_th}')
    if bound_th >= 1:
        return math.ceil(bound_th)
    height, width = int(shape[0]), int(shape[1])
    # Exact integer sum then a correctly rounded sqrt: equals np.linalg.norm(shape).
    return math.ceil(bound_th * math.sqrt(height * height + width * width))


def _check_label_map(array: np.ndarray, name: str) -> np.ndarray:
    array = np.asarray(array)
    if array.ndim != 2:
        raise ValueError(f'{name} must be a 2-D (H, W) label map, got shape {array.shape}')
    if not (np.issubdtype(array.dtype, np.integer) or array.dtype == bool):
        raise ValueError(f'{name} must hold integer labels, got dtype {array.dtype}')
    return array


def _boundary_points(labels: np.ndarray, num_classes: int) -> tuple[np.ndarray, ...]:
    """All (class, pixel) boundary pairs of a label map for classes 0..num_classes-1.

    Equivalent to ``seg2bmap(labels == c)`` for every class ``c``: for a compared pair of
    pixels (p, q), ``(labels[p] == c) != (labels[q] == c)`` holds exactly when the two
    labels differ and one of them is ``c``, so p is a boundary pixel of ``labels[p]`` and of
    ``labels[q]``. Labels outside ``[0, num_classes)`` belong to no class.

    Returns:
        ``(cls, rows, cols)``: int64 arrays, one entry per distinct boundary pair.
    """
    height, width = labels.shape
    own = np.zeros((height, width), dtype=bool)
    neighbour_classes, neighbour_pixels = [], []
    # (p, q) slices of the east, south and south-east comparisons. Every p slice starts at
    # (0, 0), so coordinates inside it are image coordinates.
    pairs = (
        ((slice(None), slice(0, -1)), (slice(None), slice(1, None))),
        ((slice(0, -1), slice(None)), (slice(1, None), slice(None))),
        ((slice(0, -1), slice(0, -1)), (slice(1, None), slice(1, None))),
    )
    for p_sl, q_sl in pairs:
        lab_q = labels[q_sl]
        differ = labels[p_sl] != lab_q
        own[p_sl] |= differ
        rows, cols = np.nonzero(differ)
        neighbour_classes.append(lab_q[rows, cols].astype(np.int64))
        neighbour_pixels.append(rows.astype(np.int64) * width + cols)
    own_flat = np.flatnonzero(own)
    classes = np.concatenate([labels.ravel()[own_flat].astype(np.int64), *neighbour_classes])
    pixels = np.concatenate([own_flat, *neighbour_pixels])
    valid = (classes >= 0) & (classes < num_classes)
    keys = np.unique(classes[valid] * (height * width) + pixels[valid])
    cls, pix = np.divmod(keys, height * width)
    rows, cols = np.divmod(pix, width)
    return cls, rows, cols


def _matched(query: tuple[np.ndarray, ...], target: tuple[np.ndarray, ...], radius: int,
             width: int) -> np.ndarray:
    """For each query boundary pixel: is a target pixel of its class within ``radius``?

    Classes are separated by offsetting the column coordinate by ``class * stride`` with
    ``stride > width + radius``, so pixels of different classes are always farther apart
    than the search radius and one k-d tree serves all classes. Squared distances between
    pixels are integers, so searching within ``sqrt(radius^2 + 0.5)`` accepts exactly the
    distances with ``d^2 <= radius^2`` (the disk footprint) with no floating-point tie.
    """
    q_cls, q_rows, q_cols = query
    t_cls, t_rows, t_cols = target
    if q_cls.size == 0 or t_cls.size == 0:
        return np.zeros(q_cls.size, dtype=bool)
    stride = width + radius + 2
    tree = cKDTree(np.column_stack([t_rows, t_cols + t_cls * stride]).astype(np.float64),
                   balanced_tree=False)
    points = np.column_stack([q_rows, q_cols + q_cls * stride]).astype(np.float64)
    dist, _ = tree.query(points, k=1, distance_upper_bound=math.sqrt(radius * radius + 0.5))
    return np.isfinite(dist)


def contour_f_counts(pred: np.ndarray, gt: np.ndarray, num_classes: int,
                     bound_th: float = 0.008, void_as_background: bool = True,
                     void_label: int = 255) -> np.ndarray:
    """Per-class boundary counts of ONE image, to be summed over a set.

    Boundary maps follow :func:`seg2bmap` applied to ``pred == c`` and ``gt == c``; the
    tolerance radius is :func:`boundary_tolerance` of this image. A predicted boundary
    pixel is matched when it lies in the GT boundary map of its class dilated by
    ``disk(r)`` and vice versa.

    Void handling (GT pixels equal to ``void_label``):

    * ``void_as_background=True`` (default): GT void pixels are set to background (0)
      before boundaries are extracted; everything else is as without void.
    * ``void_as_background=False``: GT void pixels keep a label that is no class, so a
      class/void transition is a GT boundary of that class. Boundaries and their
      dilations are computed from the complete maps, then every boundary pixel (of
      prediction or GT) located on a void GT pixel is dropped from all four counts: it
      is neither a boundary pixel nor a match. Such pixels still make the *other* map's
      boundary pixels near them count as matched (the dilation is not masked), i.e. the
      evaluation is restricted to non-void pixel positions. Because seg2bmap puts the
      top/left side of a region's contour just outside it, the GT contour of an object
      surrounded by a void band is counted on its bottom/right sides only.

    Predicted labels outside ``[0, num_classes)`` (e.g. 255 in pseudo-labels) belong to
    no class.

    Args:
        pred: (H, W) integer predicted label map.
        gt: (H, W) integer GT label map with values in ``[0, num_classes)`` or void.
        num_classes: Number of classes including background (21 for VOC).
        bound_th: Tolerance, see :func:`boundary_tolerance`.
        void_as_background: Void handling, see above.
        void_label: GT label of void pixels.

    Returns:
        int64 array of shape (num_classes, 4), columns ``[matched_pred, n_pred,
        matched_gt, n_gt]`` (see ``COUNT_FIELDS``), row ``c`` for class ``c``.

    Raises:
        ValueError: On non-2-D or non-integer maps, a size mismatch, GT labels outside
            ``[0, num_classes)`` other than void, ``num_classes < 2`` or a negative
            ``bound_th``.
    """
    if num_classes < 2:
        raise ValueError(f'num_classes must be >= 2 (background + 1), got {num_classes}')
    pred = _check_label_map(pred, 'pred')
    gt = _check_label_map(gt, 'gt')
    if pred.shape != gt.shape:
        raise ValueError(f'pred shape {pred.shape} differs from gt shape {gt.shape}')
    if 0 <= void_label < num_classes:
        raise ValueError(f'void_label {void_label} collides with a class index')
    radius = boundary_tolerance(gt.shape, bound_th)
    void = gt == void_label
    bad = ~void & ((gt < 0) | (gt >= num_classes))
    if bad.any():
        raise ValueError(f'gt holds labels outside [0, {num_classes}) other than void '
                         f'{void_label}: {np.unique(gt[bad])[:10].tolist()}')
    has_void = bool(void.any())
    if has_void and void_as_background:
        gt = np.where(void, 0, gt)
    width = gt.shape[1]
    pred_pts = _boundary_points(pred, num_classes)
    gt_pts = _boundary_points(gt, num_classes)
    pred_hit = _matched(pred_pts, gt_pts, radius, width)
    gt_hit = _matched(gt_pts, pred_pts, radius, width)
    pred_keep = np.ones(pred_hit.shape, dtype=bool)
    gt_keep = np.ones(gt_hit.shape, dtype=bool)
    if has_void and not void_as_background:
        pred_keep = ~void[pred_pts[1], pred_pts[2]]
        gt_keep = ~void[gt_pts[1], gt_pts[2]]
    counts = np.stack([
        np.bincount(pred_pts[0][pred_keep & pred_hit], minlength=num_classes),
        np.bincount(pred_pts[0][pred_keep], minlength=num_classes),
        np.bincount(gt_pts[0][gt_keep & gt_hit], minlength=num_classes),
        np.bincount(gt_pts[0][gt_keep], minlength=num_classes),
    ], axis=1)
    return counts.astype(np.int64)


def contour_f_from_counts(counts: np.ndarray, present: np.ndarray | None = None) -> dict:
    """Precision, recall and F per class from accumulated counts.

    Per class, on the accumulated counts: precision = matched_pred / n_pred, recall =
    matched_gt / n_gt, F = 2PR / (P + R) (0 when P + R = 0). Classes lacking boundary
    pixels follow the authors' evaluation: only GT has some -> P = 1, R = 0; only the
    prediction -> P = 0, R = 1; neither -> P = 1, R = 1 (F = 1).

    With ``present`` the mean F runs over the foreground classes that occur (in the GT or
    the prediction) somewhere in the evaluated set, as mIoU leaves absent classes out, and
    absent classes get F = nan in ``per_class_F``; without it every class counts, absent
    ones with F = 1 (the authors' evaluation, which equals the other rule on a set where
    every class occurs, e.g. VOC val).

    Args:
        counts: (num_classes, 4) array ``[matched_pred, n_pred, matched_gt, n_gt]``,
            row 0 = background, e.g. a sum of :func:`contour_f_counts` results.
        present: Optional (num_classes,) bool, which classes occur in the evaluated set.

    Returns:
        Dict with ``'F'`` (mean F over foreground classes 1..num_classes-1, in [0, 1]),
        ``'per_class_F'``, ``'per_class_precision'``, ``'per_class_recall'`` (float64
        arrays over the foreground classes), ``'background_F'`` and ``'counts'`` (the
        input as int64).
    """
    counts = np.asarray(counts)
    if counts.ndim != 2 or counts.shape[1] != 4 or counts.shape[0] < 2:
        raise ValueError(f'counts must have shape (num_classes >= 2, 4), got {counts.shape}')
    counts = counts.astype(np.int64)
    matched_pred, n_pred, matched_gt, n_gt = counts.T
    if (counts < 0).any() or (matched_pred > n_pred).any() or (matched_gt > n_gt).any():
        raise ValueError('counts must be non-negative with matched <= total')
    if ((matched_pred > 0) & (n_gt == 0)).any() or ((matched_gt > 0) & (n_pred == 0)).any():
        raise ValueError('counts have matches without boundary pixels on the other side')
    # An empty side scores 1 and matches nothing on the other side, which yields all three
    # conventions: only GT -> P = 1, R = 0 / n_gt = 0; only prediction -> P = 0 / n_pred = 0,
    # R = 1; neither -> P = R = 1.
    precision = np.divide(matched_pred, n_pred, out=np.ones(len(counts)), where=n_pred > 0)
    recall = np.divide(matched_gt, n_gt, out=np.ones(len(counts)), where=n_gt > 0)
    denom = precision + recall
    f_score = np.divide(2 * precision * recall, denom, out=np.zeros(len(counts)),
                        where=denom > 0)
    if present is not None:
        present = np.asarray(present, dtype=bool)
        if present.shape != (len(counts), ):
            raise ValueError(f'present must have shape ({len(counts)},), got {present.shape}')
        f_score = np.where(present, f_score, np.nan)
    foreground = f_score[1:]
    mean_f = float(np.nanmean(foreground)) if np.isfinite(foreground).any() else float('nan')
    return {
        'F': mean_f,
        'per_class_F': foreground,
        'per_class_precision': precision[1:],
        'per_class_recall': recall[1:],
        'background_F': float(f_score[0]),
        'counts': counts,
    }


def class_presence(pred: np.ndarray, gt: np.ndarray, num_classes: int,
                   void_label: int = 255) -> np.ndarray:
    """(num_classes,) bool: which classes occur in the prediction or the (non-void) GT."""
    pred = np.asarray(pred)
    gt = np.asarray(gt)
    values = np.concatenate([pred[pred != void_label].ravel(), gt[gt != void_label].ravel()])
    values = values[(values >= 0) & (values < num_classes)].astype(np.int64)
    return np.bincount(values, minlength=num_classes) > 0


def contour_f_score(preds: Sequence[np.ndarray], gts: Sequence[np.ndarray], num_classes: int,
                    bound_th: float = 0.008, void_as_background: bool = True,
                    void_label: int = 255, count_absent: bool = False) -> dict:
    """Contour quality F over a set of label maps (counts accumulated over the set).

    Sums :func:`contour_f_counts` over all image pairs, then applies
    :func:`contour_f_from_counts`; this is not a mean of per-image F values.

    Args:
        preds: Sequence of (H, W) integer predicted label maps.
        gts: Sequence of GT label maps, same sizes as ``preds`` pairwise.
        num_classes: Number of classes including background (21 for VOC).
        bound_th: Tolerance, see :func:`boundary_tolerance`.
        void_as_background: Void handling, see :func:`contour_f_counts`.
        void_label: GT label of void pixels.
        count_absent: Count classes absent from the whole set with F = 1 (the authors'
            evaluation) instead of leaving them out of the mean as mIoU does (default).

    Returns:
        The dict of :func:`contour_f_from_counts`.

    Raises:
        ValueError: If the sequences are empty or differ in length, a pair differs in size (the
            message names its index), or :func:`contour_f_counts` rejects a pair.
    """
    if len(preds) != len(gts):
        raise ValueError(f'got {len(preds)} predictions but {len(gts)} ground truths')
    if len(preds) == 0:
        raise ValueError('contour_f_score needs at least one image')
    total = np.zeros((num_classes, 4), dtype=np.int64)
    present = np.zeros(num_classes, dtype=bool)
    for index, (pred, gt) in enumerate(zip(preds, gts, strict=True)):
        pred_shape, gt_shape = np.shape(pred), np.shape(gt)
        if pred_shape != gt_shape:
            raise ValueError(f'size mismatch at index {index}: prediction {pred_shape} '
                             f'vs ground truth {gt_shape}')
        try:
            total += contour_f_counts(pred, gt, num_classes, bound_th, void_as_background,
                                      void_label)
        except ValueError as err:
            raise ValueError(f'image at index {index}: {err}') from err
        present |= class_presence(pred, gt, num_classes, void_label)
    return contour_f_from_counts(total, None if count_absent else present)


def j_and_f(j_score: float, f_score: float) -> float:
    """J&F of seed 000: the mean of region similarity J (mIoU) and contour quality F."""
    return (j_score + f_score) / 2
