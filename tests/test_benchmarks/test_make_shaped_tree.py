"""The VOC- and COCO-shaped tree generator: layout, real sizes, labels the datasets derive,
reproducibility and resumption."""

import hashlib
import os
import sys
from pathlib import Path

import numpy as np
import pytest
from mmengine.registry import DefaultScope
from PIL import Image

from mmhfpl.registry import DATASETS
from mmhfpl.structures import load_label_png
from tests.conftest import load_tool, run_tool

shaped = load_tool('benchmarks/make_shaped_tree.py')
startup = load_tool('benchmarks/bench_dataset_startup.py')

NUM = 6
EXPECTED = {'voc': ('JPEGImages', 'SegmentationClassAug', 'ImageSets/Segmentation/train_aug.txt',
                    (500, 375), 20),
            'coco': ('train2014', 'SegmentationClass/train2014', 'ImageSets/train2014.txt',
                     (640, 480), 80)}


def _digest(root: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob('*') if p.is_file()):
        digest.update(str(path.relative_to(root)).encode() + path.read_bytes())
    return digest.hexdigest()


@pytest.fixture(scope='module', params=sorted(EXPECTED))
def tree(request, tmp_path_factory):
    """``(layout, root, ids)`` of a 6-image tree written by two workers."""
    root = tmp_path_factory.mktemp(f'shaped_{request.param}')
    ids = shaped.make_shaped_tree(str(root), request.param, NUM, seed=3, workers=2, chunk=2)
    return request.param, root, ids


def test_files_have_the_real_layout_sizes_and_formats(tree):
    layout, root, ids = tree
    image_dir, mask_dir, list_file, size, num_classes = EXPECTED[layout]
    assert (root / list_file).read_text().split() == ids and len(ids) == NUM
    if layout == 'coco':
        assert ids[0] == 'COCO_train2014_000000000000'
    void_seen = False
    for sample_id in ids:
        with Image.open(root / image_dir / f'{sample_id}.jpg') as image:
            assert image.format == 'JPEG' and image.mode == 'RGB' and image.size == size
            image.load()  # decodes in full
        with Image.open(root / mask_dir / f'{sample_id}.png') as mask:
            assert mask.mode == 'P' and mask.size == size
        values = set(np.unique(load_label_png(root / mask_dir / f'{sample_id}.png')).tolist())
        assert values <= {*range(num_classes + 1), 255} and values - {0, 255}
        void_seen |= 255 in values
    assert void_seen, 'objects are outlined by void bands'
    leftovers = [p for p in root.rglob('.*') if not p.name.endswith('.scan.json')]
    assert not leftovers, f'temporary files left: {leftovers}'


def test_the_dataset_builds_and_derives_the_drawn_labels(tree):
    layout, root, ids = tree
    with DefaultScope.overwrite_default_scope('mmhfpl'):
        dataset = DATASETS.build({**startup.dataset_cfg(layout, str(root)),
                                  'scan_cache': False})
    assert len(dataset) == NUM
    spec = shaped.TreeSpec(layout, 3, EXPECTED[layout][3])
    for index, sample_id in enumerate(ids):
        info = dataset.get_data_info(index)
        assert Path(info['img_path']).stem == sample_id
        assert info['gt_label'].tolist() == shaped.render_sample(spec, index)[2]
    assert any(len(dataset.get_data_info(i)['gt_label']) > 1 for i in range(NUM))


def test_reproducible_resumable_and_refuses_other_settings(tree, tmp_path):
    layout, root, _ = tree
    image_dir = EXPECTED[layout][0]
    again = tmp_path / 'again'
    shaped.make_shaped_tree(str(again), layout, NUM, seed=3, workers=1)
    assert _digest(again) == _digest(root), 'the same tree whatever the worker count'

    first = again / image_dir / f'{shaped.sample_id(shaped.LAYOUTS[layout], 0)}.jpg'
    stamp = first.stat().st_mtime_ns
    removed = again / image_dir / f'{shaped.sample_id(shaped.LAYOUTS[layout], 4)}.jpg'
    removed.unlink()
    shaped.make_shaped_tree(str(again), layout, NUM, seed=3, workers=1)
    assert first.stat().st_mtime_ns == stamp, 'existing files are skipped'
    assert _digest(again) == _digest(root), 'a missing file is written again, identically'

    with pytest.raises(ValueError, match='holds a tree made with'):
        shaped.make_shaped_tree(str(again), layout, NUM, seed=4, workers=1)


def test_command_line(tmp_path):
    out = tmp_path / 'voc'
    result = run_tool([sys.executable, 'benchmarks/make_shaped_tree.py', '--layout', 'voc',
                       '--num-images', '3', '--size', '64', '48', '--out', str(out),
                       '--workers', '1'], timeout=120)
    assert 'voc tree of 3 images' in result.stdout
    with Image.open(out / 'JPEGImages/shaped_000002.jpg') as image:
        assert image.size == (64, 48)
    assert os.path.isfile(out / 'shaped_tree.json')
