"""Per-image T/NT proportions Q for Spatial-BCE training and their periodic update."""

import os.path as osp
from collections.abc import Sequence

import numpy as np
import torch
from mmengine.dist import all_gather_object, get_dist_info, is_main_process
from mmengine.hooks import Hook

from mmhfpl.models.heads.spatial_bce_head import FG_FRACTION_KEY
from mmhfpl.pseudo_labels.cam_generation import cam_tta_pipeline, tta_record
from mmhfpl.pseudo_labels.crf import CRFConfig, read_crf_image
from mmhfpl.pseudo_labels.dataset_access import build_split
from mmhfpl.pseudo_labels.make_labels import (
    ADAPTIVE_CRF_KERNELS,
    BackgroundRule,
    record_to_label,
)
from mmhfpl.pseudo_labels.tnt_ratio import fg_fraction, load_q_file, save_q_file, tnt_ratio
from mmhfpl.registry import HOOKS
from mmhfpl.structures import image_id

from .alternating_phase_hook import model_head

CHECKPOINT_KEY = 'tnt_ratio'


@HOOKS.register_module()
class QUpdateHook(Hook):
    """Feed Q to Spatial-BCE and re-estimate it every ``interval`` iterations (seed 003).

    * Start: Q of every training image comes from ``q_file`` (see
      :mod:`mmhfpl.pseudo_labels.tnt_ratio`; ``tools/make_q_file.py`` writes it from the
      dCRF pseudo-labels of a BCE-trained baseline, Eq. 6), unless a resumed checkpoint
      carries a newer Q, which wins.
    * Every iteration: each data sample gets ``fg_fraction`` = q = Q / (1 + Q) of its image
      (C,), the target fractions of the threshold selection and of the T/NT KL loss.
    * After every ``interval`` iterations (the last iteration of a phase, Algorithm 1):
      the current network labels the training images with its adaptive thresholds (Eq. 9,
      optionally refined by dCRF, as the authors do before re-estimating Q), Q is recounted
      from those labels (Eq. 6), the per-rank shards are gathered, and rank 0 writes
      ``<out_dir>/q_iter_<n>.npz``. The update runs before checkpoints are saved in the same
      iteration, and the current Q is stored in every checkpoint (key ``tnt_ratio``), so
      ``--resume`` continues with the Q the run had reached.

    The labelling uses the TTA pipeline of CAM generation (``scales``, ``flip``) on the
    training split of the config (``train_dataloader.dataset`` in test mode).

    A labelled class that the new labels miss entirely would get Q = 0, which is absorbing:
    q = 0 puts its threshold at the maximum probability, the probability phase then pushes
    every pixel of the class to 0, and the next update finds no pixel again. This happens
    when the threshold branch is still poorly trained (short phases, as on the toy set).
    With ``keep_missing`` (default) such classes keep their previous Q; set it to False
    for the plain re-count of the paper and the authors' code.

    Args:
        q_file: Initial Q file.
        interval: Iterations between Q updates (the phase length, 8k in the paper).
        scales: TTA scales of the labelling pass.
        flip: Whether the labelling pass adds flipped views.
        crf: dCRF parameters (keyword arguments of :class:`CRFConfig` over the authors'
            label-dCRF kernels ``ADAPTIVE_CRF_KERNELS``; ``dict()`` for their setting) to
            refine the labels with, or None for Eq. 9 labels as they are.
        out_dir: Directory of the updated Q files (default ``<work_dir>/q``).
        keep_missing: Keep the previous Q of labelled classes the new labels miss.
        normalize: Compare the thresholds with max-normalised probabilities (the authors'
            labels) or, if False, with the raw ones (the training rule; with it, classes
            are missed far more often, see ``keep_missing``).
    """

    priority = 'NORMAL'  # after_train_iter runs before CheckpointHook (VERY_LOW)

    def __init__(self, q_file: str, interval: int, scales: Sequence[float] = (1.0, ),
                 flip: bool = False, crf: dict | None = None,
                 out_dir: str | None = None, keep_missing: bool = True,
                 normalize: bool = True) -> None:
        if interval < 1:
            raise ValueError(f'interval must be positive, got {interval}')
        self.q_file = q_file
        self.interval = interval
        self.scales = tuple(scales)
        self.flip = flip
        self.crf = CRFConfig(**{**ADAPTIVE_CRF_KERNELS, **crf}) if crf is not None else None
        self.out_dir = out_dir
        self.keep_missing = keep_missing
        self.normalize = normalize
        self.ratios: dict[str, np.ndarray] | None = None
        self._dataset = None

    # state ---------------------------------------------------------------------------
    def before_train(self, runner) -> None:
        num_classes = model_head(runner).num_classes
        if self.ratios is None:
            self.ratios = load_q_file(self.q_file, num_classes)
            runner.logger.info(f'QUpdateHook: initial Q of {len(self.ratios)} images from '
                               f'{self.q_file}')
        if self.out_dir is None:
            self.out_dir = osp.join(runner.work_dir, 'q')

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        if self.ratios is None:
            return
        ids = sorted(self.ratios)
        checkpoint[CHECKPOINT_KEY] = dict(
            ids=ids, ratios=torch.from_numpy(np.stack([self.ratios[i] for i in ids])))

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        state = checkpoint.get(CHECKPOINT_KEY)
        if state is None:
            return
        table = state['ratios'].numpy().astype(np.float32)
        self.ratios = {str(i): row for i, row in zip(state['ids'], table, strict=True)}
        runner.logger.info(f'QUpdateHook: Q of {len(self.ratios)} images restored from the '
                           'checkpoint')

    # training ------------------------------------------------------------------------
    def before_train_iter(self, runner, batch_idx: int, data_batch=None) -> None:
        if data_batch is None:
            return
        for sample in data_batch['data_samples']:
            sample_id = image_id(sample.img_path)
            if sample_id not in self.ratios:
                raise KeyError(f'image {sample_id!r} has no T/NT ratio in {self.q_file}; '
                               'write the Q file for the training split')
            q = torch.from_numpy(fg_fraction(self.ratios[sample_id]))
            sample.set_field(q, FG_FRACTION_KEY, dtype=torch.Tensor)

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        if self.every_n_train_iters(runner, self.interval):
            self.update(runner)

    @torch.no_grad()
    def update(self, runner) -> None:
        """Recompute Q of all training images with the current network (all ranks)."""
        model = runner.model
        num_classes = model_head(runner).num_classes
        if self._dataset is None:
            self._dataset = build_split(runner.cfg, pipeline=cam_tta_pipeline(
                self.scales, self.flip), loader='train_dataloader')
        rank, world_size = get_dist_info()
        was_training = model.training
        model.eval()
        local, kept = {}, 0
        rule = BackgroundRule(adaptive=True, normalize=self.normalize)
        for index in range(rank, len(self._dataset), world_size):
            info = self._dataset.get_data_info(index)
            views = self._dataset[index]
            record = tta_record(model, views, num_classes, info['gt_label'])
            image = read_crf_image(info['img_path']) if self.crf is not None else None
            label = record_to_label(record, rule, image, self.crf)
            sample_id = image_id(info['img_path'])
            ratio = tnt_ratio(label, num_classes)
            if self.keep_missing and sample_id in self.ratios:
                missing = np.zeros(num_classes, dtype=bool)
                missing[np.asarray(info['gt_label'], dtype=np.int64)] = True
                missing &= ratio == 0
                ratio[missing] = self.ratios[sample_id][missing]
                kept += int(missing.sum())
            local[sample_id] = (ratio, np.asarray(info['gt_label'], dtype=np.int64))
        model.train(was_training)
        merged: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        for part in all_gather_object(local):
            merged.update(part)
        kept = sum(all_gather_object(kept))
        self.ratios.update({key: ratio for key, (ratio, _) in merged.items()})
        path = osp.join(self.out_dir, f'q_iter_{runner.iter + 1}.npz')
        if is_main_process():
            save_q_file(path, self.ratios)
        labelled = [fg_fraction(ratio[labels]) for ratio, labels in merged.values()]
        mean_q = float(np.concatenate(labelled).mean()) if labelled else 0.0
        runner.logger.info(
            f'QUpdateHook: Q of {len(merged)} images updated at iteration {runner.iter + 1} '
            f'(mean q of labelled classes {mean_q:.3f}; {kept} labelled classes without '
            f'pixels kept their previous Q); saved to {path}')
