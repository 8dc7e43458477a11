"""AlternatingPhaseHook: the probability / threshold phases of seed 003 Algorithm 1."""

from types import SimpleNamespace

import pytest
from torch import nn

from mmhfpl.engine import AlternatingPhaseHook
from mmhfpl.models.heads import SpatialBCEHead


def test_alternating_phase_hook_follows_algorithm_1():
    head = SpatialBCEHead(num_classes=3, in_channels=4)
    runner = SimpleNamespace(model=SimpleNamespace(head=head), iter=0)
    hook = AlternatingPhaseHook(period=5, prob_iters=3)
    hook.before_train(runner)
    phases = []
    for iteration in range(11):
        runner.iter = iteration
        hook.before_train_iter(runner, iteration)
        phases.append(head.phase)
    assert phases == ['prob'] * 3 + ['threshold'] * 2 + ['prob'] * 3 + ['threshold'] * 2 + ['prob']
    with pytest.raises(ValueError, match='prob_iters'):
        AlternatingPhaseHook(period=5, prob_iters=6)
    with pytest.raises(AttributeError, match='phase'):
        hook.before_train(SimpleNamespace(model=SimpleNamespace(head=nn.Identity())))
