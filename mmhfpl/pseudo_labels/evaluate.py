"""J, F and J&F of CAM files and pseudo-label directories against GT masks."""

import os.path as osp
from collections.abc import Sequence

import numpy as np
import torch
from mmseg.evaluation import IoUMetric

from mmhfpl.evaluation import contour_f_counts, contour_f_from_counts, j_and_f
from mmhfpl.structures import load_cam_file, load_label_png
from mmhfpl.utils.progress import track

from .make_labels import BackgroundRule, record_to_label


class JFAccumulator:
    """Accumulates J (mmseg's mIoU, background included) and contour F over images.

    J uses ``IoUMetric.intersect_and_union`` and ``total_area_to_metrics``, and F the
    accumulated boundary counts of :func:`mmhfpl.evaluation.contour_f_counts` with the
    same absent-class rule, so both equal what ``ContourFMetric`` reports.
    """

    def __init__(self, num_classes: int, ignore_index: int = 255, bound_th: float = 0.008,
                 void_as_background: bool = True, count_absent: bool = False) -> None:
        self.num_classes = num_classes
        self.count_absent = count_absent
        self.ignore_index = ignore_index
        self.bound_th = bound_th
        self.void_as_background = void_as_background
        self.areas = [torch.zeros(num_classes, dtype=torch.float64) for _ in range(4)]
        self.counts = np.zeros((num_classes, 4), dtype=np.int64)
        self.num_images = 0

    def add(self, pred: np.ndarray, gt: np.ndarray) -> None:
        if pred.shape != gt.shape:
            raise ValueError(f'prediction size {pred.shape} differs from GT size {gt.shape}')
        areas = IoUMetric.intersect_and_union(torch.from_numpy(pred.astype(np.int64)),
                                              torch.from_numpy(gt.astype(np.int64)),
                                              self.num_classes, self.ignore_index)
        for total, area in zip(self.areas, areas, strict=True):
            total += area.double()
        self.counts += contour_f_counts(pred, gt, self.num_classes, self.bound_th,
                                        self.void_as_background, void_label=self.ignore_index)
        self.num_images += 1

    def result(self) -> dict:
        """``J``, ``F``, ``J&F`` in percent and per-class ``IoU``/``per_class_F`` arrays."""
        if self.num_images == 0:
            raise ValueError('no image was evaluated')
        iou = IoUMetric.total_area_to_metrics(*self.areas, metrics=['mIoU'])['IoU']
        iou = np.asarray(iou, dtype=np.float64)
        present = self.areas[1].numpy() > 0  # union: pixels in the GT or the prediction
        contour = contour_f_from_counts(self.counts, None if self.count_absent else present)
        j_score = float(np.nanmean(iou)) * 100
        f_score = contour['F'] * 100
        return {'J': j_score, 'F': f_score, 'J&F': j_and_f(j_score, f_score), 'IoU': iou * 100,
                'per_class_F': contour['per_class_F'] * 100, 'images': self.num_images}


def _check_labels(record_labels: np.ndarray, gt: np.ndarray, cam_path: str) -> None:
    present = set((np.unique(gt[(gt != 0) & (gt != 255)]) - 1).tolist())
    extra = sorted(set(record_labels.tolist()) - present)
    if extra:
        raise ValueError(f'{cam_path}: CAMs of classes {extra} that are not in the image '
                         f'labels {sorted(present)}')


def evaluate_cams(cam_dir: str, samples: Sequence[tuple[str, str]], num_classes: int,
                  rules: Sequence[BackgroundRule], progress: bool = True,
                  **accumulator_args) -> list[dict]:
    """J/F/J&F of CAM-derived labels (no CRF) for each background rule of a sweep.

    Args:
        cam_dir: Directory of ``<id>.npz`` CAM files.
        samples: ``(id, gt_mask_path)`` pairs.
        num_classes: Classes including background.
        rules: Background rules to compare (e.g. a threshold sweep).
        progress: Show a progress bar over the images.
        **accumulator_args: Options of :class:`JFAccumulator`.
    """
    accumulators = [JFAccumulator(num_classes, **accumulator_args) for _ in rules]
    for sample_id, gt_path in track(samples, len(samples), progress):
        cam_path = osp.join(cam_dir, f'{sample_id}.npz')
        record = load_cam_file(cam_path)
        gt = load_label_png(gt_path)
        if record.image_size != gt.shape:
            raise ValueError(f'{cam_path}: CAM size {record.image_size} differs from the GT '
                             f'size {gt.shape} of {gt_path}')
        _check_labels(record.labels, gt, cam_path)
        for rule, accumulator in zip(rules, accumulators, strict=True):
            accumulator.add(record_to_label(record, rule), gt)
    return [accumulator.result() for accumulator in accumulators]


def evaluate_label_dir(label_dir: str, samples: Sequence[tuple[str, str]], num_classes: int,
                       progress: bool = True, **accumulator_args) -> dict:
    """J/F/J&F of a directory of label PNGs (``<id>.png``) against GT masks (with a
    progress bar unless ``progress=False``)."""
    accumulator = JFAccumulator(num_classes, **accumulator_args)
    for sample_id, gt_path in track(samples, len(samples), progress):
        pred_path = osp.join(label_dir, f'{sample_id}.png')
        pred = load_label_png(pred_path)
        gt = load_label_png(gt_path)
        if pred.shape != gt.shape:
            raise ValueError(f'{pred_path}: size {pred.shape} differs from the GT size '
                             f'{gt.shape} of {gt_path}')
        accumulator.add(pred, gt)
    return accumulator.result()


def format_table(rows: Sequence[dict], first_column: str) -> str:
    """A plain-text table of J, F and J&F rows (``rows`` carry a ``name`` entry)."""
    lines = [f'{first_column:>24} {"J":>7} {"F":>7} {"J&F":>7}']
    for row in rows:
        lines.append(f'{row["name"]:>24} {row["J"]:7.2f} {row["F"]:7.2f} {row["J&F"]:7.2f}')
    return '\n'.join(lines)
