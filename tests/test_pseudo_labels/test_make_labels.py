"""Stage 2: CAM files, TTA CAM generation (resumable, sharded), pseudo-labels, evaluation."""

import os
from dataclasses import asdict

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from mmengine.registry import DefaultScope
from mmseg.evaluation import IoUMetric
from PIL import Image

from mmhfpl.datasets import ToyVOCDataset
from mmhfpl.pseudo_labels import (
    BackgroundRule,
    CAMRecord,
    JFAccumulator,
    cam_fusion_of,
    cam_tta_pipeline,
    evaluate_cams,
    evaluate_label_dir,
    generate_cams,
    load_cam_file,
    make_pseudo_labels,
    record_to_label,
    save_cam_file,
    tta_record,
)
from mmhfpl.pseudo_labels import cam_generation as generation_module
from mmhfpl.pseudo_labels.crf import CRFConfig, dense_crf, dense_crf_labels
from mmhfpl.pseudo_labels.make_labels import (
    ADAPTIVE_CRF_KERNELS,
    LABEL_CRF_GT_PROB,
    class_scores,
    scores_with_background,
)
from mmhfpl.structures import load_label_png, save_label_png


class ImageEchoModel(torch.nn.Module):
    """Stands in for a stage-1 model: its CAM of class c is input channel c (no stride)."""

    num_classes = 6

    def test_step(self, batch):
        out = []
        for inputs, sample in zip(batch['inputs'], batch['data_samples'], strict=True):
            cam = inputs.float()[[0, 1, 2, 0, 1, 2]] / 255.0 - 0.25
            sample.set_field(cam, 'cam')
            out.append(sample)
        return out


def test_cam_file_round_trip_and_errors(tmp_path):
    cams = np.random.default_rng(0).random((2, 5, 7)).astype(np.float32)
    record = CAMRecord(cams=cams, labels=np.array([1, 4]), thresholds=np.array([0.3, 0.6]))
    save_cam_file(tmp_path / 'a.npz', record)
    back = load_cam_file(tmp_path / 'a.npz')
    np.testing.assert_allclose(back.cams, cams, atol=5e-4)
    assert back.labels.tolist() == [1, 4] and back.thresholds.tolist() == pytest.approx([.3, .6])
    assert not [p for p in os.listdir(tmp_path) if p.endswith('.tmp')]
    np.savez(tmp_path / 'bad.npz', something=np.zeros(3))
    with pytest.raises(ValueError, match=r'bad.npz: not a CAM file'):
        load_cam_file(tmp_path / 'bad.npz')
    np.savez(tmp_path / 'pickled.npz', cams=np.array([object()]), labels=np.zeros(1))
    with pytest.raises(ValueError, match='pickled.npz.*pickled objects.*generate_cams') as err:
        load_cam_file(tmp_path / 'pickled.npz')
    assert 'allow_pickle' not in str(err.value)
    (tmp_path / 'cut.npz').write_bytes((tmp_path / 'a.npz').read_bytes()[:60])
    with pytest.raises(ValueError, match=r'cut.npz: invalid CAM file.*re-run tools/generate_cams'):
        load_cam_file(tmp_path / 'cut.npz')
    with pytest.raises(FileNotFoundError, match='missing.npz'):
        load_cam_file(tmp_path / 'missing.npz')
    with pytest.raises(ValueError, match='labels'):
        CAMRecord(cams=cams, labels=np.array([1]))
    # The optional background map of models that predict one (SIPE).
    background = np.random.default_rng(1).random((5, 7)).astype(np.float32)
    save_cam_file(tmp_path / 'b.npz', CAMRecord(cams=cams, labels=np.array([1, 4]),
                                                background=background))
    back = load_cam_file(tmp_path / 'b.npz')
    np.testing.assert_allclose(back.background, background, atol=5e-4)
    assert back.thresholds is None and load_cam_file(tmp_path / 'a.npz').background is None
    with pytest.raises(ValueError, match='background of shape'):
        CAMRecord(cams=cams, labels=np.array([1, 4]), background=background[:4])
    np.savez(tmp_path / 'badbg.npz', cams=cams.astype(np.float16), labels=np.array([1, 4]),
             background=np.zeros((3, 3), np.float16))
    with pytest.raises(ValueError, match='badbg.npz: invalid CAM file.*background'):
        load_cam_file(tmp_path / 'badbg.npz')


