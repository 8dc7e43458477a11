"""The class-balanced affinity loss of AffinityNet and IRN's inter-pixel relation loss.

AffinityNet (Ahn & Kwak, CVPR 2018, Eq. 4-7) and the semantic part of IRN (Ahn, Cho &
Kwak, CVPR 2019, Eq. 4-6) train predicted pair affinities a in [0, 1] from pair labels
derived from confident seed labels. Pairs fall into three sets: background-positive P⁺_bg
(both cells background), foreground-positive P⁺_fg (both cells of the same foreground
class) and negative P⁻ (different labels). Each set is averaged separately, so the rare
sets weigh as much as the frequent ones:

    L⁺_bg = -1/|P⁺_bg| Σ log(a + ε),   L⁺_fg = -1/|P⁺_fg| Σ log(a + ε),
    L⁻ = -1/|P⁻| Σ log(1 + ε - a),
    L = ((L⁺_bg + L⁺_fg) / 2 + L⁻) / 2,

with ε = 1e-5 added to the logarithms and to the counts, sums and counts taken over the
whole batch. This is the weighting of both released training scripts (PSA ``train_aff.py``:
bg/4 + fg/4 + neg/2; IRN ``train_irn.py``: (pos + neg)/2 with pos = bg/2 + fg/2); the
AffinityNet paper writes the same balance as L⁺_bg + L⁺_fg + 2 L⁻ (Eq. 7).

Pair labels are uint8 codes of shape (B, P, H, W) matching the affinity tensor
(:mod:`mmhfpl.models.refine.random_walk`): :data:`PAIR_NEGATIVE`, :data:`PAIR_BG_POSITIVE`,
:data:`PAIR_FG_POSITIVE`, or :data:`PAIR_IGNORE` for pairs touching an ignored cell or
leaving the grid. ``mmhfpl.PairwiseAffinityLabels`` produces them in a data pipeline.
"""

from torch import Tensor

from mmhfpl.registry import MODELS

from .cam_loss import WSSSLoss

PAIR_NEGATIVE = 0
PAIR_BG_POSITIVE = 1
PAIR_FG_POSITIVE = 2
PAIR_IGNORE = 255
EPS = 1e-5


def affinity_loss_terms(affinity: Tensor, pair_labels: Tensor) -> dict[str, Tensor]:
    """The three averaged terms ``bg_pos`` (L⁺_bg), ``fg_pos`` (L⁺_fg) and ``neg`` (L⁻).

    Args:
        affinity: (B, P, H, W) predicted affinities in [0, 1].
        pair_labels: (B, P, H, W) pair codes (see the module docstring).
    """
    if affinity.shape != pair_labels.shape:
        raise ValueError(f'affinity of shape {tuple(affinity.shape)} and pair labels of shape '
                         f'{tuple(pair_labels.shape)} differ')
    known = {PAIR_NEGATIVE, PAIR_BG_POSITIVE, PAIR_FG_POSITIVE, PAIR_IGNORE}
    unknown = set(pair_labels.unique().tolist()) - known
    if unknown:
        raise ValueError(f'pair labels hold unknown codes {sorted(unknown)}; expected '
                         f'{sorted(known)}')
    terms = {}
    for name, code in (('bg_pos', PAIR_BG_POSITIVE), ('fg_pos', PAIR_FG_POSITIVE)):
        mask = (pair_labels == code).to(affinity.dtype)
        terms[name] = -(mask * (affinity + EPS).log()).sum() / (mask.sum() + EPS)
    mask = (pair_labels == PAIR_NEGATIVE).to(affinity.dtype)
    terms['neg'] = -(mask * (1.0 + EPS - affinity).log()).sum() / (mask.sum() + EPS)
    return terms


def affinity_loss(affinity: Tensor, pair_labels: Tensor) -> Tensor:
    """L = ((L⁺_bg + L⁺_fg) / 2 + L⁻) / 2 (see the module docstring)."""
    terms = affinity_loss_terms(affinity, pair_labels)
    return ((terms['bg_pos'] + terms['fg_pos']) / 2 + terms['neg']) / 2


@MODELS.register_module()
class AffinityLoss(WSSSLoss):
    """Registered wrapper of :func:`affinity_loss` (AffinityNet / IRN relation loss).

    Args:
        loss_weight: Factor applied to the loss.
        loss_name: Key of the loss in the returned dict (must start with ``loss``).
    """

    def __init__(self, loss_weight: float = 1.0, loss_name: str = 'loss_aff') -> None:
        super().__init__(loss_weight, loss_name)

    def forward(self, affinity: Tensor, pair_labels: Tensor) -> dict[str, Tensor]:
        """Return ``{loss_name: loss_weight * L}``."""
        return self.weighted(affinity_loss(affinity, pair_labels))
