"""Refinement transforms: CAM loading, seed labels, pair labels, packing, augmentation."""

import numpy as np
import pytest
import torch
from mmcv.transforms import Compose
from mmengine.registry import init_default_scope

from mmhfpl.datasets.transforms import (
    AlphaSeedLabels,
    BackgroundMapSeedLabels,
    LoadCAMFromFile,
    PackAffinityInputs,
    PairwiseAffinityLabels,
    ThresholdSeedLabels,
    pair_labels,
)
from mmhfpl.models.losses.affinity_loss import (
    PAIR_BG_POSITIVE,
    PAIR_FG_POSITIVE,
    PAIR_IGNORE,
    PAIR_NEGATIVE,
)
from mmhfpl.models.refine.random_walk import neighbour_offsets
from mmhfpl.registry import DATASETS
from mmhfpl.structures import CAMRecord, load_label_png, save_cam_file
from tests.conftest import write_gt_cams

IGN = 255


def _sample(cams, labels, img=None):
    cams = np.asarray(cams, dtype=np.float32)
    if img is None:
        img = np.full((*cams.shape[1:], 3), 128, np.uint8)
    return dict(img=img, img_path='x/img.jpg', cams=cams, cam_labels=np.asarray(labels))


def test_threshold_seeds_on_hand_made_cams():
    cams = [[[0.9, 0.5, 0.2, 0.04], [0.0, 0.31, 0.1, 0.0]],   # class 0 -> id 1
            [[0.1, 0.6, 0.04, 0.01], [0.3, 0.2, 0.0, 0.06]]]  # class 3 -> id 4
    seed = ThresholdSeedLabels(0.30, 0.05, crf=False).transform(_sample(cams, [0, 3]))
    # > t_fg: argmax class; max <= t_bg: background; else ignore (0.30 itself is not > 0.30)
    assert seed['gt_seg_map'].tolist() == [[1, 4, IGN, 0], [IGN, 1, IGN, IGN]]
    assert seed['seg_fields'] == ['gt_seg_map'] and seed['gt_seg_map'].dtype == np.uint8
    spatial_bce = ThresholdSeedLabels(0.60, 0.25, crf=False).transform(_sample(cams, [0, 3]))
    assert spatial_bce['gt_seg_map'].tolist() == [[1, IGN, 0, 0], [IGN, IGN, 0, 0]]


def test_background_map_seeds_on_hand_made_cams():
    cams = [[[0.9, 0.5, 0.2, 0.3]]]  # class 1 -> id 2
    sample = _sample(cams, [1])
    sample['cam_background'] = np.array([[0.1, 0.6, 0.3, 0.8]], np.float32)
    seed = BackgroundMapSeedLabels(1.0, 0.5, crf=False).transform(sample)
    # full background: fg fg... -> [2, 0, 0, 0]; halved: [.05 .3 .15 .4] -> [2, 2, 2, 0]
    # class where the full-background map says class, 0 where both say background.
    assert seed['gt_seg_map'].tolist() == [[2, IGN, IGN, 0]]
    del sample['cam_background'], sample['gt_seg_map']
    with pytest.raises(KeyError, match='background map'):
        BackgroundMapSeedLabels(crf=False).transform(sample)
    with pytest.raises(ValueError, match='bg_scale <= fg_scale'):
        BackgroundMapSeedLabels(0.5, 1.0)


def test_alpha_seeds_on_hand_made_cams():
    cams = [[[0.9, 0.3, 0.1, 0.05, 0.0, 0.2]],   # class 1 -> id 2
            [[0.0, 0.0, 0.0, 0.0, 0.0, 0.7]]]    # class 4 -> id 5
    seed = AlphaSeedLabels(4, 24, crf=False).transform(_sample(cams, [1, 4]))
    # alpha 4 bg: .0001 .24 .66 .81 1 .0081 -> fg fg bg bg bg fg (ignore where bg)
    # alpha 24 bg: ~0 1.9e-4 .080 .29 1 ~0   -> fg fg fg bg bg fg (0 where bg)
    assert seed['gt_seg_map'].tolist() == [[2, 2, IGN, 0, 0, 5]]
    isl = AlphaSeedLabels(1, 24, crf=False).transform(_sample(cams, [1, 4]))
    assert isl['gt_seg_map'].tolist() == [[2, IGN, IGN, 0, 0, 5]]  # 1 - 0.3 > 0.3


