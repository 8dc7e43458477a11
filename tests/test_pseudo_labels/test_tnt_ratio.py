"""T/NT proportions Q (seed 003 Eq. 6), the Q file, tools/make_q_file.py, TTA thresholds."""

import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.registry import DefaultScope

from mmhfpl.datasets import ToyVOCDataset
from mmhfpl.pseudo_labels import (
    cam_tta_pipeline,
    fg_fraction,
    load_q_file,
    ratios_from_label_dir,
    save_q_file,
    tnt_ratio,
    tta_record,
)
from mmhfpl.structures import load_label_png, save_label_png
from tests.conftest import run_tool


def _direct_ratio(label: np.ndarray, num_classes: int) -> list[float]:
    """Q^c by counting pixels one by one (void 255 ignored)."""
    out = []
    for c in range(1, num_classes + 1):
        target = other = 0
        for value in label.flat:
            if value == 255:
                continue
            if value == c:
                target += 1
            else:
                other += 1
        out.append(0.0 if target == 0 else (float('inf') if other == 0 else target / other))
    return out


def test_tnt_ratio_by_hand_and_against_pixel_counting():
    label = np.array([[0, 1, 1, 255], [2, 2, 2, 0], [0, 0, 1, 255]], dtype=np.uint8)
    # class 1: 3 of 10 non-void pixels -> 3/7; class 2: 3/7; class 3 absent -> 0.
    np.testing.assert_allclose(tnt_ratio(label, 3), [3 / 7, 3 / 7, 0.0])
    rng = np.random.default_rng(1)
    for _ in range(5):
        label = rng.choice([0, 1, 2, 4, 255], size=(6, 7)).astype(np.uint8)
        np.testing.assert_allclose(tnt_ratio(label, 4), _direct_ratio(label, 4), rtol=1e-6)
    full = np.full((3, 3), 2, dtype=np.uint8)
    full[0, 0] = 255
    assert tnt_ratio(full, 2).tolist() == [0.0, float('inf')]
    with pytest.raises(ValueError, match=r'\[0, 3\]'):
        tnt_ratio(np.array([[0, 4]], dtype=np.uint8), 3)


def test_fg_fraction_is_q_over_one_plus_q():
    np.testing.assert_allclose(fg_fraction(np.array([0.0, 1.0, 3.0, np.inf])),
                               [0.0, 0.5, 0.75, 1.0])
    with pytest.raises(ValueError, match='non-negative'):
        fg_fraction(np.array([-1.0]))


def test_q_file_round_trip_and_bad_files(tmp_path):
    ratios = {'b': np.array([0.5, np.inf], np.float32), 'a': np.array([0.0, 2.0], np.float32)}
    save_q_file(tmp_path / 'q.npz', ratios)
    back = load_q_file(tmp_path / 'q.npz', num_classes=2)
    assert sorted(back) == ['a', 'b']
    np.testing.assert_array_equal(back['b'], ratios['b'])
    with np.load(tmp_path / 'q.npz', allow_pickle=False) as data:
        assert data['ids'].tolist() == ['a', 'b'] and data['tnt_ratio'].dtype == np.float32
    with pytest.raises(ValueError, match='expected 3'):
        load_q_file(tmp_path / 'q.npz', num_classes=3)
    with pytest.raises(FileNotFoundError, match='missing.npz'):
        load_q_file(tmp_path / 'missing.npz')
    np.savez(tmp_path / 'other.npz', something=np.zeros(2))
    with pytest.raises(ValueError, match='other.npz is not a Q file'):
        load_q_file(tmp_path / 'other.npz')
    np.savez(tmp_path / 'pickled.npz', ids=np.array([object()]), tnt_ratio=np.zeros((1, 2)))
    with pytest.raises(ValueError, match='pickled.npz'):
        load_q_file(tmp_path / 'pickled.npz')
    np.savez(tmp_path / 'neg.npz', ids=np.array(['a']), tnt_ratio=-np.ones((1, 2)))
    with pytest.raises(ValueError, match='non-negative'):
        load_q_file(tmp_path / 'neg.npz')
    with pytest.raises(FileNotFoundError, match='c.png'):
        ratios_from_label_dir(str(tmp_path), ['c'], 2)


