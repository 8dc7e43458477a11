"""mmhfpl components build from configs of any OpenMMLab scope."""

import subprocess
import sys
import textwrap

import pytest
from mmengine.config import Config
from mmengine.registry import DATASETS as ROOT_DATASETS
from mmengine.registry import MODELS as ROOT_MODELS
from mmengine.registry import DefaultScope

from mmhfpl.datasets import ToyVOCDataset
from mmhfpl.registry import DATASETS, MODELS, SCOPE, TRANSFORMS
from tests.conftest import REPO


def test_registries_are_children_of_mmengine_roots():
    assert SCOPE == 'mmhfpl'
    for registry, root in ((DATASETS, ROOT_DATASETS), (MODELS, ROOT_MODELS)):
        assert registry.scope == 'mmhfpl'
        assert registry.parent is root
        assert root.children['mmhfpl'] is registry
    assert DATASETS.get('ToyVOCDataset') is ToyVOCDataset


@pytest.mark.parametrize('scope', ['mmseg', 'mmpretrain', 'mmhfpl'])
def test_prefixed_type_builds_in_every_scope(scope, toy_root):
    """`type='mmhfpl.X'` builds whatever the default scope; pipelines mix scopes."""
    cfg = dict(type='mmhfpl.ToyVOCDataset', data_root=toy_root,
               pipeline=[dict(type='LoadImageFromFile'),
                         dict(type='mmseg.LoadAnnotations'),
                         dict(type='mmpretrain.PackInputs')])
    with DefaultScope.overwrite_default_scope(scope):
        registry = {'mmseg': 'mmseg.registry', 'mmpretrain': 'mmpretrain.registry',
                    'mmhfpl': 'mmhfpl.registry'}[scope]
        datasets = __import__(registry, fromlist=['DATASETS']).DATASETS
        dataset = datasets.build(cfg)
        sample = dataset[0]
    assert isinstance(dataset, ToyVOCDataset)
    assert sample['data_samples'].gt_label.numel() >= 1


def test_unprefixed_type_resolves_in_mmhfpl_scope(toy_root):
    with DefaultScope.overwrite_default_scope('mmhfpl'):
        dataset = DATASETS.build(dict(type='ToyVOCDataset', data_root=toy_root,
                                      pipeline=[dict(type='LoadImageFromFile')]))
        assert TRANSFORMS.get('LoadImageFromFile') is not None  # mmcv's, via the root
    assert dataset[0]['img'].shape == (128, 128, 3)


def test_custom_imports_is_all_a_foreign_config_needs(tmp_path, toy_root):
    """A fresh interpreter that never imports mmhfpl itself builds mmhfpl types."""
    config = tmp_path / 'foreign_cfg.py'
    config.write_text(textwrap.dedent(f"""
        default_scope = 'mmseg'
        custom_imports = dict(imports=['mmhfpl'], allow_failed_imports=False)
        dataset = dict(type='mmhfpl.ToyVOCDataset', data_root={toy_root!r},
                       pipeline=[dict(type='LoadImageFromFile'),
                                 dict(type='LoadAnnotations'),
                                 dict(type='PackSegInputs')])
    """))
    script = textwrap.dedent(f"""
        import sys
        from mmengine.config import Config
        from mmengine.registry import init_default_scope
        from mmseg.registry import DATASETS
        assert 'mmhfpl' not in sys.modules
        cfg = Config.fromfile({str(config)!r})
        init_default_scope(cfg.default_scope)
        dataset = DATASETS.build(cfg.dataset)
        print('RESULT', type(dataset).__name__, dataset[0]['data_samples'].gt_sem_seg.shape)
    """)
    out = subprocess.run([sys.executable, '-c', script], cwd=REPO, capture_output=True,
                         text=True, check=False)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines()[-1].split()[:2] == ['RESULT', 'ToyVOCDataset']


def test_toy_config_parses_with_mmhfpl_scope():
    cfg = Config.fromfile(str(REPO / 'configs/toy/multilabel_r18_toy.py'))
    assert cfg.default_scope == 'mmhfpl'
    assert cfg.custom_imports.imports == ['mmhfpl']
    assert cfg.train_dataloader.dataset.type == 'ToyVOCDataset'
