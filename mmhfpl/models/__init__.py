"""Models of mmhfpl: classifiers, heads, backbones, losses, decode heads, decode-head
losses and segmentor wrappers."""

from .backbones import *  # noqa: F401,F403
from .classifiers import *  # noqa: F401,F403
from .decode_heads import *  # noqa: F401,F403
from .decode_losses import *  # noqa: F401,F403
from .heads import *  # noqa: F401,F403
from .layers import *  # noqa: F401,F403
from .losses import *  # noqa: F401,F403
from .refine import *  # noqa: F401,F403
from .segmentors import *  # noqa: F401,F403
