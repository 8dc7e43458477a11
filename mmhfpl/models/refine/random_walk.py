"""Random-walk propagation of score maps over a local pixel-affinity graph.

Shared by AffinityNet (Ahn & Kwak, CVPR 2018, Sec. 3.3, Eq. 9-10) and IRN (Ahn, Cho &
Kwak, CVPR 2019, Sec. 4.3, Eq. 7-8).

**Graph.** The vertices are the cells of an (H, W) feature grid; two cells are joined when
their Euclidean distance is below ``radius``. Following both authors' codes, every unordered
pair is listed once through a "forward" offset (dy, dx) (the second cell comes later in
raster order): (0, dx) for 1 <= dx < radius and (dy, dx) for 1 <= dy < radius,
|dx| < radius, dy² + dx² < radius² (:func:`neighbour_offsets`; 34 offsets for radius 5,
152 for radius 10).

**Affinities** of a batch are a tensor (B, P, H, W) over the P offsets:
``affinity[b, p, y, x]`` is the affinity in [0, 1] of cell (y, x) and cell
(y + dy_p, x + dx_p). Pairs whose second cell lies outside the grid do not exist and are
ignored whatever their stored value (:func:`pair_valid_mask`).

**Transition matrix.** With A_ij = a_ij^β for neighbours, A_ii = 1 (the self-loops of the
released codes, which add the identity to the affinity matrix before raising it to β) and
D = diag(sum_j A_ij), the walk is T = D^-1 A (row-stochastic). Propagating score maps v
(one column per class) by t steps gives T^t v. The authors build the dense HW x HW
matrix, normalise its columns and square it (t = 2^logt for AffinityNet, t = 2^exp_times
for IRN) before multiplying the row vectors of scores from the left; since A is symmetric
that equals T^t v here.

**Sparse form.** T has at most 2P + 1 non-zeros per row, all inside the (2R + 1)² window
of cell offsets (R the largest |dy| or |dx| of an offset), so it is stored as per-cell
weights over that window (:func:`transition_weights`, shape (B, (2R+1)², H, W)) and one
step is one ``unfold`` and a weighted sum (:func:`propagate`): O(B C (2R+1)² H W) time and
memory per step instead of the O((HW)²) memory and O((HW)³) squarings of the dense form.
"""

from collections.abc import Sequence
from functools import lru_cache

import torch
import torch.nn.functional as F
from torch import Tensor

Offset = tuple[int, int]


@lru_cache(maxsize=16)
def neighbour_offsets(radius: int) -> tuple[Offset, ...]:
    """The forward offsets (dy, dx) of all cell pairs closer than ``radius``.

    Args:
        radius: Exclusive Euclidean radius in grid cells (5 for AffinityNet, 10 for IRN
            training, 5 for IRN inference); at least 2.

    Returns:
        The offsets in the authors' order: the row dy = 0 first, then dy = 1, 2, ...
    """
    if isinstance(radius, bool) or not isinstance(radius, int) or radius < 2:
        raise ValueError(f'radius must be an int >= 2, got {radius!r}')
    offsets = [(0, dx) for dx in range(1, radius)]
    offsets += [(dy, dx) for dy in range(1, radius) for dx in range(1 - radius, radius)
                if dy * dy + dx * dx < radius * radius]
    return tuple(offsets)


def window_radius(offsets: Sequence[Offset]) -> int:
    """R = the largest |dy| or |dx| of the offsets (the half-size of their window)."""
    if not offsets:
        raise ValueError('at least one offset is needed')
    return max(max(abs(dy), abs(dx)) for dy, dx in offsets)


def shift(x: Tensor, offset: Offset, fill: float = 0.0) -> Tensor:
    """``out[..., y, x] = x[..., y + dy, x + dx]``, or ``fill`` where that cell is outside.

    Differentiable in ``x``; works on any tensor with at least two (spatial) dimensions.
    """
    dy, dx = offset
    height, width = x.shape[-2:]
    pad_y, pad_x = abs(dy), abs(dx)
    padded = F.pad(x, (pad_x, pad_x, pad_y, pad_y), value=fill)
    return padded[..., pad_y + dy:pad_y + dy + height, pad_x + dx:pad_x + dx + width]


