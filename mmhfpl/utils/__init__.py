"""Utilities: module registration, CPU launchers, checkpoint compatibility, progress."""

from .cfg_options import merge_cfg_options
from .checkpoint_compat import allow_mmengine_checkpoints, checkpoint_safe_globals
from .dist import close_launcher, prepare_launcher, start_launcher
from .mim import get_config_path, register_mim_package
from .progress import track
from .setup_env import register_all_modules

__all__ = ['allow_mmengine_checkpoints', 'checkpoint_safe_globals', 'close_launcher',
           'get_config_path', 'merge_cfg_options', 'prepare_launcher', 'register_all_modules',
           'register_mim_package', 'start_launcher', 'track']
