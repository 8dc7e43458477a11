"""Hooks of mmhfpl."""

from .alternating_phase_hook import AlternatingPhaseHook
from .q_update_hook import QUpdateHook

__all__ = ['AlternatingPhaseHook', 'QUpdateHook']
