"""Fully-connected CRF refinement of pseudo-labels (Krähenbühl & Koltun, NeurIPS 2011).

Two entry points wrap ``pydensecrf``:

* :func:`dense_crf` refines per-class score maps (e.g. background + CAMs) into a posterior
  distribution. Its defaults are the SEAM / AffinityNet ``crf_inference`` setting.
* :func:`dense_crf_labels` refines a hard label map. Its defaults are the IRN
  ``crf_inference_label`` setting.

:class:`CRFConfig` holds the :func:`dense_crf` parameters so configs can override them
(``CRFConfig(**overrides)``, then ``dense_crf(image, probs, **asdict(cfg))``), and
:func:`crf_map` runs per-image CRF jobs over a ``multiprocessing`` pool.

This module imports only the standard library, numpy and pydensecrf (no torch, no mmhfpl),
so pool workers stay light and it is importable on its own.

pydensecrf needs C-contiguous, *writable* buffers (a uint8 ``(H, W, 3)`` image and a float32
``(K, H*W)`` unary); both functions copy their inputs into that form when necessary, so views
(transposed, sliced, read-only, ``np.broadcast_to``) and any real dtype of scores are fine.
"""

from __future__ import annotations

import math
import multiprocessing
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TypeVar

import mmcv
import numpy as np
import pydensecrf.densecrf as dcrf
from pydensecrf.utils import unary_from_labels

from mmhfpl.utils.progress import track

__all__ = ['CRFConfig', 'crf_map', 'dense_crf', 'dense_crf_labels']

#: Per-pixel score sums are divided by ``max(sum, NORM_EPS)``.
NORM_EPS = 1e-8
#: Normalised probabilities are clipped to ``[PROB_CLIP, 1]`` before ``-log`` (the default
#: clip of ``pydensecrf.utils.unary_from_softmax``), bounding the unary at ``-log(1e-5)``.
PROB_CLIP = 1e-5

T = TypeVar('T')
R = TypeVar('R')


@dataclass(frozen=True)
class CRFConfig:
    """Parameters of :func:`dense_crf`; the defaults are the SEAM / AffinityNet setting.

    ``iterations=10``, Gaussian kernel ``sxy=3, compat=3``, bilateral kernel ``sxy=80,
    srgb=13, compat=10``, ``scale_factor=1``. Override from a config dict with
    ``CRFConfig(**overrides)`` (unknown keys raise ``TypeError``) and call
    ``dense_crf(image, probs, **dataclasses.asdict(cfg))``. Values are validated on
    construction (``ValueError``).
    """

    iterations: int = 10
    gaussian_sxy: float = 3
    gaussian_compat: float = 3
    bilateral_sxy: float = 80
    bilateral_srgb: float = 13
    bilateral_compat: float = 10
    scale_factor: float = 1.0

    def __post_init__(self) -> None:
        _check_params(
            iterations=self.iterations,
            gaussian_sxy=self.gaussian_sxy,
            gaussian_compat=self.gaussian_compat,
            bilateral_sxy=self.bilateral_sxy,
            bilateral_srgb=self.bilateral_srgb,
            bilateral_compat=self.bilateral_compat,
            scale_factor=self.scale_factor,
        )


