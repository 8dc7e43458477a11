"""mmhfpl's packages form layers; a module never imports one of a higher layer.

Bottom to top (README, Layout): foundations (registry, utils) -> structures (file formats,
ids, atomic writes) -> evaluation (J, F) -> pseudo_labels (the stage-2 rules: background
rules, dCRF, label writing, CAM generation over any model with ``test_step``) -> models ->
datasets (and transforms) -> engine (hooks). Every import counts, also the ones
inside functions. ``mmhfpl/__init__.py`` and ``register_all_modules`` sit above everything:
importing the package registers all of it.
"""

import ast
from pathlib import Path

from tests.conftest import REPO

LAYERS = (
    ('registry', 'utils'),
    ('structures', ),
    ('evaluation', ),
    ('pseudo_labels', ),
    ('models', ),
    ('datasets', ),
    ('engine', ),
)
TOP = ('mmhfpl', 'mmhfpl.utils.setup_env')
#: ``mmhfpl.utils`` re-exports ``register_all_modules``, as ``mmseg.utils`` does; the function
#: imports every package when it is called, not when ``mmhfpl.utils`` is imported.
ALLOWED = {('mmhfpl.utils', 'mmhfpl.utils.setup_env')}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix('').parts)
    if parts[-1] == '__init__':
        parts.pop()
    return '.'.join(parts)


def _layer(module: str) -> int:
    if module in TOP:
        return len(LAYERS)
    package = module.split('.')[1]
    for index, names in enumerate(LAYERS):
        if package in names:
            return index
    raise AssertionError(f'{module} belongs to no layer: add its package to LAYERS')


def _imports(path: Path, module: str) -> set[str]:
    """Every mmhfpl module ``path`` imports, relative imports resolved."""
    package = module.split('.') if path.name == '__init__.py' else module.split('.')[:-1]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[:len(package) - node.level + 1]
                target = '.'.join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ''
            found.add(target)
    return {name for name in found if name == 'mmhfpl' or name.startswith('mmhfpl.')}


def test_no_module_imports_a_higher_layer():
    violations = []
    for path in sorted((REPO / 'mmhfpl').rglob('*.py')):
        module = _module_name(path)
        if module == 'mmhfpl':
            continue
        for target in sorted(_imports(path, module)):
            if (module, target) in ALLOWED or target == 'mmhfpl':
                continue
            if _layer(target) > _layer(module):
                violations.append(f'{module} (layer {_layer(module)}) imports {target} '
                                  f'(layer {_layer(target)})')
    assert not violations, '\n'.join(violations)


def test_the_checker_sees_relative_and_function_level_imports(tmp_path):
    models = tmp_path / 'mmhfpl' / 'models'
    models.mkdir(parents=True)
    (models / 'x.py').write_text('from ..datasets import y\n'
                                 'def f():\n    from mmhfpl.engine import z\n')
    assert _imports(models / 'x.py', 'mmhfpl.models.x') == {'mmhfpl.datasets',
                                                            'mmhfpl.engine'}
    assert _layer('mmhfpl.datasets') > _layer('mmhfpl.models.x')
