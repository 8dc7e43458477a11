"""J, contour F and J&F as an mmseg metric (seed 000 §5.1, "Evaluation metrics")."""

from collections import OrderedDict
from collections.abc import Sequence

import numpy as np
from mmengine.logging import print_log
from mmseg.evaluation import IoUMetric
from prettytable import PrettyTable

from mmhfpl.registry import METRICS

from ..functional import contour_f_counts, contour_f_from_counts, j_and_f


@METRICS.register_module()
class ContourFMetric(IoUMetric):
    """Region similarity J, contour quality F and their mean J&F.

    J is mmseg's ``IoUMetric`` mIoU over all classes including background (this class
    extends it, so ``aAcc``/``mAcc``/``mDice`` options and its per-class IoU table work
    as usual). F is the DAVIS boundary F-measure per class with counts accumulated over
    the whole set and averaged over foreground classes
    (:func:`mmhfpl.evaluation.contour_f_score`). Reported in percent like mmseg:
    ``mIoU`` (= J), ``F`` and ``J&F``, plus a per-class F table in the log.

    Args:
        bound_th: Boundary tolerance as a fraction of the image diagonal (DAVIS: 0.008).
        void_as_background: Set GT void pixels to background before extracting
            boundaries (the authors' evaluation, default) instead of excluding them.
        count_absent: Count the classes absent from the whole evaluated set (no GT and no
            predicted pixel) with F = 100, as the authors' evaluation does, instead of
            leaving them out of the mean as mIoU does (default). Both agree on a set where
            every class occurs (VOC val); on subsets and custom datasets the authors' rule
            inflates F.
        **kwargs: Arguments of ``mmseg.evaluation.IoUMetric`` (``ignore_index`` is the
            void label for both J and F).
    """

    def __init__(self, bound_th: float = 0.008, void_as_background: bool = True,
                 count_absent: bool = False, **kwargs) -> None:
        super().__init__(**kwargs)
        self.bound_th = bound_th
        self.void_as_background = void_as_background
        self.count_absent = count_absent

    def process(self, data_batch: dict, data_samples: Sequence[dict]) -> None:
        num_classes = len(self.dataset_meta['classes'])
        before = len(self.results)
        super().process(data_batch, data_samples)
        if self.format_only:
            return
        for offset, data_sample in enumerate(data_samples):
            pred = data_sample['pred_sem_seg']['data'].squeeze().cpu().numpy()
            gt = data_sample['gt_sem_seg']['data'].squeeze().cpu().numpy()
            counts = contour_f_counts(pred.astype(np.int64), gt.astype(np.int64), num_classes,
                                      self.bound_th, self.void_as_background,
                                      void_label=self.ignore_index)
            self.results[before + offset] = (*self.results[before + offset], counts)

    def compute_metrics(self, results: list) -> dict[str, float]:
        if self.format_only:
            return super().compute_metrics(results)
        metrics = super().compute_metrics([result[:4] for result in results])
        # A class occurs when it has pixels in the GT or the prediction (mIoU's rule).
        present = sum(result[1] for result in results).cpu().numpy() > 0
        contour = contour_f_from_counts(sum(result[4] for result in results),
                                        None if self.count_absent else present)
        f_score = round(float(contour['F']) * 100, 2)
        out = OrderedDict(metrics)
        out['F'] = f_score
        if 'mIoU' in metrics:
            out['J&F'] = round(j_and_f(metrics['mIoU'], f_score), 2)
        table = PrettyTable()
        table.add_column('Class', list(self.dataset_meta['classes'][1:]))
        for key in ('F', 'precision', 'recall'):
            values = contour['per_class_F' if key == 'F' else f'per_class_{key}']
            table.add_column(key, np.round(values * 100, 2).tolist())
        print_log('per class contour F:\n' + table.get_string(), logger='current')
        return out