def dense_crf(
    image: np.ndarray,
    probs: np.ndarray,
    *,
    iterations: int = 10,
    gaussian_sxy: float = 3,
    gaussian_compat: float = 3,
    bilateral_sxy: float = 80,
    bilateral_srgb: float = 13,
    bilateral_compat: float = 10,
    scale_factor: float = 1.0,
) -> np.ndarray:
    """Refine per-class score maps with a fully-connected CRF.

    The defaults reproduce the SEAM / AffinityNet ``crf_inference`` setting: 10 mean-field
    iterations, a Gaussian (smoothness) kernel with ``sxy=3, compat=3`` and a bilateral
    (appearance) kernel with ``sxy=80, srgb=13, compat=10``, Potts compatibility.

    Args:
        image: ``(H, W, 3)`` uint8 image. RGB by convention; the bilateral kernel uses one
            ``srgb`` for all channels, so the channel order does not change the result.
        probs: ``(K, H, W)`` non-negative class scores, ``K >= 2`` including background.
            They need not sum to one: each pixel is divided by ``max(sum, 1e-8)``, clipped
            to ``[1e-5, 1]`` and the unary is ``-log`` of that. Normalising adds the same
            constant to all K energies of a pixel, which the mean-field softmax cancels, so
            it only makes the clip floor relative to the pixel's total score (as if the
            scores were probabilities). A pixel whose scores are all zero gets a uniform
            unary (no evidence) and is decided by its neighbours.
        iterations: Mean-field steps (``0`` returns the normalised, clipped input).
        gaussian_sxy, gaussian_compat: Spatial std (pixels) and weight of the Gaussian
            kernel.
        bilateral_sxy, bilateral_srgb, bilateral_compat: Spatial std (pixels), colour std
            (intensity levels) and weight of the bilateral kernel.
        scale_factor: Both spatial stds are divided by it (``sxy / scale_factor``), as in
            SEAM, for images resized by that factor.

    Returns:
        ``(K, H, W)`` float32 C-contiguous posterior; each pixel sums to one (to float32
        precision). Deterministic for identical inputs.

    Raises:
        ValueError: On a wrong image dtype/shape, a probs/image shape mismatch, ``K < 2``,
            negative or non-finite scores, or invalid parameters.
    """
    _check_params(
        iterations=iterations,
        gaussian_sxy=gaussian_sxy,
        gaussian_compat=gaussian_compat,
        bilateral_sxy=bilateral_sxy,
        bilateral_srgb=bilateral_srgb,
        bilateral_compat=bilateral_compat,
        scale_factor=scale_factor,
    )
    rgb = _prepare_image(image)
    height, width = rgb.shape[:2]
    probs = np.asarray(probs)
    if probs.ndim != 3:
        raise ValueError(f'probs must have shape (K, H, W), got shape {probs.shape}')
    if probs.shape[1:] != (height, width):
        raise ValueError(
            f'probs shape {probs.shape} does not match image shape {rgb.shape}: '
            f'expected (K, {height}, {width})'
        )
    num_classes = probs.shape[0]
    if num_classes < 2:
        raise ValueError(f'probs needs K >= 2 classes (including background), got K={num_classes}')
    if not (np.issubdtype(probs.dtype, np.integer) or np.issubdtype(probs.dtype, np.floating)):
        raise ValueError(f'probs must have a real numeric dtype, got {probs.dtype}')

    # float64 input is normalised in float64, everything else in float32.
    scores = probs.reshape(num_classes, -1).astype(np.result_type(probs.dtype, np.float32))
    if not np.isfinite(scores).all():
        raise ValueError('probs contains NaN or infinite values')
    if (scores < 0).any():
        raise ValueError(f'probs must be non-negative, got minimum {scores.min()}')
    scores /= np.maximum(scores.sum(axis=0, keepdims=True), NORM_EPS)
    np.clip(scores, PROB_CLIP, 1.0, out=scores)
    unary = np.ascontiguousarray(-np.log(scores), dtype=np.float32)

    crf = dcrf.DenseCRF2D(width, height, num_classes)
    crf.setUnaryEnergy(unary)
    crf.addPairwiseGaussian(sxy=gaussian_sxy / scale_factor, compat=gaussian_compat)
    crf.addPairwiseBilateral(
        sxy=bilateral_sxy / scale_factor, srgb=bilateral_srgb, rgbim=rgb, compat=bilateral_compat
    )
    posterior = np.asarray(crf.inference(iterations), dtype=np.float32)
    return np.ascontiguousarray(posterior.reshape(num_classes, height, width))


