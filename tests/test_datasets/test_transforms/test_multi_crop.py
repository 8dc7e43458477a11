"""PMM's multi-crop grid, its inference views and the heat-map-guided training crop."""

import numpy as np
import pytest

from mmhfpl.datasets.transforms import (
    HeatmapGuidedCrop,
    MultiCropViews,
    multi_crop_windows,
    window_labels,
)
from mmhfpl.structures import save_label_png


def test_windows_of_a_voc_image_by_hand():
    # PMM tool/data.py at 500x375, crop 448, stride 300. Scale 1: two columns, the inner one
    # stride wide, the last aligned with the border; scale 0.75 (375x281): one window,
    # mapped back with truncation (281 / 0.75 -> 374).
    assert multi_crop_windows(500, 375, 1.0, 448, 300) == [(0, 0, 300, 375), (52, 0, 500, 375)]
    assert multi_crop_windows(500, 375, 0.75, 448, 300) == [(0, 0, 500, 374)]
    # Scale 2 (1000x750): 1 + ceil(552 / 300) = 3 columns (0,300) (300,600) (552,1000) and
    # 1 + ceil(302 / 300) = 3 rows (0,300) (300,600) (302,750); column by column, halved.
    columns, rows = ((0, 150), (150, 300), (276, 500)), ((0, 150), (150, 300), (151, 375))
    assert multi_crop_windows(500, 375, 2.0, 448, 300) == [
        (x1, y1, x2, y2) for x1, x2 in columns for y1, y2 in rows]


def test_windows_reject_bad_settings():
    with pytest.raises(ValueError, match='positive'):
        multi_crop_windows(10, 10, 0.0, 8, 4)
    with pytest.raises(ValueError, match='leaves no pixel'):
        multi_crop_windows(10, 10, 0.05, 8, 4)


def test_window_labels_follow_the_overlap_rule():
    rng = np.random.default_rng(0)
    for _ in range(20):
        heat = rng.choice([0, 1, 3, 255], size=(20, 24), p=[0.5, 0.2, 0.1, 0.2])
        heat[rng.integers(0, 20, 30), rng.integers(0, 24, 30)] = 4  # small class 3 region
        x1, y1 = int(rng.integers(0, 12)), int(rng.integers(0, 10))
        box = (x1, y1, x1 + int(rng.integers(1, 12)), y1 + int(rng.integers(1, 10)))
        labels = np.array([0, 2, 3, 4])  # class 4 has no confident pixel
        kept = []
        for c in labels:  # the authors' update_label, directly
            mask = heat == c + 1
            if mask.sum() == 0:
                continue
            selected = np.zeros_like(mask)
            selected[box[1]:box[3], box[0]:box[2]] = True
            inter = (mask & selected).sum()
            if inter / mask.sum() > 0.1 or inter / selected.sum() > 0.1:
                kept.append(c)
        np.testing.assert_array_equal(window_labels(heat, labels, box, 0.1), kept)


def _image(height: int = 40, width: int = 48) -> np.ndarray:
    return np.random.default_rng(1).integers(0, 256, (height, width, 3), dtype=np.uint8)


def test_multi_crop_views_cover_every_window_with_its_mirror():
    img = _image()
    views = MultiCropViews(scales=(1.0, 1.5), crop_size=32, stride=20)(dict(
        img=img, img_path='x/a.jpg', ori_shape=(40, 48), img_shape=(40, 48)))
    boxes = multi_crop_windows(48, 40, 1.0, 32, 20) + multi_crop_windows(48, 40, 1.5, 32, 20)
    assert len(views['inputs']) == 2 * len(boxes)
    for k, box in enumerate(boxes):
        plain, mirrored = views['data_samples'][2 * k], views['data_samples'][2 * k + 1]
        assert plain.crop_box == mirrored.crop_box == box
        assert (plain.flip, mirrored.flip) == (False, True)
        assert tuple(plain.ori_shape) == (40, 48)
        first, second = views['inputs'][2 * k], views['inputs'][2 * k + 1]
        assert first.shape == (3, 32, 32)
        assert (second.numpy() == first.numpy()[:, :, ::-1]).all()


def test_heatmap_guided_crop_picks_a_window_with_a_class(tmp_path):
    heat = np.zeros((40, 48), np.uint8)
    heat[30:40, 40:48] = 3  # class 2 in the bottom-right corner only
    heat[0:4, 0:4] = 255
    save_label_png(tmp_path / 'a.png', heat)
    crop = HeatmapGuidedCrop(str(tmp_path), scales=(2.0, ), crop_size=32, stride=32)
    windows = multi_crop_windows(48, 40, 2.0, 32, 32)
    for seed in range(10):
        np.random.seed(seed)
        out = crop(dict(img=_image(), img_path='x/a.jpg', gt_label=np.array([2, 4])))
        box = out['crop_box']
        assert box in windows
        np.testing.assert_array_equal(out['gt_label'], window_labels(
            heat, np.array([2, 4]), box, 0.1))
        assert len(out['gt_label']) == 1  # a window showing class 2 is found
        assert out['img'].shape[:2] == out['img_shape'] == (box[3] - box[1], box[2] - box[0])
        np.testing.assert_array_equal(out['img'], _image()[box[1]:box[3], box[0]:box[2]])


def test_heatmap_guided_crop_without_any_class_keeps_the_last_draw_unlabelled(tmp_path):
    save_label_png(tmp_path / 'a.png', np.zeros((40, 48), np.uint8))
    crop = HeatmapGuidedCrop(str(tmp_path), scales=(1.0, ), crop_size=32, stride=20)
    out = crop(dict(img=_image(), img_path='x/a.jpg', gt_label=np.array([1])))
    assert out['gt_label'].shape == (0, )


def test_heatmap_guided_crop_errors_name_the_file(tmp_path):
    crop = HeatmapGuidedCrop(str(tmp_path), scales=(1.0, ), crop_size=32, stride=20)
    with pytest.raises(FileNotFoundError, match='a.png'):
        crop(dict(img=_image(), img_path='x/a.jpg', gt_label=np.array([1])))
    save_label_png(tmp_path / 'a.png', np.zeros((30, 48), np.uint8))
    with pytest.raises(ValueError, match=r'a.png: heat map of size \(30, 48\)'):
        crop(dict(img=_image(), img_path='x/a.jpg', gt_label=np.array([1])))
    with pytest.raises(ValueError, match='match_thresh'):
        HeatmapGuidedCrop(str(tmp_path), match_thresh=1.0)
