"""Utilities: module registration, CPU launchers, checkpoint compatibility."""

from .checkpoint_compat import allow_mmengine_checkpoints, checkpoint_safe_globals
from .dist import close_launcher, prepare_launcher
from .setup_env import register_all_modules

__all__ = ['allow_mmengine_checkpoints', 'checkpoint_safe_globals', 'close_launcher',
           'prepare_launcher', 'register_all_modules']
