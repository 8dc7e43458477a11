"""Pseudo-label maps from CAM files, optionally refined by a dense CRF.

Background is decided in one of five ways:

* ``bg_threshold=t``: a constant background score t competes with the CAMs (the usual
  "bg threshold" of CAM evaluation);
* ``alpha=a``: background score (1 - max_c r_c)^a, AffinityNet/SEAM style;
* ``adaptive=True``: the per-class thresholds t_c stored with the CAMs (seed 003 Eq. 9).
  By default (``normalize=True``) as the authors' inference (``make_cam.py``) does: each
  pixel keeps only its most probable labelled class c*, every class map is divided by its
  maximum over the pixels where it is that class, and the pixel takes c* if the
  normalised value exceeds t_c*, else background. ``normalize=False`` compares the raw
  probabilities: argmax_c (p_c - t_c) if that is > 0, else background, exactly the
  decision rule the network was trained with;
* ``bg_scale=k``: the model's own background map stored with the CAMs (SIPE's IS-CAM
  background channel) times k competes with the class maps (SIPE: k = 1 for its CAM
  labels, 0.5 for the confident background of its IRN seeds);
* ``ppg_alpha=a``: PMM's proportional pseudo-masks (:mod:`.proportional_masks`): CV
  smoothing, a binary dCRF per class with background power a (PMM: 11), overlaps resolved
  by importance. It makes labels, not scores, and needs the image; ``cv_scale`` and
  ``cam_threshold`` are its other parameters, and ``crf`` (if set) replaces PMM's dCRF
  kernels (e.g. widths scaled for small images).

With ``crf`` set, the background and class scores (normalised per pixel) are refined by
:func:`mmhfpl.pseudo_labels.crf.dense_crf` before the argmax. Adaptive labels are refined as
the Spatial-BCE authors do: the hard Eq. 9 labels are the unary of
:func:`mmhfpl.pseudo_labels.crf.dense_crf_labels` (confidence 0.7), with the kernels of
``crf``; :data:`ADAPTIVE_CRF_KERNELS` holds the authors' bilateral kernel. Labels are written as
VOC palette PNGs (0 background, c + 1 for class c) that mmseg datasets read directly.
"""

import logging
import os
import os.path as osp
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
import torch
from mmengine.dist import barrier, get_dist_info
from mmengine.logging import print_log
from PIL import Image

from mmhfpl.structures import VOID, CAMRecord, class_ids, load_cam_file, save_label_png

from .crf import CRFConfig, crf_map, dense_crf, dense_crf_labels, read_crf_image
from .proportional_masks import PMM_CRF, proportional_pseudo_mask

#: Bilateral kernel of the Spatial-BCE authors' label dCRF (sxy 40, srgb 5); the Gaussian
#: kernel (sxy 3, compat 3) and 10 iterations are the :class:`CRFConfig` defaults.
ADAPTIVE_CRF_KERNELS = dict(bilateral_sxy=40.0, bilateral_srgb=5.0)
#: Probability the label dCRF of adaptive labels gives the Eq. 9 label of a pixel.
LABEL_CRF_GT_PROB = 0.7


@dataclass(frozen=True)
class BackgroundRule:
    """How background competes with the CAMs (exactly one of the five is set).

    ``normalize`` applies to ``adaptive`` only: keep each pixel's top class and divide each
    class map by its maximum before comparing it with the threshold (the authors'
    inference, :func:`adaptive_normalized`) instead of using the raw probabilities.
    """

    bg_threshold: float | None = None
    alpha: float | None = None
    adaptive: bool = False
    normalize: bool = True
    bg_scale: float | None = None
    ppg_alpha: float | None = None
    cv_scale: float = 0.3
    cam_threshold: float = 0.05

    def __post_init__(self) -> None:
        chosen = ((self.bg_threshold is not None) + (self.alpha is not None) + self.adaptive
                  + (self.bg_scale is not None) + (self.ppg_alpha is not None))
        if chosen != 1:
            raise ValueError('set exactly one of bg_threshold, alpha, adaptive, bg_scale and '
                             'ppg_alpha')


def adaptive_normalized(probs: np.ndarray, eps: float = 1e-8) -> np.ndarray:
    """Probabilities (L, H, W) as the Spatial-BCE authors compare them with the thresholds.

    Each pixel keeps only its largest class (ties keep all of them), the others become 0;
    each map is then divided by its maximum + ``eps`` (``make_cam.py``).
    """
    if len(probs) == 0:
        return probs
    winners = np.where(probs >= probs.max(axis=0, keepdims=True), probs, 0)
    return winners / (winners.max(axis=(1, 2), keepdims=True) + eps)


def _peak(cams: np.ndarray | torch.Tensor) -> np.ndarray | torch.Tensor:
    """(1, H, W) maximum over the class maps (0 where there is no class)."""
    if isinstance(cams, torch.Tensor):
        return (cams.amax(dim=0, keepdim=True) if len(cams)
                else cams.new_zeros(1, *cams.shape[1:]))
    return (cams.max(axis=0, keepdims=True) if len(cams)
            else np.zeros((1, *cams.shape[1:]), cams.dtype))