@pytest.fixture
def toy_tta_dataset(toy_root):
    with DefaultScope.overwrite_default_scope('mmhfpl'):
        return ToyVOCDataset(data_root=toy_root, ann_file='ImageSets/Segmentation/val.txt',
                             test_mode=True, pipeline=cam_tta_pipeline((1.0, 0.5), flip=True))


def test_tta_views_are_unflipped_resized_rectified_and_summed(toy_tta_dataset):
    views = toy_tta_dataset[0]
    assert len(views['inputs']) == 4
    model = ImageEchoModel()
    assert cam_fusion_of(model) == 'irn'
    record = tta_record(model, views, num_classes=6, labels=np.arange(6))
    image = views['inputs'][0].float()  # the unflipped full-scale view (BGR, as loaded)
    full = (image[[0, 1, 2, 0, 1, 2]] / 255.0 - 0.25).clamp(min=0).numpy()
    assert record.cams.shape == (6, *image.shape[1:])
    # Two full-scale views (one flipped back) give exactly 2x the rectified echo, the
    # half-scale views a blurred copy of it (which an un-flip error would mirror); IRN's
    # make_cam then divides by the maximum.
    expected = full / (full.reshape(6, -1).max(1)[:, None, None] + 1e-5)
    error = np.abs(record.cams - expected).mean()
    assert error < 0.02
    assert np.abs(record.cams - expected[..., ::-1]).mean() > 2 * error


class LogitEchoModel(torch.nn.Module):
    """A Spatial-BCE stand-in: logits and thresholds from the pooled view (stride 4)."""

    cam_fusion = 'spatial_bce'

    def test_step(self, batch):
        out = []
        for inputs, sample in zip(batch['inputs'], batch['data_samples'], strict=True):
            feat = F.avg_pool2d(inputs.float()[None], 4)[0] / 255.0  # (3, h / 4, w / 4)
            sample.set_field((feat - 0.45) * 8, 'cam')
            sample.set_field(torch.sigmoid(feat.mean(dim=(1, 2)) * 3 - 1.2), 'thresholds')
            out.append(sample)
        return out


def authors_eq9_labels(model, views, labels) -> np.ndarray:
    """Spatial-BCE's make_cam.py + transnpy + make_crf.py's argmax, step by step."""
    ori = tuple(views['data_samples'][0].ori_shape)
    cam_list, threshold_logits = [], []
    for view, sample in zip(views['inputs'], views['data_samples'], strict=True):
        out = model.test_step(dict(inputs=[view], data_samples=[sample]))[0]
        cam = F.interpolate(out.cam[None], ori, mode='bilinear', align_corners=False)[0]
        cam_list.append(cam.flip(-1) if sample.flip else cam)
        threshold_logits.append(torch.logit(out.thresholds.double()))
    prob = torch.sigmoid(torch.stack(cam_list).mean(dim=0)).numpy()
    mask = np.zeros(len(prob))
    mask[labels] = 1
    prob = prob * mask[:, None, None]
    prob[prob < prob.max(axis=0)] = 0
    norm = prob / (prob.max(axis=(1, 2), keepdims=True) + 1e-8)
    threshold = torch.sigmoid(torch.stack(threshold_logits).mean(dim=0)).numpy()
    scores = [np.zeros(ori)] + [np.where(norm[c] > threshold[c], norm[c] - threshold[c], -1)
                                for c in labels]
    return np.array([0, *(c + 1 for c in labels)])[np.argmax(scores, axis=0)]


def test_spatial_bce_tta_and_eq9_labels_follow_the_authors_inference(toy_tta_dataset):
    model, agree_old = LogitEchoModel(), []
    for index in range(4):
        views = toy_tta_dataset[index]
        labels = np.array([0, 2])
        record = tta_record(model, views, num_classes=3, labels=labels)
        ours = record_to_label(record, BackgroundRule(adaptive=True))
        expected = authors_eq9_labels(model, views, labels)
        assert (ours == expected).mean() > 0.999, index
        assert len(np.unique(expected)) == 3, 'the example exercises both classes'
        # The rule mmhfpl had before (per-view sigmoid, no top-class mask) differs here.
        probs = np.mean([torch.sigmoid(maps[0]).numpy() for maps, _, _ in
                         generation_module._view_cams(model, views, ['cam'])], axis=0)[labels]
        old = CAMRecord(cams=probs / probs.max(axis=(1, 2), keepdims=True), labels=labels,
                        thresholds=record.thresholds)
        agree_old.append((record_to_label(old, BackgroundRule(adaptive=True, normalize=False))
                          == expected).mean())
    assert min(agree_old) < 0.99


