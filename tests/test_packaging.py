"""mmhfpl as a pip-installed plugin: a wheel with its configs and tools, used from elsewhere.

The wheel is built from a copy of the checkout and installed without dependencies into a
fresh virtual environment that sees this environment's packages through a ``.pth`` file
(torch, mmcv, ... are not reinstalled). Everything then runs from a directory outside the
checkout, so nothing can be found relative to the repository.
"""

import os
import shutil
import subprocess
import sys
import sysconfig
import textwrap
import venv
import zipfile
from pathlib import Path

import pytest

from tests.conftest import REPO, tiny_options

SOURCES = ('pyproject.toml', 'README.md', 'mmhfpl', 'configs', 'tools')


def _run(args: list, cwd: Path, env: dict | None = None) -> str:
    # No PYTHONPATH: the installed package, not a checkout on the path, must be found.
    clean = {k: v for k, v in os.environ.items() if k != 'PYTHONPATH'}
    result = subprocess.run([str(a) for a in args], cwd=cwd, capture_output=True, text=True,
                            timeout=600, env={**clean, 'OMP_NUM_THREADS': '1', **(env or {})})
    assert result.returncode == 0, f'{args}\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}'
    return result.stdout


@pytest.fixture(scope='module')
def installed(tmp_path_factory) -> dict:
    """Build the wheel, install it into a fresh venv; return its paths."""
    root = tmp_path_factory.mktemp('packaging')
    src = root / 'src'
    src.mkdir()
    ignore = shutil.ignore_patterns('__pycache__', '*.egg-info', 'build')
    for name in SOURCES:
        path = REPO / name
        if path.is_dir():
            shutil.copytree(path, src / name, symlinks=True, ignore=ignore)
        else:
            shutil.copy2(path, src / name)
    _run([sys.executable, '-m', 'pip', 'wheel', '-q', '--no-deps', '--no-build-isolation',
          '--no-index', '-w', root / 'dist', './src'], cwd=root)
    wheel = next((root / 'dist').glob('mmhfpl-*.whl'))

    env_dir = root / 'venv'
    venv.create(env_dir, with_pip=False)
    python = env_dir / 'bin' / 'python'
    purelib = Path(_run([python, '-c', 'import sysconfig; print(sysconfig.get_paths()'
                                       "['purelib'])"], cwd=root).strip())
    (purelib / 'project-packages.pth').write_text(sysconfig.get_paths()['purelib'] + '\n')
    _run([sys.executable, '-m', 'pip', 'install', '-q', '--no-deps', '--no-index',
          '--target', purelib, wheel], cwd=root)
    user = root / 'user project'
    user.mkdir()
    return dict(wheel=wheel, python=python, package=purelib / 'mmhfpl', user=user)


def test_wheel_ships_configs_tools_and_model_index(installed):
    names = set(zipfile.ZipFile(installed['wheel']).namelist())
    for config in (REPO / 'configs').rglob('*.py'):
        assert f'mmhfpl/.mim/configs/{config.relative_to(REPO / "configs")}' in names
    for tool in (REPO / 'tools').rglob('*.py'):
        assert f'mmhfpl/.mim/tools/{tool.relative_to(REPO / "tools")}' in names
    assert 'mmhfpl/.mim/tools/dist_train.sh' in names
    assert 'mmhfpl/.mim/model-index.yml' in names


def test_installed_package_resolves_mmhfpl_configs_outside_the_checkout(installed):
    user = installed['user']
    (user / 'my_cam.py').write_text(textwrap.dedent("""
        _base_ = ['mmhfpl::cam/cam_hfpl_r50_voc.py']
        custom_imports = dict(imports=['mmhfpl'], allow_failed_imports=False)
        model = dict(backbone=dict(init_cfg=None))
    """))
    script = textwrap.dedent("""
        import mmhfpl
        from mmengine.config import Config
        from mmhfpl.registry import MODELS
        from mmhfpl.utils import get_config_path
        print(mmhfpl.__file__)
        cfg = Config.fromfile('my_cam.py')
        model = MODELS.build(cfg.model)
        print(type(model).__name__, sum(p.numel() for p in model.parameters()))
        print([loss['type'] for loss in cfg.model.head.losses])
        print(get_config_path('deeplab/deeplabv3plus_r18_toy_pseudo.py'))
    """)
    out = _run([installed['python'], '-W', 'ignore', '-c', script], cwd=user).splitlines()
    assert out[0] == str(installed['package'] / '__init__.py')
    name, params = out[1].split()
    assert name == 'CAMClassifier' and int(params) > 20_000_000  # ResNet-50 at real size
    assert 'FeatureSimilarityLoss' in out[2] and 'ImportanceSamplingLoss' in out[2]
    assert out[3].startswith(str(installed['package'] / '.mim' / 'configs'))


@pytest.mark.slow
def test_installed_train_tool_runs_a_toy_config_from_elsewhere(installed, toy_root):
    user = installed['user']
    (user / 'my_toy.py').write_text(textwrap.dedent("""
        _base_ = ['mmhfpl::cam/cam_hfpl_r18_toy.py']
        custom_imports = dict(imports=['mmhfpl'], allow_failed_imports=False)
    """))
    options = tiny_options(toy_root, max_iters=1, interval=1)
    train = installed['package'] / '.mim' / 'tools' / 'train.py'
    _run([installed['python'], train, 'my_toy.py', '--work-dir', 'run',
          '--cfg-options', *(f'{k}={v}' for k, v in options.items())], cwd=user)
    assert (user / 'run' / 'iter_1.pth').is_file()
