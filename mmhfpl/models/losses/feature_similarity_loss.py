"""Feature similarity loss (FSL): an exact, memory-lean core and the registered module.

Seed 000 (the "Binomial ISL/FSL paper"), Eq. 9-13, defines for gating maps
``a`` (``B x K x H x W``) and an RGB image ``x`` in ``[0, 1]`` of the same size

* Eq. 10: ``w_ij = exp(-|p_i - p_j|^2 / (2 sigma^2)) / (2 pi sigma^2)`` with ``p`` the
  (row, col) pixel position,
* Eq. 11: ``g_ij = 0.5 |a_i - a_j|_2^2`` with ``a_i`` the K-vector of the maps at pixel ``i``,
* Eq. 13: ``delta_ij = |x_i - x_j|_1 / 3`` (L1 over the three colour channels),
* Eq. 12: ``f_ij = tanh(mu + log(delta_ij / (1 - delta_ij)))``,
* Eq. 9: ``L = -(1 / HW) sum_{i, j} w_ij g_ij f_ij`` over all ordered pixel pairs, averaged over
  the batch.

The straightforward evaluation builds three ``HW x HW`` matrices per image. This module never
materialises them: with ``K_ij = w_ij f_ij`` (symmetric, independent of ``a``), ``d = K 1`` and
the graph Laplacian ``L = diag(d) - K``,

    ``sum_ij K_ij g_ij = sum_c a_c^T (diag(d) - K) a_c = sum_i a_i . G_i``,
    ``G_i = d_i a_i - (K a)_i``,

so the loss is ``-(1 / (B HW)) sum_b sum_i a_i . G_i`` and its exact gradient is
``-(2 / (B HW)) G``. ``K`` is produced in blocks of whole image rows and consumed at once by a
batched matrix product against ``[a, 1]`` (the column of ones yields ``d``); by symmetry only the
blocks on and above the block diagonal are built. ``G`` is kept from the forward pass, so the
backward pass costs ``O(B HW K)``. ``f`` is evaluated without transcendental functions through
the identity ``tanh(mu + log(t)) = (e^{2 mu} t^2 - 1) / (e^{2 mu} t^2 + 1)`` with
``t = delta / (1 - delta)``, i.e. ``f = (e^{2 mu} delta^2 - (1 - delta)^2) /
(e^{2 mu} delta^2 + (1 - delta)^2)``; the spatial weight is separable,
``w_ij = h(r_i - r_j) h(c_i - c_j) / (2 pi sigma^2)`` with ``h(u) = exp(-u^2 / (2 sigma^2))``.
Since ``g`` is shift invariant the maps are centred per image first, which limits cancellation
in ``d_i a_i - (K a)_i`` without changing the value or the gradient (``sum_i G_i = 0``).
Measured on a 2-core CPU (``benchmarks/bench_fsl.py``) for ``B=8, K=21, 56x56`` the forward and
backward pass take ~0.08 s and ~14-25 MB, against ~2.5 s and ~1.85 GB for the straightforward
form.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.autograd.function import once_differentiable

from mmhfpl.registry import MODELS

from .cam_loss import CAMLoss
from .cam_posteriors import (
    CAM_NORMALIZATIONS,
    at_least_float32,
    binomial_posterior,
    multilabel_targets,
    multinomial_posterior,
)

__all__ = [
    'FeatureSimilarityLoss',
    'feature_similarity_loss',
    'fsl_negligible_reach',
    'fsl_window_tail_mass',
]

#: Environment variable that switches on ``torch.compile`` of the block kernel when the
#: ``use_compile`` argument is left at ``None``.
COMPILE_ENV = 'MMHFPL_FSL_COMPILE'

#: Keyword options of :func:`feature_similarity_loss` that the module passes through.
FSL_OPTIONS = ('eps', 'block_size', 'window', 'use_compile')

#: Default number of kernel entries (``B x rows x cols``) per block (2 MB in float32; fastest
#: measured on a 2-core CPU for 56x56 and 112x112 maps).
DEFAULT_BLOCK_ELEMENTS = 1 << 19


def _gaussian_table(n: int, sigma: float, reach: float | None, device: torch.device,
                    dtype: torch.dtype) -> Tensor:
    """``h(u - v) = exp(-(u - v)^2 / (2 sigma^2))`` for ``u, v`` in ``range(n)``, ``(n, n)``.

    Entries with ``|u - v| > reach`` are zero when ``reach`` is given.
    """
    pos = torch.arange(n, dtype=torch.float64)  # on the CPU: not every device has float64
    diff = pos[:, None] - pos[None, :]
    table = torch.exp(-diff.square() / (2.0 * sigma * sigma))
    if reach is not None:
        table = table.masked_fill(diff.abs() > reach, 0.0)
    return table.to(device=device, dtype=dtype)


def fsl_negligible_reach(sigma: float, dtype: torch.dtype = torch.float32) -> int:
    """Pixel offset beyond which the 1-D Gaussian factor of Eq. 10 is below ``eps^2``.

    ``R_0 = floor(sigma * sqrt(-2 ln(eps^2)))`` with ``eps`` the machine epsilon of ``dtype``
    (about ``7.99 sigma`` in float32, ``12.0 sigma`` in float64): ``h(u) < eps^2`` for
    ``|u| > R_0``. The loss skips those pairs (rows or columns further apart than ``R_0``),
    which keeps the kernel free of subnormal numbers (with them the whole loss ran 8x slower at
    112x112 on x86) and skips far blocks. The dropped weight per pixel is at most
    ``2 * fsl_window_tail_mass(sigma, R_0)`` (``1.3e-14`` in float32 for ``sigma=5``), far below
    rounding, so the result is exact to working precision.

    Args:
        sigma: Gaussian bandwidth ``sigma`` in pixels.
        dtype: Compute dtype.

    Returns:
        ``R_0`` in pixels.
    """
    eps = torch.finfo(dtype).eps
    return int(math.floor(sigma * math.sqrt(-2.0 * math.log(eps * eps))))


def fsl_window_tail_mass(sigma: float, window: int) -> float:
    """Upper bound ``T`` on the spatial weight a pixel loses to the row band ``window``.

    For every pixel ``i``, ``sum_{j : |r_i - r_j| > window} w_ij <= T`` with

        ``T = (1 + sqrt(2 pi) sigma) * sqrt(2 pi) sigma * erfc(window / (sqrt(2) sigma))
        / (2 pi sigma^2)``,

    using ``sum_{u in Z} h(u) <= 1 + sqrt(2 pi) sigma`` for the columns and
    ``2 sum_{u > R} h(u) <= 2 int_R^inf h = sqrt(2 pi) sigma erfc(R / (sqrt(2) sigma))`` for the
    rows. Because ``|f| < 1``, the windowed loss differs from the exact one by at most
    ``T * max_{b, i, j} g_ij``, and ``g_ij <= K / 2`` for maps in ``[0, 1]``.

    Args:
        sigma: Gaussian bandwidth ``sigma`` in pixels.
        window: Largest row distance kept.

    Returns:
        The bound ``T`` (e.g. about ``6.8e-5`` for ``sigma=5, window=20``).
    """
    root = math.sqrt(2.0 * math.pi) * sigma
    return (1.0 + root) * root * math.erfc(window / (math.sqrt(2.0) * sigma)) / (
        2.0 * math.pi * sigma * sigma)


def _kernel_block_eager(x_i: Tensor, x_j: Tensor, w: Tensor, c: float, lo: float, hi: float,
                        out: Tensor, tmp: Tensor) -> Tensor:
    """``K = w * f(delta)`` for one block, ``(B, n, m)``, written into ``out``.

    ``x_i`` ``(B, 3, n)`` and ``x_j`` ``(B, 3, m)`` are channel-first colours; ``out`` and
    ``tmp`` are ``(B, n, m)`` work buffers (reused across blocks: fresh multi-megabyte
    allocations cost page faults). With ``D = 3 delta`` clamped to ``[lo, hi]`` and
    ``t = D / (3 - D) = delta / (1 - delta)``, ``w f = w - 2 w / (c t^2 + 1)``. This takes
    fourteen cheap element-wise passes, about twice as fast as ``torch.cdist(p=1)`` alone.
    """
    torch.sub(x_i[:, 0, :, None], x_j[:, 0, None, :], out=out).abs_()
    for ch in (1, 2):
        out.add_(torch.sub(x_i[:, ch, :, None], x_j[:, ch, None, :], out=tmp).abs_())
    out.clamp_(lo, hi)
    torch.sub(out.new_full((), 3.0), out, out=tmp)
    out.div_(tmp)
    torch.addcmul(out.new_ones(()), out, out, value=c, out=tmp).reciprocal_()
    return torch.addcmul(w, w, tmp, value=-2.0, out=out)


def _kernel_block_fused(x_i: Tensor, x_j: Tensor, w: Tensor, c: float, lo: float, hi: float,
                        out: Tensor | None = None, tmp: Tensor | None = None) -> Tensor:
    """Same as :func:`_kernel_block_eager` (buffers unused), for fusion by ``torch.compile``."""
    dist = (x_i[:, :, :, None] - x_j[:, :, None, :]).abs().sum(1).clamp(lo, hi)
    t = dist / (3.0 - dist)
    return w - 2.0 * w / (c * t * t + 1.0)


_COMPILED: dict[str, Callable[..., Tensor]] = {}


def _block_kernel(use_compile: bool | None) -> Callable[..., Tensor]:
    if use_compile is None:
        use_compile = os.environ.get(COMPILE_ENV, '0').lower() in ('1', 'true', 'yes', 'on')
    if not use_compile:
        return _kernel_block_eager
    if 'fused' not in _COMPILED:
        compiled = torch.compile(_kernel_block_fused, dynamic=False, fullgraph=True)

        def kernel(x_i: Tensor, x_j: Tensor, w: Tensor, c: float, lo: float, hi: float,
                   out: Tensor, tmp: Tensor) -> Tensor:
            return compiled(x_i, x_j, w, c, lo, hi)  # fused: no work buffers needed

        _COMPILED['fused'] = kernel
    return _COMPILED['fused']


def _laplacian_times(a: Tensor, x: Tensor, height: int, width: int, mu: float, sigma: float,
                     eps: float, rows_per_block: int, window: int | None,
                     kernel: Callable[..., Tensor]) -> Tensor:
    """``G = d * a - K a`` for ``a`` ``(B, HW, C)`` and colours ``x`` ``(B, 3, HW)``."""
    bsz, _, channels = a.shape
    dtype, device = a.dtype, a.device
    aug = torch.cat([a, a.new_ones(bsz, a.shape[1], 1)], dim=2)
    acc = torch.zeros_like(aug)
    reach = fsl_negligible_reach(sigma, dtype)
    row_reach = reach if window is None else min(reach, window)
    h_rows = _gaussian_table(height, sigma, row_reach, device, dtype) / (
        2.0 * math.pi * sigma * sigma)
    h_cols = _gaussian_table(width, sigma, reach, device, dtype)
    c, lo, hi = math.exp(2.0 * mu), 3.0 * eps, 3.0 - 3.0 * eps
    block = bsz * (rows_per_block * width) ** 2
    work = torch.empty(2, block, dtype=dtype, device=device)
    starts = list(range(0, height, rows_per_block))
    for bi, r0 in enumerate(starts):
        r1 = min(r0 + rows_per_block, height)
        i0, i1 = r0 * width, r1 * width
        for s0 in starts[bi:]:
            s1 = min(s0 + rows_per_block, height)
            if s0 - (r1 - 1) > row_reach:
                break  # every later block is even farther away: all its weights are 0
            j0, j1 = s0 * width, s1 * width
            shape = (bsz, i1 - i0, j1 - j0)
            size = shape[0] * shape[1] * shape[2]
            w = (h_rows[r0:r1, None, s0:s1, None] * h_cols[None, :, None, :]).reshape(
                shape[1:])
            k_blk = kernel(x[..., i0:i1], x[..., j0:j1], w, c, lo, hi,
                           work[0, :size].view(shape), work[1, :size].view(shape))
            # bmm into a fresh tensor, then add: baddbmm_ into a strided view is far slower
            acc[:, i0:i1] += torch.bmm(k_blk, aug[:, j0:j1])
            if s0 != r0:
                acc[:, j0:j1] += torch.bmm(k_blk.transpose(1, 2), aug[:, i0:i1])
    return acc[..., channels:] * a - acc[..., :channels]


class _FeatureSimilarityFunction(torch.autograd.Function):
    """Loss value with the analytic gradient ``-(2 / (B HW)) G`` kept from the forward pass."""

    @staticmethod
    def forward(ctx, maps: Tensor, images: Tensor, mu: float, sigma: float, eps: float,
                rows_per_block: int, window: int | None,
                use_compile: bool | None) -> Tensor:
        bsz, channels, height, width = maps.shape
        n = height * width
        a = maps.detach().reshape(bsz, channels, n).transpose(1, 2)
        a = a - a.mean(dim=1, keepdim=True)  # g is shift invariant; centring limits cancellation
        x = images.detach().reshape(bsz, 3, n).contiguous()
        lap = _laplacian_times(a, x, height, width, mu, sigma, eps, rows_per_block, window,
                               _block_kernel(use_compile))  # G = (diag(d) - K) a
        scale = 1.0 / (bsz * n)
        ctx.save_for_backward(lap)
        ctx.shape = (bsz, channels, height, width)
        ctx.scale = scale
        return -(a * lap).sum() * scale

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_out: Tensor):
        (lap,) = ctx.saved_tensors
        grad = lap.mul(grad_out * (-2.0 * ctx.scale)).transpose(1, 2).reshape(ctx.shape)
        return grad, None, None, None, None, None, None, None


def feature_similarity_loss(maps: Tensor, images: Tensor, mu: float = 2.5, sigma: float = 5.0,
                            *, eps: float = 1e-6, block_size: int | None = None,
                            window: int | None = None,
                            use_compile: bool | None = None) -> Tensor:
    """Feature similarity loss of seed 000 (Binomial ISL/FSL paper), Eq. 9-13, exactly.

    ``L = -(1 / (B H W)) sum_b sum_{i, j} w_ij g_ij f_ij`` over all ordered pixel pairs, with
    ``w`` the normalised Gaussian of pixel positions (Eq. 10), ``g_ij = 0.5 |a_i - a_j|^2``
    (Eq. 11), ``f_ij = tanh(mu + log(delta_ij / (1 - delta_ij)))`` (Eq. 12) and
    ``delta_ij = |x_i - x_j|_1 / 3`` clamped to ``[eps, 1 - eps]`` (Eq. 13). The kernel
    ``w * f`` is built block by block (whole image rows, upper block triangle only) and never
    exists whole; extra memory is ``O(block + B H W K)``. Pixel pairs more than
    ``fsl_negligible_reach(sigma)`` rows or columns apart (``~8 sigma`` in float32, ``12 sigma``
    in float64) have a Gaussian factor below ``eps_machine^2`` and are skipped; their share is
    far below rounding error (see :func:`fsl_negligible_reach`), so the result equals the
    all-pairs sum to working precision. Computation runs in float32 (float64 inputs stay
    float64) with autocast disabled, so float16/bfloat16 inputs under autocast are safe. Only
    ``maps`` receives a gradient; it is exact and computed in the forward pass (double backward
    is not supported).

    Args:
        maps: Gating maps ``a``, shape ``(B, K, H, W)``.
        images: RGB images in ``[0, 1]``, shape ``(B, 3, H, W)``; no gradient flows into them.
        mu: Offset ``mu`` of Eq. 12.
        sigma: Spatial bandwidth ``sigma`` of Eq. 10, in pixels.
        eps: Clamp margin for ``delta`` (Eq. 12), at most ``1e-5``.
        block_size: Pixels per row block of the kernel, rounded down to whole image rows (at
            least one row). ``None`` picks about ``2**19 / B`` kernel entries per block. The
            result does not depend on it beyond floating-point rounding.
        window: Opt-in approximation. If given, pixel pairs whose rows are more than
            ``window`` apart are dropped (``w_ij`` set to 0), which skips whole blocks. The
            absolute error is at most ``fsl_window_tail_mass(sigma, window) * max g_ij``
            (e.g. ``6.8e-5 * K / 2`` for ``sigma=5, window=20`` and maps in ``[0, 1]``).
            ``None`` (default) is exact.
        use_compile: Evaluate the block kernel through ``torch.compile`` (inductor,
            ``dynamic=False``). About 1.6x faster per call on a 2-core CPU for 56x56 and
            112x112 maps, but each new block shape (up to four per map size and batch size)
            compiles first, ~10 s cold; worth it only for long runs at a fixed size. ``None``
            (default) reads the environment variable ``MMHFPL_FSL_COMPILE`` (``1`` enables),
            so tests and short runs stay eager.

    Returns:
        Scalar loss tensor (float32, or float64 for float64 maps).
    """
    if maps.dim() != 4 or images.dim() != 4:
        raise ValueError(f'expected 4-D maps and images, got {tuple(maps.shape)} and '
                         f'{tuple(images.shape)}')
    bsz, _, height, width = maps.shape
    if images.shape[0] != bsz or images.shape[1] != 3 or images.shape[2:] != maps.shape[2:]:
        raise ValueError(f'images {tuple(images.shape)} do not match maps {tuple(maps.shape)} '
                         '(expected (B, 3, H, W))')
    if not 0.0 < eps <= 1e-5:
        raise ValueError(f'eps must be in (0, 1e-5], got {eps}')
    if window is not None and window < 0:
        raise ValueError(f'window must be non-negative, got {window}')
    dtype = torch.float64 if maps.dtype == torch.float64 else torch.float32
    if block_size is None:
        side = math.sqrt(DEFAULT_BLOCK_ELEMENTS / max(bsz, 1))
        rows_per_block = int(side // width)
    else:
        rows_per_block = int(block_size) // width
    rows_per_block = min(max(rows_per_block, 1), height)
    with torch.autocast(device_type=maps.device.type, enabled=False):
        return _FeatureSimilarityFunction.apply(
            maps.to(dtype), images.to(dtype), float(mu), float(sigma), float(eps),
            rows_per_block, window, use_compile)


@MODELS.register_module()
class FeatureSimilarityLoss(CAMLoss):
    """FSL (seed 000 Eq. 9-13) on CAM gating maps, with the binomial gating of §4.3.

    The gating maps come from the raw CAM scores s (B, C, h, w) of a CAM head:

    * ``'r'`` (default): the normalised CAM r, the paper's choice. ``normalize='minmax'``
      (default) is the authors' code (``max_norm`` of ``train_cam_voc.py``: ReLU, then
      min-max per image and class); ``'max'`` is the paper's Eq. 4 (ReLU / max). They agree
      where a map reaches 0 and differ where its minimum is above 0;
    * ``'b'``: binomial posterior b = sigmoid(s) (Eq. 14);
    * ``'s'``: the raw scores (unbounded gradients, Eq. 19; for ablations);
    * ``'multinomial'``: softmax over background (logit 0) and classes (Eq. 5), the
      original multinomial FSL (Table 4's ablation).

    For the binomial gatings, classes absent from the image are masked out (their maps
    are zero, so they get neither loss nor gradient), as §4.3 prescribes. The input images
    (in [0, 1], the data preprocessor's normalisation already undone by the classifier:
    :meth:`~mmhfpl.models.classifiers.CAMClassifier.input_images`) are resized to the map
    size, by default as the authors do (bilinear, ``align_corners=True``, no antialiasing, which
    keeps the colour edges FSL relies on sharp). ``upsample`` enlarges the CAM by an integer factor
    first (the paper: x2 for SIPE, x4 for MCTformer). ``with_background`` appends the
    background map 1 - max_c over the (masked) gating maps, as the authors' SEAM code
    does. mu and sigma are fixed, not learned (§4.3).

    Args:
        gating: ``'r'``, ``'b'``, ``'s'`` or ``'multinomial'``.
        mu: μ of Eq. 12.
        sigma: σ of Eq. 10, in pixels of the (upsampled) CAM.
        upsample: Integer factor applied to the CAM before the loss.
        with_background: Append 1 - max_c of the gating maps (``'r'``/``'b'`` only).
        normalize: CAM normalisation of gating ``'r'``: ``'minmax'`` (authors' code) or
            ``'max'`` (paper Eq. 4).
        align_corners: ``align_corners`` of the bilinear image resize (authors: True).
        antialias: Antialias the image resize (authors: False).
        mask_absent: Zero the maps of classes absent from the image labels
            (default: True for binomial gatings, False for ``'multinomial'``).
        loss_weight: Factor applied to the loss (paper: 0.2 on COCO for SEAM).
        loss_name: Key of the loss in the loss dict.
        **fsl_options: Keyword options of :func:`feature_similarity_loss`.
    """

    GATINGS = ('r', 'b', 's', 'multinomial')

    def __init__(self, gating: str = 'r', mu: float = 2.5, sigma: float = 5.0,
                 upsample: int = 1, with_background: bool = False,
                 mask_absent: bool | None = None, normalize: str = 'minmax',
                 align_corners: bool = True, antialias: bool = False, loss_weight: float = 1.0,
                 loss_name: str = 'loss_fsl', **fsl_options) -> None:
        super().__init__(loss_weight, loss_name)
        if gating not in self.GATINGS:
            raise ValueError(f'gating must be one of {self.GATINGS}, got {gating!r}')
        if not isinstance(upsample, int) or upsample < 1:
            raise ValueError(f'upsample must be a positive integer, got {upsample!r}')
        if with_background and gating not in ('r', 'b'):
            raise ValueError("with_background needs gating 'r' or 'b' (maps in [0, 1])")
        if normalize not in CAM_NORMALIZATIONS:
            raise ValueError(f'normalize must be one of {sorted(CAM_NORMALIZATIONS)}, got '
                             f'{normalize!r}')
        self.gating = gating
        self.normalize = normalize
        self.align_corners = align_corners
        self.antialias = antialias
        self.mu = mu
        self.sigma = sigma
        self.upsample = upsample
        self.with_background = with_background
        self.mask_absent = gating != 'multinomial' if mask_absent is None else mask_absent
        unknown = sorted(set(fsl_options) - set(FSL_OPTIONS))
        if unknown:
            raise TypeError(f'FeatureSimilarityLoss got unknown options {unknown}; its options '
                            f'are gating, mu, sigma, upsample, with_background, mask_absent, '
                            f'normalize, align_corners, antialias, loss_weight, loss_name and '
                            f'{", ".join(FSL_OPTIONS)}')
        self.fsl_options = fsl_options

    def gating_maps(self, scores: Tensor, labels: Tensor) -> Tensor:
        """The maps a of Eq. 11 for raw scores s (B, C, h, w) and labels (B, C)."""
        if self.gating == 'multinomial':
            maps = multinomial_posterior(scores)
            if self.mask_absent:
                present = torch.cat([labels.new_ones(labels.shape[0], 1), labels], dim=1)
                maps = maps * present[..., None, None].to(maps.dtype)
            return maps
        maps = {'r': CAM_NORMALIZATIONS[self.normalize], 'b': binomial_posterior,
                's': lambda s: s}[self.gating](scores)
        if self.mask_absent:
            maps = maps * labels[..., None, None].to(maps.dtype)
        if self.with_background:
            maps = torch.cat([maps, 1 - maps.amax(dim=1, keepdim=True)], dim=1)
        return maps

    def rgb_images(self, images: Tensor, size: Sequence[int]) -> Tensor:
        """Images in [0, 1] resized to ``size`` (as the authors resize them)."""
        rgb = images.float().clamp(0, 1)
        if tuple(rgb.shape[-2:]) != tuple(size):
            rgb = F.interpolate(rgb, size=tuple(size), mode='bilinear',
                                align_corners=self.align_corners,
                                antialias=self.antialias).clamp(0, 1)
        return rgb

    def forward(self, scores: Tensor, labels: Tensor, images: Tensor | None = None,
                **mmseg_kwargs) -> dict:
        """Return ``{loss_name: loss}`` for raw CAM scores, labels and images in [0, 1]."""
        if mmseg_kwargs:  # e.g. weight=, ignore_index= from an mmseg decode head
            raise TypeError(
                'FeatureSimilarityLoss is a loss of a CAM head (the losses of CAMHead, SEAM or '
                'SpatialBCEHead extra_losses): it needs the input images and image labels, '
                'which an mmseg decode head does not pass to its loss_decode '
                f'(got {sorted(mmseg_kwargs)}). Train the CAM model with it instead.')
        if images is None:
            raise ValueError('FeatureSimilarityLoss needs the input images; use it in a head '
                             'whose classifier passes them (e.g. CAMClassifier)')
        labels = multilabel_targets(labels, scores.shape[1], at_least_float32(scores).dtype)
        scores = at_least_float32(scores)
        if self.upsample > 1:
            scores = F.interpolate(scores, scale_factor=self.upsample, mode='bilinear',
                                   align_corners=False)
        maps = self.gating_maps(scores, labels)
        rgb = self.rgb_images(images, maps.shape[-2:])
        loss = feature_similarity_loss(maps, rgb, self.mu, self.sigma, **self.fsl_options)
        return self.weighted(loss)