def test_generate_cams_is_resumable_and_sharded(tmp_path, toy_tta_dataset, monkeypatch):
    out = tmp_path / 'cams'
    out.mkdir()
    (out / '.toy_000000.abc.npz.tmp').write_bytes(b'partial')
    calls = {'n': 0}
    real_save = generation_module.save_cam_file

    def killed_after_three(path, record):
        if calls['n'] == 3:
            raise KeyboardInterrupt('simulated kill')
        calls['n'] += 1
        real_save(path, record)

    monkeypatch.setattr(generation_module, 'save_cam_file', killed_after_three)
    with pytest.raises(KeyboardInterrupt):
        generate_cams(ImageEchoModel(), toy_tta_dataset, str(out), 6, progress=False)
    assert sorted(os.listdir(out)) == ['toy_000032.npz', 'toy_000033.npz', 'toy_000034.npz']
    monkeypatch.setattr(generation_module, 'save_cam_file', real_save)
    # A file cut short by something other than this process (a copy, a full disk) is not
    # trusted because it exists: the resumed run writes it again.
    cut = out / 'toy_000033.npz'
    cut.write_bytes(cut.read_bytes()[:100])
    counts = generate_cams(ImageEchoModel(), toy_tta_dataset, str(out), 6, progress=False)
    assert counts == dict(written=6, skipped=2, rewritten=1)
    assert len(os.listdir(out)) == 8, 'no partial or temporary file is left'
    for index in range(8):
        info = toy_tta_dataset.get_data_info(index)
        record = load_cam_file(out / f'toy_{32 + index:06d}.npz')
        assert record.labels.tolist() == info['gt_label'].tolist()
        assert record.image_size == (128, 128)
        if len(record.labels):
            np.testing.assert_allclose(record.cams.reshape(len(record.labels), -1).max(1), 1,
                                       atol=1e-3)

    shard = tmp_path / 'shard'
    monkeypatch.setattr(generation_module, 'get_dist_info', lambda: (1, 3))
    counts = generate_cams(ImageEchoModel(), toy_tta_dataset, str(shard), 6, progress=False)
    assert sorted(os.listdir(shard)) == ['toy_000033.npz', 'toy_000036.npz', 'toy_000039.npz']


def _record() -> CAMRecord:
    cams = np.zeros((2, 2, 3), dtype=np.float32)
    cams[0] = [[0.9, 0.5, 0.1], [0.2, 0.0, 0.6]]
    cams[1] = [[0.3, 0.7, 0.2], [0.1, 0.0, 0.5]]
    return CAMRecord(cams=cams, labels=np.array([2, 14]), thresholds=np.array([0.4, 0.6]))


