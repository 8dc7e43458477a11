"""Switching a Spatial-BCE head between its two training sub-phases (seed 003 Alg. 1)."""

from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from mmhfpl.registry import HOOKS


def model_head(runner):
    """The ``head`` of the runner's model (unwrapping DDP), with a clear error if absent."""
    model = runner.model.module if is_model_wrapper(runner.model) else runner.model
    head = getattr(model, 'head', None)
    if head is None:
        raise AttributeError(f'{type(model).__name__} has no `head`; Spatial-BCE hooks need a '
                             'classifier with a SpatialBCEHead')
    return head


@HOOKS.register_module()
class AlternatingPhaseHook(Hook):
    """Set the head's ``phase`` before every training iteration (Algorithm 1).

    Iteration ``i`` belongs to the probability sub-phase if ``i % period < prob_iters`` and
    to the threshold sub-phase otherwise. The head decides what each sub-phase means for the
    gradient (:class:`~mmhfpl.models.heads.SpatialBCEHead`: thresholds from the ``q``-quantile
    of the detached probabilities, or from the threshold branch with detached
    probabilities). The phase is a function of the iteration only, so a resumed run
    continues in the right sub-phase.

    The authors' code alternates every 100 iterations with 80 probability iterations
    (``iter % 100 < 80``), and updates Q (:class:`QUpdateHook`) at a longer interval (8k
    iterations, §4.2); Algorithm 1 writes both periods as one γ, which ``period`` equal to
    the Q interval reproduces.

    Args:
        period: Length γ of one alternation in iterations.
        prob_iters: Number θ of probability iterations at the start of each period.
    """

    priority = 'NORMAL'

    def __init__(self, period: int = 100, prob_iters: int = 80) -> None:
        if not 0 < prob_iters <= period:
            raise ValueError(f'need 0 < prob_iters <= period, got prob_iters={prob_iters}, '
                             f'period={period}')
        self.period = period
        self.prob_iters = prob_iters

    def phase_at(self, iteration: int) -> str:
        """The sub-phase of a 0-based training iteration."""
        return 'prob' if iteration % self.period < self.prob_iters else 'threshold'

    def before_train(self, runner) -> None:
        if not hasattr(model_head(runner), 'phase'):
            raise AttributeError('AlternatingPhaseHook needs a head with a `phase` attribute '
                                 '(SpatialBCEHead)')

    def before_train_iter(self, runner, batch_idx: int, data_batch=None) -> None:
        model_head(runner).phase = self.phase_at(runner.iter)
