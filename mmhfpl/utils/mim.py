"""Configs shipped inside the package, reachable as ``mmhfpl::<path>`` the OpenMMLab way.

mmseg and mmpretrain ship their configs under ``<package>/.mim/configs`` so that another
project's config can inherit them with ``_base_ = ['mmseg::...']``. mmhfpl does the same: in a
checkout ``mmhfpl/.mim/configs`` is a symbolic link to the repository's ``configs/``, and a
built wheel holds a copy. mmengine only resolves ``pkg::`` for packages listed in
``mmengine.config.utils.MODULE2PACKAGE``; importing mmhfpl adds itself there, so the import
must happen before such a config is parsed (mmhfpl's ``tools/`` do it first thing).

mmengine looks for a package's directory next to its ``dist-info`` (``get_installed_path``),
which is wrong for an editable install (``pip install -e .``), whose package directory is
the checkout. For ``mmhfpl`` alone, config parsing is pointed at the directory of the
imported package instead; other packages resolve as before.
"""

import os.path as osp
from collections.abc import Callable

MIM_DIR = osp.join(osp.dirname(osp.dirname(osp.abspath(__file__))), '.mim')


def _mmhfpl_first(installed_path: Callable[[str], str]) -> Callable[[str], str]:
    """``installed_path`` that answers the imported package's directory for ``mmhfpl``."""

    def get_installed_path(package: str) -> str:
        if package == 'mmhfpl':
            return osp.dirname(MIM_DIR)
        return installed_path(package)

    get_installed_path.mmhfpl_wrapped = True
    return get_installed_path


def register_mim_package() -> None:
    """Let mmengine resolve ``mmhfpl::`` config paths, in installed and editable packages."""
    import mmengine.config.config as config_module
    from mmengine.config.utils import MODULE2PACKAGE

    MODULE2PACKAGE.setdefault('mmhfpl', 'mmhfpl')
    if not getattr(config_module.get_installed_path, 'mmhfpl_wrapped', False):
        config_module.get_installed_path = _mmhfpl_first(config_module.get_installed_path)


def get_config_path(name: str) -> str:
    """Absolute path of a config shipped with mmhfpl.

    Args:
        name: Path relative to the configs root, e.g. ``'cam/cam_r18_toy.py'``
            (a leading ``'mmhfpl::'`` or ``'configs/'`` is accepted).

    Returns:
        The absolute path of the config file, in the checkout or the installed package.

    Raises:
        FileNotFoundError: No such config is shipped.
    """
    rel = name.removeprefix('mmhfpl::').removeprefix('configs/')
    path = osp.join(MIM_DIR, 'configs', rel)
    if not osp.isfile(path):
        raise FileNotFoundError(
            f'mmhfpl ships no config {rel!r} (looked in {osp.join(MIM_DIR, "configs")}); '
            'list them with `python -c "import mmhfpl.utils.mim as m, os; '
            'print(os.listdir(m.MIM_DIR + \'/configs\'))"`')
    return path