def test_background_rules_by_hand():
    record = _record()
    # Constant background 0.4: argmax over [0.4, cam(class 3), cam(class 15)].
    np.testing.assert_array_equal(record_to_label(record, BackgroundRule(bg_threshold=0.4)),
                                  [[3, 15, 0], [0, 0, 3]])
    # alpha = 1: background = 1 - max = [[.1, .3, .8], [.8, 1, .4]].
    np.testing.assert_array_equal(record_to_label(record, BackgroundRule(alpha=1.0)),
                                  [[3, 15, 0], [0, 0, 3]])
    # Eq. 9 on raw probabilities: margins p - t = class 3: [[.5, .1, -.3], [-.2, -.4, .2]],
    # class 15: [[-.3, .1, -.4], [-.5, -.6, -.1]]; ties (0.1 vs 0.1) go to the first class.
    raw = BackgroundRule(adaptive=True, normalize=False)
    np.testing.assert_array_equal(record_to_label(record, raw), [[3, 3, 0], [0, 0, 3]])
    # Default, as the authors' make_cam.py: each pixel keeps its top class (the tie at
    # (1, 1) keeps both), maps are divided by their maxima (0.9, 0.7): class 3:
    # [[1, 0, 0], [.222, 0, .667]] - .4, class 15: [[0, 1, .286], [0, 0, 0]] - .6.
    np.testing.assert_array_equal(record_to_label(record, BackgroundRule(adaptive=True)),
                                  [[3, 15, 0], [0, 0, 3]])
    # Where a class is not the top one it cannot win, however high its own normalised
    # value: class 15 (0.45 / 0.45 = 1 > 0.5) at the second pixel loses to class 3, whose
    # 0.5 / 0.9 = 0.56 is below its threshold 0.6, so the pixel is background.
    record = CAMRecord(cams=np.array([[[0.9, 0.5]], [[0.1, 0.45]]], np.float32),
                       labels=np.array([2, 14]), thresholds=np.array([0.6, 0.5]))
    np.testing.assert_array_equal(record_to_label(record, BackgroundRule(adaptive=True)),
                                  [[3, 0]])
    with pytest.raises(ValueError, match='exactly one'):
        BackgroundRule(bg_threshold=0.3, alpha=2.0)
    with pytest.raises(TypeError, match='numpy arrays'):
        scores_with_background(torch.from_numpy(record.cams), BackgroundRule(adaptive=True),
                               record.thresholds)
    # The constant and alpha rules give the same scores on arrays and tensors.
    for rule in (BackgroundRule(bg_threshold=0.4), BackgroundRule(alpha=2.0)):
        np.testing.assert_allclose(
            scores_with_background(torch.from_numpy(record.cams), rule).numpy(),
            scores_with_background(record.cams, rule), rtol=1e-6)
    no_thresholds = CAMRecord(cams=record.cams, labels=record.labels)
    with pytest.raises(ValueError, match='has none'):
        record_to_label(no_thresholds, BackgroundRule(adaptive=True))
    # The stored background map times bg_scale (SIPE): [[.5, .2]] vs [[.9, .5]], [[.1, .45]].
    stored = CAMRecord(cams=record.cams, labels=record.labels,
                       background=np.array([[0.95, 0.2]], np.float32))
    np.testing.assert_array_equal(record_to_label(stored, BackgroundRule(bg_scale=1.0)),
                                  [[0, 3]])
    np.testing.assert_array_equal(record_to_label(stored, BackgroundRule(bg_scale=0.5)),
                                  [[3, 3]])
    np.testing.assert_allclose(
        scores_with_background(torch.from_numpy(stored.cams), BackgroundRule(bg_scale=0.5),
                               background=stored.background).numpy(),
        scores_with_background(stored.cams, BackgroundRule(bg_scale=0.5),
                               background=stored.background), rtol=1e-6)
    with pytest.raises(ValueError, match='bg_scale needs a background map'):
        record_to_label(no_thresholds, BackgroundRule(bg_scale=1.0))
    with pytest.raises(ValueError, match='exactly one'):
        BackgroundRule(bg_threshold=0.3, bg_scale=1.0)


def test_adaptive_crf_refines_the_hard_eq9_labels_with_the_label_dcrf():
    """Adaptive labels + dCRF = the label dCRF (confidence 0.7) of the hard Eq. 9 map."""
    rng = np.random.default_rng(0)
    image = np.zeros((12, 12, 3), np.uint8)
    image[:, 6:] = 200
    image = (image + rng.integers(0, 20, image.shape)).astype(np.uint8)
    cams = rng.random((2, 12, 12)).astype(np.float32) * 0.5
    cams[0, :, 6:] += 0.5
    record = CAMRecord(cams=cams, labels=np.array([4, 9]),
                       thresholds=np.array([0.6, 0.8], np.float32))
    rule = BackgroundRule(adaptive=True)
    crf = CRFConfig(**ADAPTIVE_CRF_KERNELS, scale_factor=2.0)
    hard = class_scores(record, rule).argmax(axis=0)
    expected = dense_crf_labels(image, hard, 3, gt_prob=LABEL_CRF_GT_PROB, gaussian_sxy=1.5,
                                bilateral_sxy=20.0, bilateral_srgb=5.0)
    refined = record_to_label(record, rule, image, crf)
    np.testing.assert_array_equal(refined, np.array([0, 5, 10], np.uint8)[expected])
    assert (refined != np.array([0, 5, 10], np.uint8)[hard]).any()  # the dCRF changed it


