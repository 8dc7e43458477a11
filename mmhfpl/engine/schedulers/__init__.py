"""Parameter schedulers of mmhfpl."""

from .phase_poly_lr import PhasePolyLR

__all__ = ['PhasePolyLR']
