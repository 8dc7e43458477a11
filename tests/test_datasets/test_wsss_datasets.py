"""VOC, COCO and toy datasets: image-level labels, filtering, and bad-input errors."""

import json
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mmhfpl.datasets import COCOWSSSDataset, ToyVOCDataset, VOCWSSSDataset
from mmhfpl.datasets import scan_cache as scan_cache_module
from mmhfpl.datasets import wsss_dataset as wsss_module
from mmhfpl.structures import load_label_png, save_label_png
from tests.conftest import load_tool

convert_coco_split = load_tool(
    'tools/dataset_converters/convert_coco_wsss.py').convert_coco_split

VOC_CLASSES = VOCWSSSDataset.METAINFO['classes']


def _xml(names: list[str]) -> str:
    objects = ''.join(f'<object><name>{n}</name><difficult>0</difficult></object>'
                      for n in names)
    return f'<annotation><filename>x.jpg</filename>{objects}</annotation>'


def make_voc(root, masks: dict[str, np.ndarray], split='train_aug',
             mask_dir='SegmentationClassAug'):
    """Write a VOC-layout fixture; XML objects follow the mask classes."""
    for name in ('JPEGImages', mask_dir, 'Annotations', 'ImageSets/Segmentation'):
        os.makedirs(os.path.join(root, name), exist_ok=True)
    for sample_id, mask in masks.items():
        rgb = np.random.default_rng(0).integers(0, 255, (*mask.shape, 3), dtype=np.uint8)
        Image.fromarray(rgb).save(os.path.join(root, 'JPEGImages', f'{sample_id}.jpg'))
        save_label_png(os.path.join(root, mask_dir, f'{sample_id}.png'), mask)
        names = [VOC_CLASSES[c] for c in np.unique(mask) if 0 < c < 255]
        with open(os.path.join(root, 'Annotations', f'{sample_id}.xml'), 'w') as handle:
            handle.write(_xml(names))
    with open(os.path.join(root, 'ImageSets/Segmentation', f'{split}.txt'), 'w') as handle:
        handle.write(''.join(f'{i}\n' for i in masks))


def _mask(*classes: int, size=(20, 24)) -> np.ndarray:
    mask = np.zeros(size, dtype=np.uint8)
    for k, cls in enumerate(classes):
        mask[2 + 4 * k:5 + 4 * k, 3:9] = cls
    mask[-1, :] = 255
    return mask


@pytest.fixture
def voc_root(tmp_path):
    make_voc(tmp_path, {'2007_000001': _mask(15, 13), '2007_000002': _mask(1),
                        '2007_000003': _mask(), '2007_000004': _mask(20, 20, 2)})
    return str(tmp_path)


def test_voc_labels_from_masks_and_xml_agree(voc_root, monkeypatch):
    logged = []
    monkeypatch.setattr(wsss_module, 'print_log', lambda msg, **kw: logged.append(msg))
    by_mask = VOCWSSSDataset(data_root=voc_root)
    by_xml = VOCWSSSDataset(data_root=voc_root, label_source='xml')
    assert len(by_mask) == 3, 'the background-only image is excluded'
    assert any('3 images kept, 1 without any foreground class excluded' in m for m in logged)
    expected = {'2007_000001': [12, 14], '2007_000002': [0], '2007_000004': [1, 19]}
    for dataset in (by_mask, by_xml):
        got = {os.path.basename(dataset[i]['img_path'])[:-4]: dataset[i]['gt_label'].tolist()
               for i in range(len(dataset))}
        assert got == expected
    assert by_mask[0]['seg_map_path'].endswith('SegmentationClassAug/2007_000001.png')


def test_test_mode_keeps_empty_images_and_filter_cfg_overrides(voc_root):
    assert len(VOCWSSSDataset(data_root=voc_root, test_mode=True)) == 4
    assert len(VOCWSSSDataset(data_root=voc_root, filter_cfg=dict(filter_empty_gt=False))) == 4


def test_voc_official_masks_and_pipeline(tmp_path):
    make_voc(tmp_path, {'2008_000001': _mask(7)}, split='val', mask_dir='SegmentationClass')
    dataset = VOCWSSSDataset(
        data_root=str(tmp_path), ann_file='ImageSets/Segmentation/val.txt',
        data_prefix=dict(seg_map_path='SegmentationClass'),
        pipeline=[dict(type='LoadImageFromFile'), dict(type='mmseg.LoadAnnotations'),
                  dict(type='mmpretrain.PackInputs', meta_keys=('img_path', 'seg_map_path'))])
    sample = dataset[0]
    assert sample['inputs'].shape == (3, 20, 24)
    assert sample['data_samples'].gt_label.tolist() == [6]


@pytest.mark.parametrize('problem', ['missing_image', 'corrupt_image', 'truncated_image',
                                     'bad_class', 'missing_mask', 'empty_list', 'missing_list'])