def scores_with_background(cams: np.ndarray | torch.Tensor, rule: BackgroundRule,
                           thresholds: np.ndarray | None = None,
                           background: np.ndarray | torch.Tensor | None = None
                           ) -> np.ndarray | torch.Tensor:
    """(L + 1, H, W) scores: background by ``rule``, then the L class maps.

    The one home of the background rules: pseudo-labels, the seed labels of AffinityNet and
    IRN, their ``predict`` and the Q updates all call it. ``cams`` may be a numpy array or a
    tensor (the result is of the same kind); ``thresholds`` (L,) are needed by the adaptive
    rule, whose class channels are the margins p - t (see the module docstring), and the
    stored ``background`` map (H, W) by the ``bg_scale`` rule.
    """
    if rule.ppg_alpha is not None:
        raise ValueError('proportional pseudo-masks (ppg_alpha) are labels, not scores: '
                         'use record_to_label with the image')
    if rule.bg_scale is not None:
        if background is None:
            raise ValueError('bg_scale needs a background map, but the CAMs have none (only '
                             'models that predict background, e.g. SIPE, store one)')
        if isinstance(cams, torch.Tensor):
            background = torch.as_tensor(background, dtype=cams.dtype, device=cams.device)
            return torch.cat([rule.bg_scale * background[None], cams])
        return np.concatenate([(rule.bg_scale * background[None]).astype(cams.dtype), cams])
    if rule.adaptive:
        if isinstance(cams, torch.Tensor):
            raise TypeError('the adaptive rule labels CAM records (numpy arrays), got a tensor')
        if thresholds is None:
            raise ValueError('adaptive thresholds requested but the CAM file has none')
        if rule.normalize:
            cams = adaptive_normalized(cams)
        margins = cams - thresholds[:, None, None].astype(cams.dtype)
        return np.concatenate([np.zeros((1, *cams.shape[1:]), cams.dtype), margins])
    if rule.alpha is not None:
        background = (1 - _peak(cams)) ** rule.alpha
    elif isinstance(cams, torch.Tensor):
        background = cams.new_full((1, *cams.shape[1:]), rule.bg_threshold)
    else:
        background = np.full((1, *cams.shape[1:]), rule.bg_threshold, dtype=cams.dtype)
    if isinstance(cams, torch.Tensor):
        return torch.cat([background.to(cams.dtype), cams])
    return np.concatenate([background.astype(cams.dtype), cams])


def class_scores(record: CAMRecord, rule: BackgroundRule) -> np.ndarray:
    """(L + 1, H, W) scores of a CAM record: background first, then the labelled classes."""
    return scores_with_background(record.cams, rule, record.thresholds, record.background)


def record_to_label(record: CAMRecord, rule: BackgroundRule, image: np.ndarray | None = None,
                    crf: CRFConfig | None = None,
                    min_confidence: float | None = None) -> np.ndarray:
    """The (H, W) uint8 pseudo-label of one image.

    With ``rule.ppg_alpha`` the label is PMM's proportional pseudo-mask of the image, whose
    per-class dCRF takes its kernels from ``crf`` (default: PMM's, ``PMM_CRF``).

    With ``min_confidence`` (soft dCRF only) pixels whose dCRF posterior of the winning
    label is not above it become ``VOID`` (255): PMM's heat maps for multi-crop
    training keep the pixels above 0.9 of the dCRF with background (1 - max CAM)^24.
    """
    if min_confidence is not None:
        if crf is None or rule.adaptive or rule.ppg_alpha is not None:
            raise ValueError('min_confidence needs the soft dCRF (crf, and a rule other than '
                             'adaptive and ppg_alpha)')
        if not 0 <= min_confidence < 1:
            raise ValueError(f'min_confidence must lie in [0, 1), got {min_confidence}')
    if rule.ppg_alpha is not None:
        if image is None:
            raise ValueError('proportional pseudo-masks (ppg_alpha) need the image')
        index = proportional_pseudo_mask(image, record.cams, rule.ppg_alpha,
                                         rule.cam_threshold, rule.cv_scale,
                                         PMM_CRF if crf is None else crf)
        return class_ids(record.labels)[index]
    scores = class_scores(record, rule)
    if crf is not None and len(record.labels) > 0:  # no class: all background, nothing to refine
        if image is None:
            raise ValueError('dCRF refinement needs the image')
        if image.shape[:2] != record.image_size:
            raise ValueError(f'image size {image.shape[:2]} differs from the CAM size '
                             f'{record.image_size}')
        if rule.adaptive:
            index = dense_crf_labels(
                image, scores.argmax(axis=0), len(scores), gt_prob=LABEL_CRF_GT_PROB,
                iterations=crf.iterations, gaussian_sxy=crf.gaussian_sxy / crf.scale_factor,
                gaussian_compat=crf.gaussian_compat,
                bilateral_sxy=crf.bilateral_sxy / crf.scale_factor,
                bilateral_srgb=crf.bilateral_srgb, bilateral_compat=crf.bilateral_compat)
            return class_ids(record.labels)[index]
        scores = dense_crf(image, scores.clip(min=0), **asdict(crf))
        if min_confidence is not None:
            label = class_ids(record.labels)[scores.argmax(axis=0)]
            label[scores.max(axis=0) <= min_confidence] = VOID
            return label
    return class_ids(record.labels)[scores.argmax(axis=0)]