def pair_valid_mask(size: tuple[int, int], offsets: Sequence[Offset],
                    device: torch.device | str | None = None) -> Tensor:
    """(P, H, W) bool: whether the second cell of each pair lies inside the grid."""
    ones = torch.ones(1, *size, device=device)
    return torch.cat([shift(ones, offset) for offset in offsets]) > 0


def transition_weights(affinity: Tensor, offsets: Sequence[Offset], beta: float) -> Tensor:
    """The rows of T = D^-1 A (A = I + [a_ij^β]) as weights over the offset window.

    Args:
        affinity: (B, P, H, W) pair affinities in [0, 1] (see the module docstring).
        offsets: The P forward offsets the affinities refer to.
        beta: Power β applied to every affinity (AffinityNet 8, IRN 10).

    Returns:
        (B, K, H, W) weights, K = (2R + 1)²: ``weights[b, (R + dy) * (2R + 1) + R + dx,
        y, x]`` = T[(y, x), (y + dy, x + dx)]; every cell's weights sum to one.
    """
    if affinity.ndim != 4 or affinity.shape[1] != len(offsets):
        raise ValueError(f'affinity must be (B, {len(offsets)}, H, W) for {len(offsets)} '
                         f'offsets, got shape {tuple(affinity.shape)}')
    batch, _, height, width = affinity.shape
    radius = window_radius(offsets)
    side = 2 * radius + 1
    valid = pair_valid_mask((height, width), offsets, affinity.device)
    powered = affinity.pow(beta) * valid
    weights = affinity.new_zeros(batch, side * side, height, width)
    weights[:, radius * side + radius] = 1.0
    for index, (dy, dx) in enumerate(offsets):
        # a pair is stored at its first cell i; its second cell j = i + o sees it at -o.
        weights[:, (radius + dy) * side + radius + dx] += powered[:, index]
        weights[:, (radius - dy) * side + radius - dx] += shift(powered[:, index], (-dy, -dx))
    return weights / weights.sum(dim=1, keepdim=True)


def propagate(maps: Tensor, weights: Tensor, num_steps: int) -> Tensor:
    """Apply the transition of :func:`transition_weights` ``num_steps`` times: T^t v.

    Args:
        maps: (B, C, H, W) score maps v (one column of scores per class).
        weights: (B, K, H, W) transition weights.
        num_steps: Number of steps t >= 0.

    Returns:
        (B, C, H, W) propagated maps.
    """
    batch, channels, height, width = maps.shape
    if weights.shape[0] != batch or weights.shape[2:] != maps.shape[2:]:
        raise ValueError(f'weights of shape {tuple(weights.shape)} do not fit maps of shape '
                         f'{tuple(maps.shape)}')
    side = round(weights.shape[1] ** 0.5)
    if side * side != weights.shape[1] or side % 2 == 0:
        raise ValueError(f'weights must cover an odd square window, got {weights.shape[1]}')
    if num_steps < 0:
        raise ValueError(f'num_steps must be >= 0, got {num_steps}')
    flat_weights = weights.reshape(batch, 1, side * side, height * width)
    values = maps
    for _ in range(num_steps):
        windows = F.unfold(values, side, padding=side // 2)
        windows = windows.view(batch, channels, side * side, height * width)
        values = (windows * flat_weights).sum(dim=2).view(batch, channels, height, width)
    return values


def random_walk(maps: Tensor, affinity: Tensor, offsets: Sequence[Offset], beta: float,
                num_steps: int) -> Tensor:
    """Propagate ``maps`` by ``num_steps`` steps of the walk D^-1 A^β of ``affinity``.

    Args:
        maps: (B, C, H, W) score maps.
        affinity: (B, P, H, W) pair affinities in [0, 1] for ``offsets``.
        offsets: Forward offsets, e.g. ``neighbour_offsets(5)``.
        beta: Affinity power β.
        num_steps: Walk length t (AffinityNet 2^logt, IRN 2^exp_times).
    """
    if maps.shape[0] != affinity.shape[0] or maps.shape[2:] != affinity.shape[2:]:
        raise ValueError(f'maps of shape {tuple(maps.shape)} and affinity of shape '
                         f'{tuple(affinity.shape)} must share batch and grid size')
    return propagate(maps, transition_weights(affinity, offsets, beta), num_steps)
