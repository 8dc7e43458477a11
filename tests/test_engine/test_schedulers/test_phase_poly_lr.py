"""PhasePolyLR: a poly schedule that restarts every Spatial-BCE phase (seed 003 §4)."""

import pytest
import torch
from torch import nn

from mmhfpl.engine import PhasePolyLR


def _optimizer():
    params = [nn.Parameter(torch.zeros(1)), nn.Parameter(torch.zeros(1))]
    return torch.optim.SGD([dict(params=[params[0]], lr=1e-2),
                            dict(params=[params[1]], lr=1e-1)], lr=1e-2)


def test_phase_poly_lr_restarts_every_phase_and_keeps_group_ratios():
    optimizer = _optimizer()
    scheduler = PhasePolyLR(optimizer, phase_iters=4, start_factors=(1.0, 0.1, 0.1),
                            end_factors=(0.1, 0.0, 0.0), power=0.9, by_epoch=False)
    seen = []
    for _ in range(14):
        seen.append([group['lr'] for group in optimizer.param_groups])
        optimizer.step()
        scheduler.step()
    for step, (low, high) in enumerate(seen[:12]):
        phase, offset = divmod(step, 4)
        start, end = (1.0, 0.1) if phase == 0 else (0.1, 0.0)
        expected = end + (start - end) * (1 - offset / 4) ** 0.9
        assert low == pytest.approx(1e-2 * expected) and high == pytest.approx(1e-1 * expected)
    assert seen[12] == seen[13] == seen[11], 'no update after the last phase'
    assert seen[4][0] == pytest.approx(1e-3) and seen[8][0] == pytest.approx(1e-3)

    # A scheduler restored from the state dict continues the same curve (``--resume``).
    restored_optimizer = _optimizer()
    restored = PhasePolyLR(restored_optimizer, phase_iters=4, start_factors=(1.0, 0.1, 0.1),
                           end_factors=(0.1, 0.0, 0.0), power=0.9, by_epoch=False)
    cut = PhasePolyLR(_optimizer(), phase_iters=4, start_factors=(1.0, 0.1, 0.1),
                      end_factors=(0.1, 0.0, 0.0), power=0.9, by_epoch=False)
    for _ in range(5):
        cut.step()
    restored.load_state_dict(cut.state_dict())
    restored.step()
    assert restored_optimizer.param_groups[1]['lr'] == pytest.approx(seen[6][1])

    with pytest.raises(ValueError, match='by_epoch set explicitly'):
        PhasePolyLR(_optimizer(), phase_iters=4, start_factors=(1.0, ), end_factors=(0.1, ))
    with pytest.raises(ValueError, match='one entry per phase'):
        PhasePolyLR(_optimizer(), phase_iters=4, start_factors=(1.0, 0.1), end_factors=(0.1, ),
                    by_epoch=False)