@dataclass(frozen=True)
class _Job:
    cam_path: str
    image_path: str | None
    out_path: str
    rule: BackgroundRule
    crf: CRFConfig | None
    min_confidence: float | None = None


def _image_size(path: str) -> tuple[int, int]:
    """(H, W) of an image from its header."""
    try:
        with Image.open(path) as image:
            return image.size[1], image.size[0]
    except FileNotFoundError:
        raise FileNotFoundError(f'image not found: {path}') from None
    except OSError as err:
        raise ValueError(f'{path}: cannot read the image ({err})') from err


def _write_label(job: _Job) -> str:
    record = load_cam_file(job.cam_path)
    image = None
    if job.image_path is not None:
        needs_image = job.crf is not None or job.rule.ppg_alpha is not None
        image = read_crf_image(job.image_path) if needs_image else None
        size = image.shape[:2] if image is not None else _image_size(job.image_path)
        if tuple(size) != record.image_size:
            raise ValueError(f'{job.cam_path}: CAMs of size {record.image_size} but the image '
                             f'{job.image_path} is {tuple(size)}; were the CAMs made for '
                             'another dataset or resized? Re-run tools/generate_cams.py')
    save_label_png(job.out_path, record_to_label(record, job.rule, image, job.crf,
                                                 job.min_confidence))
    return job.out_path


def _warn_oversubscription(num_workers: int) -> None:
    """Warn (rank 0) when this node's ranks x dCRF workers exceed its CPU cores."""
    local_ranks = int(os.environ.get('LOCAL_WORLD_SIZE', get_dist_info()[1]))
    processes, cores = local_ranks * max(num_workers, 1), os.cpu_count() or 1
    if processes > cores and get_dist_info()[0] == 0:
        print_log(f'{local_ranks} rank(s) x {max(num_workers, 1)} dCRF worker(s) = '
                  f'{processes} processes on {cores} CPU cores: they will slow each other '
                  'down; lower --workers', logger='current', level=logging.WARNING)


def make_pseudo_labels(cam_dir: str, ids: Sequence[str], out_dir: str, rule: BackgroundRule,
                       image_dir: str | None = None, image_suffix: str = '.jpg',
                       crf: CRFConfig | None = None, num_workers: int = 1,
                       progress: bool = True, min_confidence: float | None = None) -> dict:
    """Write ``out_dir/<id>.png`` for every id whose label is not written yet.

    Under a distributed launcher each rank handles every ``world_size``-th id and the call
    returns after a barrier (counts are this rank's).

    Args:
        cam_dir: Directory of CAM files (``<id>.npz``).
        ids: Image ids to label.
        out_dir: Output directory of the PNGs.
        rule: Background rule.
        image_dir: Directory of the images (needed with ``crf``; when given, every CAM's
            size is checked against its image, and a mismatch is an error naming both).
        image_suffix: Image file suffix.
        crf: dCRF parameters, or None for no refinement.
        num_workers: Processes for the per-image work.
        progress: Show a progress bar over the labels to write.
        min_confidence: Ignore pixels whose dCRF posterior is not above it (see
            :func:`record_to_label`).

    Returns:
        ``{'written': n, 'skipped': n}``.
    """
    if (crf is not None or rule.ppg_alpha is not None) and image_dir is None:
        raise ValueError('dCRF refinement and proportional pseudo-masks need image_dir')
    os.makedirs(out_dir, exist_ok=True)
    rank, world_size = get_dist_info()
    _warn_oversubscription(num_workers)
    jobs, skipped = [], 0
    for sample_id in list(ids)[rank::world_size]:
        out_path = osp.join(out_dir, f'{sample_id}.png')
        if osp.exists(out_path):
            skipped += 1
            continue
        cam_path = osp.join(cam_dir, f'{sample_id}.npz')
        if not osp.exists(cam_path):
            raise FileNotFoundError(f'CAM file not found: {cam_path}')
        image_path = osp.join(image_dir, sample_id + image_suffix) if image_dir else None
        jobs.append(_Job(cam_path, image_path, out_path, rule, crf, min_confidence))
    written = len(crf_map(_write_label, jobs, num_workers, progress=progress and rank == 0))
    barrier()
    return dict(written=written, skipped=skipped)