def test_bad_input_names_the_file(voc_root, problem):
    jpeg = os.path.join(voc_root, 'JPEGImages', '2007_000002.jpg')
    mask = os.path.join(voc_root, 'SegmentationClassAug', '2007_000002.png')
    listing = os.path.join(voc_root, 'ImageSets/Segmentation/train_aug.txt')
    kwargs = {}
    if problem == 'missing_image':
        os.remove(jpeg)
        error, needle = FileNotFoundError, jpeg
    elif problem == 'corrupt_image':
        with open(jpeg, 'wb') as handle:
            handle.write(b'this is not a jpeg')
        error, needle = ValueError, 'corrupt or truncated image file ' + jpeg
    elif problem == 'truncated_image':  # a valid header: only a full decode finds it
        with open(jpeg, 'rb') as handle:
            head = handle.read()[:-200]
        with open(jpeg, 'wb') as handle:
            handle.write(head)
        with Image.open(jpeg) as image:
            assert image.size == (24, 20), 'the header alone still parses'
        error, needle = ValueError, 'corrupt or truncated image file ' + jpeg
    elif problem == 'bad_class':
        save_label_png(mask, _mask(21))
        error, needle = ValueError, mask + ': class indices [21] are outside'
    elif problem == 'missing_mask':
        os.remove(mask)
        error, needle = FileNotFoundError, mask
    elif problem == 'empty_list':
        open(listing, 'w').close()
        error, needle = ValueError, 'train_aug.txt is empty'
    else:
        kwargs['ann_file'] = 'ImageSets/Segmentation/nope.txt'
        error, needle = FileNotFoundError, 'nope.txt'
    with pytest.raises(error) as info:
        VOCWSSSDataset(data_root=voc_root, **kwargs)
    assert needle in str(info.value)


def _built(voc_root, monkeypatch, **kwargs):
    """A dataset of ``voc_root``, the JPEGs it opened and what it logged."""
    opened, logged = [], []
    real_open = wsss_module.Image.open

    def counting_open(path, *args, **kw):
        if str(path).endswith('.jpg'):
            opened.append(os.path.basename(str(path)))
        return real_open(path, *args, **kw)

    monkeypatch.setattr(wsss_module.Image, 'open', counting_open)
    for module in (wsss_module, scan_cache_module):
        monkeypatch.setattr(module, 'print_log', lambda msg, **kw: logged.append(msg))
    dataset = VOCWSSSDataset(data_root=voc_root, test_mode=True, **kwargs)
    monkeypatch.undo()
    return dataset, opened, logged


def _labels(dataset):
    return [dataset[i]['gt_label'].tolist() for i in range(len(dataset))]


def test_scan_cache_skips_unchanged_files_and_rechecks_changed_ones(voc_root, monkeypatch):
    first, opened, logged = _built(voc_root, monkeypatch)
    assert len(opened) == 4 and any('checked 4 images' in m for m in logged)
    caches = list((Path(voc_root) / 'ImageSets/Segmentation').glob('.train_aug.txt.*.scan.json'))
    assert len(caches) == 1, 'one JSON cache next to the list file'
    assert json.loads(caches[0].read_text())['version'] == 1

    second, opened, logged = _built(voc_root, monkeypatch)
    assert opened == [] and not any('checked' in m for m in logged), 'all from the cache'
    assert _labels(second) == _labels(first)

    # A mask edited after the first scan changes the labels; only its entry is checked.
    mask = os.path.join(voc_root, 'SegmentationClassAug', '2007_000002.png')
    save_label_png(mask, _mask(3, size=(20, 24)))
    os.utime(mask, ns=(1, 1))
    third, opened, logged = _built(voc_root, monkeypatch)
    assert opened == ['2007_000002.jpg'] and any('checked 1 images' in m for m in logged)
    assert _labels(third)[1] == [2]

    # A file truncated after it was cached is found: its size changed.
    jpeg = os.path.join(voc_root, 'JPEGImages', '2007_000004.jpg')
    with open(jpeg, 'rb') as handle:
        head = handle.read()[:-200]
    with open(jpeg, 'wb') as handle:
        handle.write(head)
    with pytest.raises(ValueError, match='corrupt or truncated image file .*2007_000004.jpg'):
        VOCWSSSDataset(data_root=voc_root, test_mode=True)