def test_min_confidence_ignores_pixels_below_the_dcrf_posterior(tmp_path):
    """PMM's heat maps: dCRF of (1 - max CAM)^24 and the CAMs; a class keeps the pixels
    where its posterior exceeds 0.9, the others become 255."""
    rng = np.random.default_rng(2)
    image = (rng.integers(0, 60, (16, 16, 3)) + np.where(
        np.arange(16)[None, :, None] >= 8, 150, 0)).astype(np.uint8)
    cams = np.zeros((2, 16, 16), np.float32)
    cams[0, :, 9:] = 0.9
    cams[1, :4, :4] = 0.6
    cams[1, 8:, :8] = 0.12  # weak: the dCRF leaves some of these pixels uncertain
    record = CAMRecord(cams=cams, labels=np.array([3, 7]))
    rule, crf = BackgroundRule(alpha=24), CRFConfig(scale_factor=4.0)
    posterior = dense_crf(image, class_scores(record, rule).clip(min=0), **asdict(crf))
    expected = np.array([0, 4, 8], np.uint8)[posterior.argmax(axis=0)]
    expected[posterior.max(axis=0) <= 0.9] = 255
    heat = record_to_label(record, rule, image, crf, min_confidence=0.9)
    np.testing.assert_array_equal(heat, expected)
    assert {0, 4, 255} <= set(np.unique(heat).tolist())
    np.testing.assert_array_equal(  # without the threshold: the plain dCRF label
        record_to_label(record, rule, image, crf), np.array([0, 4, 8], np.uint8)[
            posterior.argmax(axis=0)])
    save_cam_file(tmp_path / 'cams' / 'a.npz', record)
    Image.fromarray(image).save(tmp_path / 'a.png')  # lossless: the same dCRF input
    make_pseudo_labels(str(tmp_path / 'cams'), ['a'], str(tmp_path / 'heat'), rule,
                       image_dir=str(tmp_path), image_suffix='.png', crf=crf,
                       min_confidence=0.9)
    np.testing.assert_array_equal(load_label_png(tmp_path / 'heat' / 'a.png'), expected)
    for bad_rule, bad_crf in ((rule, None), (BackgroundRule(adaptive=True), crf),
                              (BackgroundRule(ppg_alpha=11), crf)):
        with pytest.raises(ValueError, match='min_confidence needs the soft dCRF'):
            record_to_label(record, bad_rule, image, bad_crf, min_confidence=0.9)


def test_more_ranks_times_workers_than_cores_is_warned(tmp_path, monkeypatch):
    from mmhfpl.pseudo_labels import make_labels as make_labels_module

    warnings = []
    monkeypatch.setattr(make_labels_module, 'print_log',
                        lambda message, **kwargs: warnings.append(message))
    save_cam_file(tmp_path / 'cams' / 'a.npz', _record())
    monkeypatch.setattr(os, 'cpu_count', lambda: 4)
    monkeypatch.setenv('LOCAL_WORLD_SIZE', '2')
    make_pseudo_labels(str(tmp_path / 'cams'), ['a'], str(tmp_path / 'ok'),
                       BackgroundRule(bg_threshold=0.4), num_workers=2, progress=False)
    assert warnings == []  # 2 ranks x 2 workers on 4 cores
    make_pseudo_labels(str(tmp_path / 'cams'), ['a'], str(tmp_path / 'many'),
                       BackgroundRule(bg_threshold=0.4), num_workers=3, progress=False)
    assert warnings == ['2 rank(s) x 3 dCRF worker(s) = 6 processes on 4 CPU cores: they '
                        'will slow each other down; lower --workers']


def test_make_pseudo_labels_writes_palette_pngs_and_resumes(tmp_path):
    save_cam_file(tmp_path / 'cams' / 'a.npz', _record())
    save_cam_file(tmp_path / 'cams' / 'b.npz', CAMRecord(np.zeros((0, 2, 3)), np.zeros(0)))
    counts = make_pseudo_labels(str(tmp_path / 'cams'), ['a', 'b'], str(tmp_path / 'pl'),
                                BackgroundRule(bg_threshold=0.4))
    assert counts == dict(written=2, skipped=0)
    np.testing.assert_array_equal(load_label_png(tmp_path / 'pl' / 'a.png'),
                                  [[3, 15, 0], [0, 0, 3]])
    assert load_label_png(tmp_path / 'pl' / 'b.png').max() == 0
    image = np.zeros((2, 3, 3), dtype=np.uint8)
    Image.fromarray(image).save(tmp_path / 'b.jpg')
    Image.fromarray(image).save(tmp_path / 'a.jpg')
    counts = make_pseudo_labels(str(tmp_path / 'cams'), ['a', 'b'], str(tmp_path / 'pl_crf'),
                                BackgroundRule(bg_threshold=0.4), image_dir=str(tmp_path),
                                crf=CRFConfig(), num_workers=2)
    assert counts == dict(written=2, skipped=0), 'dCRF runs and skips class-free images'
    assert load_label_png(tmp_path / 'pl_crf' / 'b.png').max() == 0
    again = make_pseudo_labels(str(tmp_path / 'cams'), ['a', 'b'], str(tmp_path / 'pl'),
                               BackgroundRule(bg_threshold=0.4))
    assert again == dict(written=0, skipped=2)
    with pytest.raises(FileNotFoundError, match=r'c\.npz'):
        make_pseudo_labels(str(tmp_path / 'cams'), ['c'], str(tmp_path / 'pl'),
                           BackgroundRule(bg_threshold=0.4))
    # A CAM of the wrong size is an error naming the CAM file and the image, with and
    # without dCRF (without it the label used to be written at the CAM's size).
    Image.fromarray(np.zeros((4, 3, 3), np.uint8)).save(tmp_path / 'a.jpg')
    for crf in (None, CRFConfig()):
        with pytest.raises(ValueError, match=r'a\.npz: CAMs of size \(2, 3\) but the image .*'
                           r'a\.jpg is \(4, 3\)'):
            make_pseudo_labels(str(tmp_path / 'cams'), ['a'], str(tmp_path / f'wrong{crf}'),
                               BackgroundRule(bg_threshold=0.4), image_dir=str(tmp_path),
                               crf=crf)
        assert not (tmp_path / f'wrong{crf}' / 'a.png').exists()