def test_make_q_file_tool_counts_the_pseudo_labels(tmp_path, toy_root):
    labels = tmp_path / 'labels'
    ids = open(osp.join(toy_root, 'ImageSets/Segmentation/train.txt')).read().split()
    for sample_id in ids:  # pseudo-labels have no void: map it to background
        gt = load_label_png(osp.join(toy_root, 'SegmentationClass', f'{sample_id}.png'))
        save_label_png(labels / f'{sample_id}.png', np.where(gt == 255, 0, gt))
    out = tmp_path / 'q.npz'
    result = run_tool(['python', 'tools/make_q_file.py',
                       'configs/spatial_bce/spatial_bce_r18_toy.py', '--labels', str(labels),
                       '--out', str(out), '--cfg-options',
                       f'train_dataloader.dataset.data_root={toy_root}'])
    assert f'Q of {len(ids)} images' in result.stdout
    written = load_q_file(out, num_classes=6)
    assert sorted(written) == sorted(ids)
    for sample_id in ids:
        label = load_label_png(labels / f'{sample_id}.png')
        np.testing.assert_allclose(written[sample_id], _direct_ratio(label, 6), rtol=1e-6)


class ThresholdModel(torch.nn.Module):
    """Per view: logit maps 0.1 * (c + 1) * scale and thresholds that vary by view."""

    cam_fusion = 'spatial_bce'

    def test_step(self, batch):
        out = []
        for inputs, sample in zip(batch['inputs'], batch['data_samples'], strict=True):
            scale = inputs.shape[-1] / 128
            classes = torch.arange(6, dtype=torch.float32)
            cam = (0.1 * (classes + 1) * scale)[:, None, None].expand(6, *inputs.shape[1:])
            flip = float(sample.metainfo.get('flip', False))
            sample.set_field(cam.clone(), 'cam')
            sample.set_field(torch.sigmoid(classes - 2 + scale + flip), 'thresholds')
            out.append(sample)
        return out


def test_tta_record_averages_logits_and_threshold_logits(toy_root):
    with DefaultScope.overwrite_default_scope('mmhfpl'):
        dataset = ToyVOCDataset(data_root=toy_root, ann_file='ImageSets/Segmentation/val.txt',
                                test_mode=True, pipeline=cam_tta_pipeline((1.0, 0.5), True))
    index = next(i for i in range(len(dataset)) if len(dataset.get_data_info(i)['gt_label']))
    labels = dataset.get_data_info(index)['gt_label']
    record = tta_record(ThresholdModel(), dataset[index], 6, labels)
    assert record.labels.tolist() == sorted(labels.tolist())
    classes = record.labels.astype(np.float64)
    # Mean over the views of the logits 0.1 (c + 1) * scale for scales 1, 1, 0.5, 0.5:
    # 0.075 (c + 1), then one sigmoid (the authors' make_cam.py).
    np.testing.assert_allclose(record.cams[:, 5, 7], 1 / (1 + np.exp(-0.075 * (classes + 1))),
                               rtol=1e-5)
    # Threshold logits c - 2 + scale + flip averaged: c - 2 + 0.75 + 0.5.
    np.testing.assert_allclose(record.thresholds, 1 / (1 + np.exp(-(classes - 0.75))),
                               rtol=1e-5)


def test_thresholds_need_the_spatial_bce_fusion(toy_root):
    class Undeclared(ThresholdModel):
        cam_fusion = 'irn'

    with DefaultScope.overwrite_default_scope('mmhfpl'):
        dataset = ToyVOCDataset(data_root=toy_root, ann_file='ImageSets/Segmentation/val.txt',
                                test_mode=True, pipeline=cam_tta_pipeline((1.0, ), False))
    with pytest.raises(ValueError, match="sets thresholds but its cam_fusion is 'irn'"):
        tta_record(Undeclared(), dataset[0], 6, np.array([1]))