def test_scan_cache_settings_fallback_dir_bad_cache_and_opt_out(voc_root, monkeypatch, tmp_path):
    listing_dir = Path(voc_root) / 'ImageSets/Segmentation'
    by_mask, _, _ = _built(voc_root, monkeypatch)
    by_xml, opened, _ = _built(voc_root, monkeypatch, label_source='xml')
    assert len(opened) == 4, 'other settings, other cache: checked again'
    assert len(list(listing_dir.glob('.train_aug.txt.*.scan.json'))) == 2

    for cache in listing_dir.glob('.train_aug.txt.*.scan.json'):
        cache.write_text('{not json')
    again, opened, logged = _built(voc_root, monkeypatch)
    assert len(opened) == 4 and any('unreadable dataset scan cache' in m for m in logged)
    assert _labels(again) == _labels(by_mask)

    # A read-only dataset directory: the cache goes under $MMHFPL_CACHE/scan instead.
    monkeypatch.setenv('MMHFPL_CACHE', str(tmp_path / 'cache'))
    monkeypatch.setattr(scan_cache_module.os, 'access', lambda path, mode: False)
    VOCWSSSDataset(data_root=voc_root, test_mode=True)
    assert len(list((tmp_path / 'cache/scan').glob('*/.train_aug.txt.*.scan.json'))) == 1
    monkeypatch.undo()

    _, opened, _ = _built(voc_root, monkeypatch, scan_cache=False)
    assert len(opened) == 4, 'scan_cache=False checks every file'


def test_xml_with_unknown_class_is_rejected(voc_root):
    path = os.path.join(voc_root, 'Annotations', '2007_000001.xml')
    with open(path, 'w') as handle:
        handle.write(_xml(['unicorn']))
    with pytest.raises(ValueError, match="2007_000001.xml: object class 'unicorn'"):
        VOCWSSSDataset(data_root=voc_root, label_source='xml')


def test_toy_dataset_labels_match_masks(toy_root):
    dataset = ToyVOCDataset(data_root=toy_root)
    assert len(dataset) < 32, 'background-only toy images are filtered from training'
    for i in range(len(dataset)):
        info = dataset.get_data_info(i)
        mask = load_label_png(info['seg_map_path'])
        expected = sorted(set(np.unique(mask).tolist()) - {0, 255})
        assert (info['gt_label'] + 1).tolist() == expected
    assert dataset.num_fg_classes == 6


def _coco_json(path, images: list[dict], anns: list[dict]) -> None:
    # The 80 real COCO category ids have gaps (1..90); use them so the mapping is tested.
    ids = [i for i in range(1, 91) if i not in (12, 26, 29, 30, 45, 66, 68, 69, 71, 83)]
    categories = [dict(id=c, name=f'cat{c}', supercategory='x') for c in ids]
    with open(path, 'w') as handle:
        json.dump(dict(images=images, annotations=anns, categories=categories), handle)


def test_coco_conversion_and_dataset(tmp_path):
    root = tmp_path / 'coco2014'
    (root / 'annotations').mkdir(parents=True)
    (root / 'train2014').mkdir()
    images = [dict(id=9, file_name='COCO_train2014_000000000009.jpg', height=20, width=30),
              dict(id=25, file_name='COCO_train2014_000000000025.jpg', height=16, width=16)]
    for info in images:
        Image.fromarray(np.zeros((info['height'], info['width'], 3), np.uint8)).save(
            root / 'train2014' / info['file_name'])
    big = [2, 2, 20, 2, 20, 15, 2, 15]          # person (id 1 -> label 1), area 270
    small = [5, 5, 10, 5, 10, 10, 5, 10]        # toothbrush (id 90 -> label 80) on top
    anns = [dict(id=1, image_id=9, category_id=1, segmentation=[big], area=270,
                 bbox=[2, 2, 18, 13], iscrowd=0),
            dict(id=2, image_id=9, category_id=90, segmentation=[small], area=25,
                 bbox=[5, 5, 5, 5], iscrowd=0),
            dict(id=3, image_id=9, category_id=3, iscrowd=1, area=8, bbox=[24, 0, 2, 4],
                 segmentation=dict(counts=[480, 4, 16, 4, 96], size=[20, 30]))]
    _coco_json(root / 'annotations/instances_train2014.json', images, anns)
    count = convert_coco_split(str(root / 'annotations/instances_train2014.json'), str(root),
                               'train2014', nproc=2)
    assert count == 2
    label = load_label_png(root / 'SegmentationClass/train2014/COCO_train2014_000000000009.png')
    assert label[3, 3] == 1 and label[7, 7] == 80, 'smaller instance painted on top'
    assert (label == 255).sum() == 8, 'crowd regions are void'
    assert (root / 'ImageSets/train2014.txt').read_text().split() == [
        'COCO_train2014_000000000009', 'COCO_train2014_000000000025']
    dataset = COCOWSSSDataset(data_root=str(root), split='train2014')
    assert len(dataset) == 1, 'the image without annotations is excluded'
    assert dataset[0]['gt_label'].tolist() == [0, 79]
    assert len(dataset.metainfo['classes']) == 81


def test_coco_conversion_rejects_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match='instances_nope.json'):
        convert_coco_split(str(tmp_path / 'instances_nope.json'), str(tmp_path), 'train2014')
