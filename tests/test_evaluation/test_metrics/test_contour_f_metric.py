"""ContourFMetric: mmseg IoUMetric's J plus contour F and J&F, in any mmseg evaluator."""

import numpy as np
import pytest
import torch
from mmengine.registry import DefaultScope
from mmseg.evaluation import IoUMetric
from mmseg.registry import METRICS as MMSEG_METRICS

from mmhfpl.evaluation import ContourFMetric, contour_f_score


def _sample(pred: np.ndarray, gt: np.ndarray) -> dict:
    return dict(pred_sem_seg=dict(data=torch.from_numpy(pred)[None]),
                gt_sem_seg=dict(data=torch.from_numpy(gt)[None]))


@pytest.fixture
def label_maps():
    rng = np.random.default_rng(0)
    gts, preds = [], []
    for _ in range(4):
        gt = np.zeros((40, 50), dtype=np.int64)
        y, x = rng.integers(2, 20, 2)
        gt[y:y + 15, x:x + 20] = rng.integers(1, 4)
        gt[y - 1, x:x + 20] = 255
        pred = np.roll(gt.clip(max=3), rng.integers(-3, 4), axis=1)
        gts.append(gt)
        preds.append(pred)
    return preds, gts


@pytest.mark.parametrize('void_as_background', [True, False])
def test_metric_reports_j_f_and_mean(label_maps, void_as_background):
    preds, gts = label_maps
    meta = dict(classes=('background', 'a', 'b', 'c'))
    metric = ContourFMetric(void_as_background=void_as_background)
    reference = IoUMetric()
    for m in (metric, reference):
        m.dataset_meta = meta
        m.process({}, [_sample(p, g) for p, g in zip(preds, gts, strict=True)])
    out = metric.evaluate(len(preds))
    ref = reference.evaluate(len(preds))
    assert out['mIoU'] == ref['mIoU'], 'J is exactly mmseg IoUMetric mIoU'
    expected_f = contour_f_score(preds, gts, 4, void_as_background=void_as_background)['F']
    assert out['F'] == round(expected_f * 100, 2)
    assert out['J&F'] == round((out['mIoU'] + out['F']) / 2, 2)


def test_metric_builds_from_an_mmseg_evaluator_config():
    with DefaultScope.overwrite_default_scope('mmseg'):
        metric = MMSEG_METRICS.build(dict(type='mmhfpl.ContourFMetric', bound_th=0.01))
    assert isinstance(metric, ContourFMetric) and metric.bound_th == 0.01


def test_classes_absent_from_the_set_are_left_out_of_f_by_default():
    """An all-background model on data holding 1 of 5 classes: F is not inflated."""
    gts, preds = [], []
    for shift in range(3):
        gt = np.zeros((40, 40), dtype=np.int64)
        gt[10:25, 8 + shift:30] = 2  # only class 2 ('b') occurs
        gts.append(gt)
        preds.append(np.zeros_like(gt))  # all background
    meta = dict(classes=('background', 'a', 'b', 'c', 'd', 'e'))
    out = {}
    for count_absent in (False, True):
        metric = ContourFMetric(count_absent=count_absent)
        metric.dataset_meta = meta
        metric.process({}, [_sample(p, g) for p, g in zip(preds, gts, strict=True)])
        out[count_absent] = metric.evaluate(len(preds))
    # Default: the mean over the classes that occur; 'b' is missed entirely (F = 0).
    assert out[False]['F'] == 0.0
    # The authors' rule scores the four absent classes with F = 100 each: 4 * 100 / 5.
    assert out[True]['F'] == 80.0
    assert out[False]['mIoU'] == out[True]['mIoU']
    assert out[False]['J&F'] == round((out[False]['mIoU'] + 0.0) / 2, 2)
