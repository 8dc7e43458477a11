"""Pairwise affinity labels from a seed label map (AffinityNet Sec. 3.2, IRN Sec. 4.2)."""

import numpy as np
import torch
from mmcv.transforms import BaseTransform

from mmhfpl.models.losses.affinity_loss import (
    PAIR_BG_POSITIVE,
    PAIR_FG_POSITIVE,
    PAIR_IGNORE,
    PAIR_NEGATIVE,
)
from mmhfpl.models.refine.random_walk import neighbour_offsets, shift
from mmhfpl.registry import TRANSFORMS


def pair_labels(grid_labels: np.ndarray, radius: int, ignore_index: int = 255) -> np.ndarray:
    """Pair codes of all cell pairs closer than ``radius`` on a label grid.

    Args:
        grid_labels: (h, w) labels on the feature grid (0 background, c + 1 class c,
            ``ignore_index`` unknown).
        radius: Pair radius (forward offsets of
            :func:`mmhfpl.models.refine.random_walk.neighbour_offsets`).
        ignore_index: Label of unknown cells.

    Returns:
        (P, h, w) uint8: for the pair of cell (y, x) and cell (y + dy_p, x + dx_p),
        ``PAIR_BG_POSITIVE`` (both background), ``PAIR_FG_POSITIVE`` (both the same
        class), ``PAIR_NEGATIVE`` (different labels) or ``PAIR_IGNORE`` (a cell is
        ``ignore_index`` or the second cell lies outside the grid).
    """
    source = torch.from_numpy(np.ascontiguousarray(grid_labels, dtype=np.int64))
    targets = torch.stack([shift(source, offset, fill=ignore_index)
                           for offset in neighbour_offsets(radius)])
    source = source.expand_as(targets)
    valid = (source != ignore_index) & (targets != ignore_index)
    same = source == targets
    codes = torch.full(targets.shape, PAIR_IGNORE, dtype=torch.uint8)
    codes[valid & same & (source == 0)] = PAIR_BG_POSITIVE
    codes[valid & same & (source > 0)] = PAIR_FG_POSITIVE
    codes[valid & ~same] = PAIR_NEGATIVE
    return codes.numpy()


@TRANSFORMS.register_module()
class PairwiseAffinityLabels(BaseTransform):
    """Pair labels on the feature grid from the (augmented) seed label map.

    The seed map ``gt_seg_map`` is sampled at the top-left pixel of every
    ``stride`` x ``stride`` cell (``gt_seg_map[::stride, ::stride]``, IRN's nearest
    down-scaling), giving a ceil(H / stride) x ceil(W / stride) grid: the feature grid
    of a stride-``stride`` network on the same input. Pairs within ``radius`` cells are
    labelled by :func:`pair_labels`. Published settings: AffinityNet radius 5 at stride 8,
    IRN radius 10 at stride 4.

    **Required keys:** ``gt_seg_map`` (e.g. from :class:`ThresholdSeedLabels` or
    :class:`AlphaSeedLabels`, after cropping and padding). **Added keys:** ``gt_affinity``
    (P, h, w) uint8 pair codes (:mod:`mmhfpl.models.losses.affinity_loss`).

    Args:
        radius: Pair radius in grid cells.
        stride: Output stride of the network's affinity grid.
        ignore_index: Label of unknown pixels in ``gt_seg_map``.
    """

    def __init__(self, radius: int = 5, stride: int = 8, ignore_index: int = 255) -> None:
        neighbour_offsets(radius)  # validates the radius
        if stride < 1:
            raise ValueError(f'stride must be >= 1, got {stride}')
        self.radius = radius
        self.stride = stride
        self.ignore_index = ignore_index

    def transform(self, results: dict) -> dict:
        if 'gt_seg_map' not in results:
            raise KeyError(f'{type(self).__name__} needs gt_seg_map (a seed label map)')
        grid = np.asarray(results['gt_seg_map'])[::self.stride, ::self.stride]
        results['gt_affinity'] = pair_labels(grid, self.radius, self.ignore_index)
        return results

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(radius={self.radius}, stride={self.stride}, '
                f'ignore_index={self.ignore_index})')