def dense_crf_labels(
    image: np.ndarray,
    labels: np.ndarray,
    num_labels: int,
    *,
    gt_prob: float = 0.7,
    iterations: int = 10,
    gaussian_sxy: float = 3,
    gaussian_compat: float = 3,
    bilateral_sxy: float = 50,
    bilateral_srgb: float = 5,
    bilateral_compat: float = 10,
    ignore_index: int | None = None,
) -> np.ndarray:
    """Refine a hard label map with a fully-connected CRF and return its argmax.

    The defaults reproduce the IRN ``crf_inference_label`` setting: the unary comes from
    ``pydensecrf.utils.unary_from_labels(labels, num_labels, gt_prob=0.7,
    zero_unsure=False)`` (probability ``gt_prob`` on the given label, the rest spread evenly
    over the other ``num_labels - 1``), 10 iterations, Gaussian kernel ``sxy=3, compat=3``,
    bilateral kernel ``sxy=50, srgb=5, compat=10``. With ``srgb=5`` the appearance kernel
    is sharp in colour, so it works best on natural (not heavily noisy) images.

    Ignore handling: pixels equal to ``ignore_index`` are "unsure" -- they get a uniform
    unary ``-log(1 / num_labels)`` and therefore take the label the pairwise terms favour
    (their spatial/colour neighbours); the returned map assigns them a real label. If every
    pixel is ``ignore_index`` there is no evidence at all and the map is returned unchanged.
    To keep the ignore region, re-apply it: ``out[labels == ignore_index] = ignore_index``.

    Args:
        image: ``(H, W, 3)`` uint8 image (see :func:`dense_crf`).
        labels: ``(H, W)`` integer label map with values in ``0 .. num_labels - 1`` (or
            ``ignore_index``). Label 0 is an ordinary class (background), not "unsure".
        num_labels: Number of classes ``K >= 2`` (including background).
        gt_prob: Confidence in the given labels, in ``(0, 1)``.
        ignore_index: Optional value marking unlabelled pixels; must lie outside
            ``0 .. num_labels - 1``.

    Returns:
        ``(H, W)`` label map with the dtype of ``labels`` (ties resolve to the lower label).

    Raises:
        ValueError: On shape/dtype mismatches, out-of-range labels, an ``ignore_index`` that
            collides with a class, or invalid parameters.
    """
    _check_params(
        iterations=iterations,
        gaussian_sxy=gaussian_sxy,
        gaussian_compat=gaussian_compat,
        bilateral_sxy=bilateral_sxy,
        bilateral_srgb=bilateral_srgb,
        bilateral_compat=bilateral_compat,
        scale_factor=1.0,
    )
    rgb = _prepare_image(image)
    height, width = rgb.shape[:2]
    labels = np.asarray(labels)
    if labels.shape != (height, width):
        raise ValueError(
            f'labels shape {labels.shape} does not match image shape {rgb.shape}: '
            f'expected ({height}, {width})'
        )
    if not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f'labels must have an integer dtype, got {labels.dtype}')
    if isinstance(num_labels, bool) or not isinstance(num_labels, int | np.integer):
        raise ValueError(f'num_labels must be an int, got {num_labels!r}')
    if num_labels < 2:
        raise ValueError(f'num_labels must be >= 2 (including background), got {num_labels}')
    if not 0.0 < gt_prob < 1.0:
        raise ValueError(f'gt_prob must be in (0, 1), got {gt_prob}')

    flat = labels.reshape(-1).astype(np.int64)
    unsure = np.zeros(flat.shape, dtype=bool)
    if ignore_index is not None:
        if 0 <= ignore_index < num_labels:
            raise ValueError(
                f'ignore_index={ignore_index} collides with a class label '
                f'(valid labels are 0..{num_labels - 1})'
            )
        unsure = flat == ignore_index
        if unsure.all():
            return labels.copy()
    valid = flat[~unsure]
    if valid.size and (valid.min() < 0 or valid.max() >= num_labels):
        bad = np.unique(valid[(valid < 0) | (valid >= num_labels)])
        raise ValueError(
            f'labels must lie in 0..{num_labels - 1}'
            + ('' if ignore_index is None else f' or equal ignore_index={ignore_index}')
            + f', found {bad[:10].tolist()}'
        )

    # Placeholder 0 for unsure pixels, whose unary column is then made uniform.
    unary = unary_from_labels(
        np.where(unsure, 0, flat), num_labels, gt_prob=gt_prob, zero_unsure=False
    )
    unary[:, unsure] = -math.log(1.0 / num_labels)
    unary = np.ascontiguousarray(unary, dtype=np.float32)

    crf = dcrf.DenseCRF2D(width, height, num_labels)
    crf.setUnaryEnergy(unary)
    crf.addPairwiseGaussian(sxy=gaussian_sxy, compat=gaussian_compat)
    crf.addPairwiseBilateral(
        sxy=bilateral_sxy, srgb=bilateral_srgb, rgbim=rgb, compat=bilateral_compat
    )
    posterior = np.asarray(crf.inference(iterations), dtype=np.float32)
    return posterior.argmax(axis=0).reshape(height, width).astype(labels.dtype)


