"""mmhfpl: image-level weakly-supervised semantic segmentation for OpenMMLab.

Importing the package (``custom_imports=dict(imports=['mmhfpl'])`` in any
mmengine config) registers all of its components in the ``mmhfpl`` registries,
allow-lists mmengine's checkpoint types so ``--resume`` works under torch >= 2.6, and
lets configs inherit the shipped ones as ``_base_ = ['mmhfpl::cam/cam_r18_toy.py']``.
"""

from .utils import allow_mmengine_checkpoints, register_all_modules, register_mim_package

__version__ = '0.1.0'

allow_mmengine_checkpoints()
register_mim_package()
register_all_modules(init_default_scope=False)

__all__ = ['__version__']
