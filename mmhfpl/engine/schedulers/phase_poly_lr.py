"""Polynomial learning-rate decay restarted at every training phase (seed 003 §4.2)."""

from collections.abc import Sequence

from mmengine.optim.scheduler.lr_scheduler import LRSchedulerMixin
from mmengine.optim.scheduler.param_scheduler import _ParamScheduler

from mmhfpl.registry import PARAM_SCHEDULERS


@PARAM_SCHEDULERS.register_module()
class PhasePolyLR(LRSchedulerMixin, _ParamScheduler):
    """Poly decay from ``start`` to ``end`` factors within each of several equal phases.

    Spatial-BCE trains in phases separated by Q updates (seed 003 §4.2): the learning rate
    drops from 1e-2 to 1e-3 in the first phase and from 1e-3 to 0 in every later one.
    mmengine's ``PolyLR`` is chainable (each step scales the previous value) and its
    ``eta_min`` is absolute, so it can neither jump back up at a phase boundary nor keep the
    ratios of parameter groups with different learning rates (e.g. 10x on new layers).
    This scheduler computes the value in closed form from each group's initial rate: in
    phase k at step s of ``phase_iters`` (s = 0, 1, ...)::

        lr = base_lr * (end_k + (start_k - end_k) * (1 - s / phase_iters) ** power)

    With ``start_factors=(1, 0.1, 0.1)``, ``end_factors=(0.1, 0, 0)`` and a base rate of
    1e-2 this is the paper's schedule. The state (step count) is saved in checkpoints, so
    ``--resume`` continues the same curve.

    Args:
        optimizer: Wrapped optimizer.
        phase_iters: Length of every phase in iterations.
        start_factors: Factor of the initial rate at the start of each phase.
        end_factors: Factor the rate decays towards in each phase (same length).
        power: Power of the polynomial.
        begin: Step of the first phase.
        end: Step at which updates stop (at most the end of the last phase; mmengine's
            runner fills in the training length).
        by_epoch: Whether steps are epochs or iterations. Required: mmengine's runner
            treats a missing ``by_epoch`` as True when it fills in ``end``, so a silent
            default would end an iteration schedule after ``max_epochs`` steps.
        last_step: Index of the last step (for resuming without a state dict).
        verbose: Whether to print every update.
    """

    def __init__(self, optimizer, phase_iters: int, start_factors: Sequence[float],
                 end_factors: Sequence[float], power: float = 0.9, begin: int = 0,
                 end: int | None = None, by_epoch: bool | None = None, last_step: int = -1,
                 verbose: bool = False) -> None:
        if phase_iters < 1:
            raise ValueError(f'phase_iters must be positive, got {phase_iters}')
        if not start_factors or len(start_factors) != len(end_factors):
            raise ValueError('start_factors and end_factors need one entry per phase, got '
                             f'{len(start_factors)} and {len(end_factors)}')
        self.phase_iters = phase_iters
        self.start_factors = tuple(float(f) for f in start_factors)
        self.end_factors = tuple(float(f) for f in end_factors)
        self.power = power
        if by_epoch is None:
            raise ValueError('PhasePolyLR needs by_epoch set explicitly (False for phases '
                             'counted in iterations)')
        last = begin + phase_iters * len(start_factors)
        super().__init__(optimizer, begin=begin, end=min(end, last) if end else last,
                         last_step=last_step, by_epoch=by_epoch, verbose=verbose)

    def factor(self, step: int) -> float:
        """Multiplier of the initial rate at ``step`` steps after ``begin``."""
        phase, offset = divmod(step, self.phase_iters)
        phase = min(phase, len(self.start_factors) - 1)
        start, end = self.start_factors[phase], self.end_factors[phase]
        remaining = max(1.0 - offset / self.phase_iters, 0.0)
        return end + (start - end) * remaining**self.power

    def _get_value(self) -> list[float]:
        factor = self.factor(self.last_step)
        return [base * factor for base in self.base_values]
