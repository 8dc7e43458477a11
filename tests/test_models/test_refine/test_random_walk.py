"""The shared sparse random walk against dense transition matrices built pair by pair."""

import pytest
import torch

from mmhfpl.models.refine.random_walk import (
    neighbour_offsets,
    pair_valid_mask,
    propagate,
    random_walk,
    shift,
    transition_weights,
)


def dense_affinity(affinity: torch.Tensor, offsets, beta: float) -> torch.Tensor:
    """A = I + [a_ij^β] of one image as an (HW, HW) matrix, one pair at a time."""
    _, height, width = affinity.shape
    dense = torch.eye(height * width, dtype=torch.float64)
    for p, (dy, dx) in enumerate(offsets):
        for y in range(height):
            for x in range(width):
                ty, tx = y + dy, x + dx
                if 0 <= ty < height and 0 <= tx < width:
                    value = float(affinity[p, y, x]) ** beta
                    dense[y * width + x, ty * width + tx] = value
                    dense[ty * width + tx, y * width + x] = value
    return dense


def dense_walk(maps, affinity, offsets, beta, steps):
    """T^t v with T = D^-1 A, image by image."""
    outs = []
    for image_maps, image_aff in zip(maps, affinity, strict=True):
        dense = dense_affinity(image_aff, offsets, beta)
        transition = dense / dense.sum(dim=1, keepdim=True)
        flat = image_maps.reshape(image_maps.shape[0], -1).double().T
        outs.append((torch.linalg.matrix_power(transition, steps) @ flat).T)
    return torch.stack(outs).reshape(maps.shape)


def test_neighbour_offsets_follow_the_authors_search_directions():
    offsets = neighbour_offsets(5)
    assert len(offsets) == 34 and len(neighbour_offsets(10)) == 152
    assert offsets[:4] == ((0, 1), (0, 2), (0, 3), (0, 4))
    assert offsets[4:13] == tuple((1, dx) for dx in range(-4, 5))
    assert all(dy * dy + dx * dx < 25 for dy, dx in offsets)
    # every unordered pair once: no offset is the opposite of another
    assert not set(offsets) & {(-dy, -dx) for dy, dx in offsets}
    assert len(set(offsets)) == len(offsets)
    with pytest.raises(ValueError, match='radius'):
        neighbour_offsets(1)


def test_shift_and_valid_mask():
    x = torch.arange(12.0).view(1, 3, 4)
    shifted = shift(x, (1, -1), fill=-1.0)
    for y in range(3):
        for col in range(4):
            inside = y + 1 < 3 and col - 1 >= 0
            assert shifted[0, y, col] == (x[0, y + 1, col - 1] if inside else -1.0)
    valid = pair_valid_mask((3, 4), [(0, 1), (1, -1)])
    assert valid[0].tolist() == [[True, True, True, False]] * 3
    assert valid[1].tolist() == [[False, True, True, True]] * 2 + [[False] * 4]


@pytest.mark.parametrize('radius, beta, steps', [(2, 1.0, 1), (3, 3.0, 5), (4, 8.0, 16)])
def test_random_walk_equals_dense_reference(radius, beta, steps):
    generator = torch.Generator().manual_seed(radius)
    offsets = neighbour_offsets(radius)
    affinity = torch.rand(2, len(offsets), 5, 6, generator=generator, dtype=torch.float64)
    maps = torch.rand(2, 3, 5, 6, generator=generator, dtype=torch.float64)
    walked = random_walk(maps, affinity, offsets, beta, steps)
    torch.testing.assert_close(walked, dense_walk(maps, affinity, offsets, beta, steps))


def test_random_walk_equals_the_authors_squared_column_normalised_form():
    """PSA / IRN: A^β / column sums, squared logt times, applied to row vectors of scores."""
    generator = torch.Generator().manual_seed(1)
    offsets = neighbour_offsets(3)
    affinity = torch.rand(1, len(offsets), 4, 5, generator=generator, dtype=torch.float64)
    maps = torch.rand(1, 2, 4, 5, generator=generator, dtype=torch.float64)
    dense = dense_affinity(affinity[0], offsets, 8.0)
    transition = dense / dense.sum(dim=0, keepdim=True)
    for _ in range(3):  # logt = 3
        transition = transition @ transition
    expected = (maps[0].reshape(2, -1) @ transition).reshape(1, 2, 4, 5)
    torch.testing.assert_close(random_walk(maps, affinity, offsets, 8.0, 2 ** 3), expected)


def test_pairs_leaving_the_grid_are_ignored_and_rows_are_stochastic():
    offsets = neighbour_offsets(3)
    generator = torch.Generator().manual_seed(2)
    affinity = torch.rand(1, len(offsets), 4, 4, generator=generator)
    garbage = affinity.clone()
    garbage[:, ~pair_valid_mask((4, 4), offsets)] = 0.77
    weights = transition_weights(affinity, offsets, 2.0)
    torch.testing.assert_close(weights, transition_weights(garbage, offsets, 2.0))
    torch.testing.assert_close(weights.sum(dim=1), torch.ones(1, 4, 4))
    assert (weights >= 0).all()
    ones = torch.ones(1, 2, 4, 4)
    torch.testing.assert_close(propagate(ones, weights, 7), ones)


def test_zero_affinity_keeps_maps_and_bad_shapes_raise():
    offsets = neighbour_offsets(2)
    maps = torch.rand(1, 2, 3, 3)
    affinity = torch.zeros(1, len(offsets), 3, 3)
    torch.testing.assert_close(random_walk(maps, affinity, offsets, 8.0, 4), maps)
    with pytest.raises(ValueError, match='affinity must be'):
        random_walk(maps, affinity[:, 1:], offsets, 8.0, 1)
    with pytest.raises(ValueError, match='share batch and grid'):
        random_walk(maps[..., :2], affinity, offsets, 8.0, 1)
