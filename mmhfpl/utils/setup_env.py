"""Registering mmhfpl's modules, as ``mmseg.utils.register_all_modules`` does."""

import datetime
import warnings

from mmengine import DefaultScope


def register_all_modules(init_default_scope: bool = True) -> None:
    """Import every mmhfpl module that registers components.

    Args:
        init_default_scope: Also make ``mmhfpl`` the current default scope (when no
            scope is set yet), so ``type='X'`` resolves in mmhfpl's registries first.
    """
    import mmhfpl.datasets  # noqa: F401
    import mmhfpl.engine  # noqa: F401
    import mmhfpl.evaluation  # noqa: F401
    import mmhfpl.models  # noqa: F401

    if not init_default_scope:
        return
    current = DefaultScope.get_current_instance()
    if current is None:
        DefaultScope.get_instance('mmhfpl', scope_name='mmhfpl')
    elif current.scope_name != 'mmhfpl':
        warnings.warn(f'The current default scope "{current.scope_name}" is not "mmhfpl"; '
                      'register_all_modules creates a new scope "mmhfpl".', stacklevel=2)
        stamp = datetime.datetime.now().strftime('%Y%m%d-%H%M%S-%f')
        DefaultScope.get_instance(f'mmhfpl-{stamp}', scope_name='mmhfpl')