def test_jf_accumulator_matches_mmseg_iou():
    rng = np.random.default_rng(0)
    acc = JFAccumulator(num_classes=4)
    metric = IoUMetric()
    metric.dataset_meta = dict(classes=('bg', 'a', 'b', 'c'))
    for _ in range(3):
        gt = rng.integers(0, 4, (20, 30))
        gt[0] = 255
        pred = np.where(rng.random((20, 30)) < 0.8, gt.clip(max=3), rng.integers(0, 4, (20, 30)))
        acc.add(pred, gt)
        metric.process({}, [dict(pred_sem_seg=dict(data=torch.from_numpy(pred)[None]),
                                 gt_sem_seg=dict(data=torch.from_numpy(gt)[None]))])
    result = acc.result()
    assert round(result['J'], 2) == metric.evaluate(3)['mIoU']
    assert result['J&F'] == pytest.approx((result['J'] + result['F']) / 2)


def test_evaluation_errors_name_the_file(tmp_path):
    gt = np.zeros((2, 3), dtype=np.uint8)
    gt[0, 0] = 3
    save_label_png(tmp_path / 'gt.png', gt)
    samples = [('a', str(tmp_path / 'gt.png'))]
    rule = [BackgroundRule(bg_threshold=0.3)]
    with pytest.raises(FileNotFoundError, match=r'a\.npz'):
        evaluate_cams(str(tmp_path), samples, 21, rule)
    save_cam_file(tmp_path / 'a.npz', _record())  # CAMs of classes 2 and 14; GT has class 2
    with pytest.raises(ValueError, match=r'a\.npz: CAMs of classes \[14\]'):
        evaluate_cams(str(tmp_path), samples, 21, rule)
    save_cam_file(tmp_path / 'a.npz', CAMRecord(np.zeros((1, 4, 4)), np.array([2])))
    with pytest.raises(ValueError, match=r'CAM size \(4, 4\) differs'):
        evaluate_cams(str(tmp_path), samples, 21, rule)
    save_label_png(tmp_path / 'a.png', np.zeros((3, 3), dtype=np.uint8))
    with pytest.raises(ValueError, match=r'a\.png: size \(3, 3\) differs'):
        evaluate_label_dir(str(tmp_path), samples, 21)


def test_long_loops_show_progress_and_end_their_line(tmp_path, capfd):
    save_cam_file(tmp_path / 'cams' / 'a.npz', _record())
    save_cam_file(tmp_path / 'cams' / 'b.npz', _record())
    image = np.zeros((2, 3, 3), dtype=np.uint8)
    for name in ('a', 'b'):
        Image.fromarray(image).save(tmp_path / f'{name}.jpg')
    capfd.readouterr()
    make_pseudo_labels(str(tmp_path / 'cams'), ['a', 'b'], str(tmp_path / 'pl'),
                       BackgroundRule(bg_threshold=0.4), image_dir=str(tmp_path),
                       crf=CRFConfig(), num_workers=2)
    out = capfd.readouterr().out
    assert '2/2' in out and 'elapsed' in out, 'an mmengine progress bar over the labels'
    assert out.endswith('\n'), 'the bar ends its line, so the next log line starts fresh'
    make_pseudo_labels(str(tmp_path / 'cams'), ['a', 'b'], str(tmp_path / 'quiet'),
                       BackgroundRule(bg_threshold=0.4), progress=False)
    assert 'elapsed' not in capfd.readouterr().out