@pytest.mark.parametrize('transform', [ThresholdSeedLabels(), AlphaSeedLabels()])
def test_seed_crf_removes_an_isolated_detection(transform):
    img = np.full((16, 16, 3), 128, np.uint8)
    img[:, 8:] = 60
    cams = np.zeros((1, 16, 16), np.float32)
    cams[0, :, :8] = 0.9
    cams[0, 4, 12] = 0.9  # one pixel on the other, uniform side
    seed = transform.transform(_sample(cams, [2], img))['gt_seg_map']
    assert seed[4, 12] == 0 and (seed[:, :8] == 3).all() and (seed[:, 8:] == 0).all()
    without_crf = type(transform)(crf=False).transform(_sample(cams, [2], img))
    assert without_crf['gt_seg_map'][4, 12] == 3


@pytest.mark.parametrize('transform', [ThresholdSeedLabels(), AlphaSeedLabels()])
def test_image_without_classes_is_background(transform):
    seed = transform.transform(_sample(np.zeros((0, 3, 5)), []))
    assert (seed['gt_seg_map'] == 0).all()


def test_seed_transforms_need_cams_and_valid_parameters():
    with pytest.raises(KeyError, match='LoadCAMFromFile'):
        ThresholdSeedLabels().transform(dict(img=np.zeros((2, 2, 3), np.uint8)))
    with pytest.raises(ValueError, match='bg_threshold <= fg_threshold'):
        ThresholdSeedLabels(0.2, 0.3)
    with pytest.raises(ValueError, match='alpha_low < alpha_high'):
        AlphaSeedLabels(24, 4)
    with pytest.raises(TypeError, match='crf must be'):
        AlphaSeedLabels(crf='yes')
    sample = _sample(np.zeros((1, 4, 4)), [0], img=np.zeros((6, 4, 3), np.uint8))
    with pytest.raises(ValueError, match='before any geometric transform'):
        AlphaSeedLabels().transform(sample)


def test_seeds_move_with_flip_crop_and_pad():
    init_default_scope('mmhfpl')
    height, width = 6, 8
    img = np.zeros((height, width, 3), np.uint8)
    img[..., 0] = np.arange(height * width).reshape(height, width)  # pixel codes
    cams = np.zeros((2, height, width), np.float32)
    cams[0, :, :3] = 0.9
    cams[1, 2:5, 5:] = 0.8
    reference = ThresholdSeedLabels(crf=False).transform(_sample(cams, [0, 1], img))
    pipeline = Compose([
        dict(type='ThresholdSeedLabels', crf=False),
        dict(type='RandomFlip', prob=1.0, direction='horizontal'),
        dict(type='mmseg.RandomCrop', crop_size=(4, 5)),
        dict(type='Pad', size=(7, 5), pad_val=dict(img=0, seg=255)),  # (w, h)
    ])
    out = pipeline(_sample(cams, [0, 1], img))
    assert out['img'].shape[:2] == out['gt_seg_map'].shape == (5, 7)
    codes = out['img'][:4, :5, 0].astype(int)
    expected = reference['gt_seg_map'].reshape(-1)[codes]  # the seed of each moved pixel
    assert (out['gt_seg_map'][:4, :5] == expected).all()
    assert (out['gt_seg_map'][4:] == IGN).all() and (out['gt_seg_map'][:, 5:] == IGN).all()


def _brute_force_pairs(grid, radius):
    height, width = grid.shape
    offsets = neighbour_offsets(radius)
    codes = np.full((len(offsets), height, width), PAIR_IGNORE)
    for p, (dy, dx) in enumerate(offsets):
        for y in range(height):
            for x in range(width):
                if not (0 <= y + dy < height and 0 <= x + dx < width):
                    continue
                a, b = grid[y, x], grid[y + dy, x + dx]
                if IGN in (a, b):
                    continue
                codes[p, y, x] = (PAIR_NEGATIVE if a != b else
                                  PAIR_BG_POSITIVE if a == 0 else PAIR_FG_POSITIVE)
    return codes


