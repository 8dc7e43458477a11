"""Training-loop components of mmhfpl: hooks, parameter schedulers, file backends."""

from .fileio import *  # noqa: F401,F403
from .hooks import *  # noqa: F401,F403
from .schedulers import *  # noqa: F401,F403