def crf_map(
    func: Callable[[T], R],
    jobs: Iterable[T],
    num_workers: int,
    *,
    chunksize: int = 1,
    start_method: str | None = None,
    progress: bool = False,
) -> list[R]:
    """Apply ``func`` to every job, in order, optionally over a process pool.

    ``num_workers <= 1`` (or at most one job) runs inline in this process, without a pool.
    Otherwise ``multiprocessing.Pool(num_workers).imap(func, jobs, chunksize)`` is used; the
    result order matches ``jobs`` and an exception raised by ``func`` is re-raised here.

    ``func`` must be a picklable top-level function and, since every job is pickled to a
    worker, jobs should be light (image ids or paths; let ``func`` load the data and
    write its output, returning something small). ``chunksize=1`` suits per-image CRF
    work (~0.1-1 s a job, so the IPC cost is negligible and load balance is best).

    ``start_method`` selects the ``multiprocessing`` context (``None``: the platform
    default, ``'fork'`` on Linux with Python 3.11; ``'spawn'``/``'forkserver'`` need
    ``func`` importable by module name). With ``'fork'`` this is safe even when torch
    is imported and has run multi-threaded ops in the parent: the workers only run numpy
    and pydensecrf (single-threaded, no OpenMP), never touching the torch/OpenMP thread
    pools whose locks a forked child cannot rely on.

    ``progress`` shows an mmengine progress bar over the jobs (which then must have a
    length).
    """
    if isinstance(num_workers, bool) or not isinstance(num_workers, int | np.integer):
        raise ValueError(f'num_workers must be an int, got {num_workers!r}')
    if chunksize < 1:
        raise ValueError(f'chunksize must be >= 1, got {chunksize}')
    if hasattr(jobs, '__len__'):
        num_workers = min(num_workers, len(jobs))
    total = len(jobs) if progress else 0
    if num_workers <= 1:
        return [func(job) for job in track(jobs, total, progress)]
    context = multiprocessing.get_context(start_method)
    pool = context.Pool(processes=num_workers)
    try:
        results = list(track(pool.imap(func, jobs, chunksize=chunksize), total, progress))
    except BaseException:
        pool.terminate()
        raise
    else:
        pool.close()
    finally:
        pool.join()
    return results


def read_crf_image(path: str) -> np.ndarray:
    """The (H, W, 3) uint8 RGB image every dCRF of mmhfpl refines with, read from ``path``.

    The one reader of the dCRF image: mmcv's default decoder (cv2), the one
    ``LoadImageFromFile`` uses, so labels made by the tools, by the Q updates during
    training and by the seed-label transforms (which take the pipeline's decoded image)
    see the same pixels. A file that cannot be decoded is an error naming it.
    """
    try:
        image = mmcv.imread(path, channel_order='rgb')
    except (OSError, ValueError) as err:
        raise ValueError(f'{path}: cannot read the image ({err})') from err
    if image is None:
        raise ValueError(f'{path}: cannot decode the image; is the file complete?')
    return np.ascontiguousarray(image)


def _prepare_image(image: np.ndarray) -> np.ndarray:
    """Validate an ``(H, W, 3)`` uint8 image and return a C-contiguous, writable copy/view."""
    image = np.asarray(image)
    if image.dtype != np.uint8:
        raise ValueError(f'image must be uint8, got dtype {image.dtype}')
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f'image must have shape (H, W, 3), got {image.shape}')
    if image.shape[0] < 1 or image.shape[1] < 1:
        raise ValueError(f'image must be non-empty, got shape {image.shape}')
    # pydensecrf takes a C-contiguous, writable uint8 buffer (read-only arrays are rejected).
    if not (image.flags.c_contiguous and image.flags.writeable):
        image = np.array(image, dtype=np.uint8, order='C', copy=True)
    return image


def _check_params(
    *,
    iterations: int,
    gaussian_sxy: float,
    gaussian_compat: float,
    bilateral_sxy: float,
    bilateral_srgb: float,
    bilateral_compat: float,
    scale_factor: float,
) -> None:
    """Raise ``ValueError`` for CRF parameters pydensecrf would accept but misbehave on."""
    if isinstance(iterations, bool) or not isinstance(iterations, int | np.integer):
        raise ValueError(f'iterations must be an int, got {iterations!r}')
    if iterations < 0:
        raise ValueError(f'iterations must be >= 0, got {iterations}')
    positive = {
        'gaussian_sxy': gaussian_sxy,
        'bilateral_sxy': bilateral_sxy,
        'bilateral_srgb': bilateral_srgb,
        'scale_factor': scale_factor,
    }
    for name, value in positive.items():
        if not (isinstance(value, int | float | np.number) and math.isfinite(value) and value > 0):
            raise ValueError(f'{name} must be a positive finite number, got {value!r}')
    for name, value in {'gaussian_compat': gaussian_compat,
                        'bilateral_compat': bilateral_compat}.items():
        if not (isinstance(value, int | float | np.number) and math.isfinite(value)):
            raise ValueError(f'{name} must be a finite number, got {value!r}')