def test_pair_labels_on_a_hand_made_grid():
    grid = np.array([[0, 0, 1], [0, IGN, 1], [2, 2, 1]], np.uint8)
    codes = pair_labels(grid, radius=2)
    offsets = neighbour_offsets(2)
    assert offsets == ((0, 1), (1, -1), (1, 0), (1, 1))
    right, down_left, down, down_right = codes
    assert right.tolist() == [[PAIR_BG_POSITIVE, PAIR_NEGATIVE, PAIR_IGNORE],
                              [PAIR_IGNORE, PAIR_IGNORE, PAIR_IGNORE],
                              [PAIR_FG_POSITIVE, PAIR_NEGATIVE, PAIR_IGNORE]]
    assert down[:2].tolist() == [[PAIR_BG_POSITIVE, PAIR_IGNORE, PAIR_FG_POSITIVE],
                                 [PAIR_NEGATIVE, PAIR_IGNORE, PAIR_FG_POSITIVE]]
    assert down_left[0].tolist() == [PAIR_IGNORE, PAIR_BG_POSITIVE, PAIR_IGNORE]
    assert down_right[1, 0] == PAIR_NEGATIVE and (down[2] == PAIR_IGNORE).all()
    random = np.random.default_rng(0).choice([0, 1, 2, IGN], size=(7, 9)).astype(np.uint8)
    assert (pair_labels(random, 4) == _brute_force_pairs(random, 4)).all()


def test_pairwise_transform_samples_the_stride_grid():
    seg = np.random.default_rng(1).choice([0, 3, IGN], size=(12, 10)).astype(np.uint8)
    out = PairwiseAffinityLabels(radius=3, stride=4).transform(dict(gt_seg_map=seg))
    assert out['gt_affinity'].shape == (len(neighbour_offsets(3)), 3, 3)
    assert (out['gt_affinity'] == _brute_force_pairs(seg[::4, ::4], 3)).all()
    with pytest.raises(KeyError, match='gt_seg_map'):
        PairwiseAffinityLabels().transform({})


def test_pack_affinity_inputs():
    results = _sample(np.random.rand(2, 8, 8), [1, 3])
    results = ThresholdSeedLabels(crf=False).transform(results)
    results = PairwiseAffinityLabels(radius=2, stride=4).transform(results)
    results.update(ori_shape=(8, 8), flip=False)
    packed = PackAffinityInputs().transform(results)
    sample = packed['data_samples']
    assert packed['inputs'].shape == (3, 8, 8) and packed['inputs'].dtype == torch.uint8
    assert sample.gt_sem_seg.data.shape == (1, 8, 8) and sample.gt_sem_seg.data.dtype == (
        torch.int64)
    assert sample.gt_affinity.data.shape == (4, 2, 2)
    assert sample.cams.data.shape == (2, 8, 8) and sample.cam_labels.tolist() == [1, 3]
    assert sample.img_path == 'x/img.jpg' and sample.flip is False


def _cam_file(tmp_path, labels, size=(4, 5)):
    save_cam_file(tmp_path / 'img.npz', CAMRecord(
        cams=np.full((len(labels), *size), 0.5, np.float32), labels=np.asarray(labels)))


def test_load_cam_checks_file_size_and_classes(tmp_path):
    results = dict(img_path='data/JPEGImages/img.jpg', img=np.zeros((4, 5, 3), np.uint8),
                   gt_label=np.array([0, 2]))
    load = LoadCAMFromFile(str(tmp_path))
    with pytest.raises(FileNotFoundError, match=str(tmp_path / 'img.npz')):
        load.transform(dict(results))
    _cam_file(tmp_path, [0, 2])
    out = load.transform(dict(results))
    assert out['cams'].shape == (2, 4, 5) and out['cams'].dtype == np.float32
    assert out['cam_labels'].tolist() == [0, 2]
    _cam_file(tmp_path, [0])
    with pytest.raises(ValueError, match=r'img.npz: .*missing \[2\]'):
        load.transform(dict(results))
    _cam_file(tmp_path, [0, 2, 4])
    with pytest.raises(ValueError, match=r'unexpected \[4\]'):
        load.transform(dict(results))
    unchecked = LoadCAMFromFile(str(tmp_path), check_labels=False).transform(dict(results))
    assert unchecked['cam_labels'].tolist() == [0, 2, 4]
    _cam_file(tmp_path, [0, 2], size=(5, 4))
    with pytest.raises(ValueError, match=r'img.npz: CAMs of size \(5, 4\) do not match'):
        load.transform(dict(results))
    assert 'cam_background' not in out
    save_cam_file(tmp_path / 'img.npz', CAMRecord(
        cams=np.full((2, 4, 5), 0.5, np.float32), labels=np.array([0, 2]),
        background=np.full((4, 5), 0.25, np.float32)))
    out = load.transform(dict(results))
    assert out['cam_background'].shape == (4, 5) and out['cam_background'][0, 0] == 0.25
    packed = PackAffinityInputs().transform(out)['data_samples']
    assert packed.cam_background.data.shape == (1, 4, 5)


def test_bad_cam_file_fails_in_the_dataset_pipeline(tmp_path, toy_root):
    init_default_scope('mmhfpl')
    cam_dir = tmp_path / 'cams'
    ids = write_gt_cams(toy_root, cam_dir)
    pipeline = [dict(type='LoadImageFromFile'), dict(type='LoadCAMFromFile', cam_dir=str(cam_dir)),
                dict(type='ThresholdSeedLabels', crf=False),
                dict(type='PairwiseAffinityLabels', radius=5, stride=4),
                dict(type='PackAffinityInputs')]
    dataset = DATASETS.build(dict(type='ToyVOCDataset', data_root=toy_root, pipeline=pipeline))
    sample = dataset[0]['data_samples']
    assert sample.gt_affinity.data.shape == (34, 32, 32)
    first = dataset.get_data_info(0)['img_path'].rsplit('/', 1)[-1][:-4]
    assert first in ids
    save_cam_file(cam_dir / f'{first}.npz', CAMRecord(cams=np.zeros((0, 128, 128), np.float32),
                                                      labels=np.zeros(0, np.int64)))
    with pytest.raises(ValueError, match=f'{first}.npz: CAM classes'):
        dataset[0]


def test_seed_cache_computes_once_and_refuses_other_settings(tmp_path, monkeypatch):
    cams = np.zeros((1, 4, 6), np.float32)
    cams[0, :, :3] = 0.9
    cache = tmp_path / 'seeds'

    def sample(cam_dir='cams'):
        return dict(_sample(cams, [1]), img_path='x/JPEGImages/im7.jpg',
                    cam_path=str(tmp_path / cam_dir / 'im7.npz'))

    first = ThresholdSeedLabels(crf=False, cache_dir=str(cache)).transform(sample())
    assert (load_label_png(cache / 'im7.png') == first['gt_seg_map']).all()
    cached = ThresholdSeedLabels(crf=False, cache_dir=str(cache))
    monkeypatch.setattr(cached, 'seed_label', lambda cams, image: pytest.fail('recomputed'))
    again = cached.transform(sample())
    assert (again['gt_seg_map'] == first['gt_seg_map']).all()
    assert again['seg_fields'] == ['gt_seg_map']
    with pytest.raises(ValueError, match='seed_settings.json: the seed cache was made with'):
        ThresholdSeedLabels(0.5, 0.05, crf=False, cache_dir=str(cache)).transform(sample())
    with pytest.raises(ValueError, match='use another cache_dir'):
        ThresholdSeedLabels(crf=False, cache_dir=str(cache)).transform(sample('other_cams'))
    with pytest.raises(KeyError, match='cam_path'):
        ThresholdSeedLabels(crf=False, cache_dir=str(cache)).transform(_sample(cams, [1]))
