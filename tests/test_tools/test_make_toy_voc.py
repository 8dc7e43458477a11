"""The toy benchmark: layout, determinism, and the WSSS difficulty it must pose (both styles)."""

import colorsys
import hashlib
import json
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image
from scipy import ndimage
from skimage.morphology import convex_hull_image

from mmhfpl.datasets import TOY_CLASSES
from mmhfpl.structures import load_label_png, voc_palette
from tests.conftest import REPO, load_tool

toy_tool = load_tool('tools/dataset_converters/make_toy_voc.py')
ToyVOCConfig = toy_tool.ToyVOCConfig
make_toy_voc = toy_tool.make_toy_voc
render_toy_sample = toy_tool.render_toy_sample
render_toy_parts = toy_tool.render_toy_parts

SAMPLES = 160


@pytest.fixture(scope='module', params=['texture', 'uniform'])
def samples(request):
    cfg = ToyVOCConfig(style=request.param)
    return [render_toy_sample(cfg, i) for i in range(SAMPLES)]


@pytest.fixture(scope='module')
def parts():
    """Version-2 (default, 'texture') samples with the generator's object parts."""
    cfg = ToyVOCConfig()
    assert cfg.style == 'texture', 'version 2 is the default'
    return [render_toy_parts(cfg, i) for i in range(SAMPLES)]


def _digest(root) -> str:
    digest = hashlib.sha256()
    for dirpath, _, files in sorted(os.walk(root)):
        for name in sorted(files):
            with open(os.path.join(dirpath, name), 'rb') as handle:
                digest.update(name.encode() + handle.read())
    return digest.hexdigest()


def test_layout_and_lists(toy_root):
    for split, count in (('train', 32), ('val', 8)):
        ids = open(os.path.join(toy_root, 'ImageSets/Segmentation', f'{split}.txt')).read().split()
        assert len(ids) == count
        for sample_id in ids:
            with Image.open(os.path.join(toy_root, 'JPEGImages', f'{sample_id}.jpg')) as img:
                assert img.format == 'JPEG' and img.size == (128, 128) and img.mode == 'RGB'
            with Image.open(os.path.join(toy_root, 'SegmentationClass', f'{sample_id}.png')) as m:
                assert m.mode == 'P'
                palette = np.array(m.getpalette()[:256 * 3]).reshape(-1, 3)
                np.testing.assert_array_equal(palette, voc_palette())
    meta = json.load(open(os.path.join(toy_root, 'toy_meta.json')))
    assert meta['classes'] == list(TOY_CLASSES)
    assert meta['generator']['num_train'] == 32


def test_voc_palette_matches_mmseg():
    from mmseg.datasets import PascalVOCDataset
    np.testing.assert_array_equal(voc_palette(21), PascalVOCDataset.METAINFO['palette'])
    assert voc_palette()[255].tolist() == [224, 224, 192]


def test_deterministic_and_seeded(tmp_path):
    small = ToyVOCConfig(num_train=6, num_val=2, image_size=64, radius_range=(8, 14))
    make_toy_voc(str(tmp_path / 'a'), small)
    make_toy_voc(str(tmp_path / 'b'), small)
    assert _digest(tmp_path / 'a') == _digest(tmp_path / 'b')
    other = ToyVOCConfig(num_train=6, num_val=2, image_size=64, radius_range=(8, 14), seed=1)
    image_a, _ = render_toy_sample(small, 0)
    image_b, _ = render_toy_sample(other, 0)
    assert not np.array_equal(image_a, image_b)


def test_tool_writes_requested_counts(tmp_path):
    root = tmp_path / 'toy'
    subprocess.run([sys.executable, 'tools/dataset_converters/make_toy_voc.py', str(root),
                    '--num-train', '5', '--num-val', '3', '--size', '64', '--seed', '3'],
                   cwd=REPO, check=True)
    assert len((root / 'ImageSets/Segmentation/train.txt').read_text().split()) == 5
    assert len((root / 'ImageSets/Segmentation/val.txt').read_text().split()) == 3
    assert load_label_png(root / 'SegmentationClass/toy_000000.png').shape == (64, 64)


def test_bad_generator_parameters():
    with pytest.raises(ValueError, match='image_size'):
        ToyVOCConfig(image_size=16)
    with pytest.raises(ValueError, match='radius_range'):
        ToyVOCConfig(radius_range=(30, 60))


def test_objects_classes_and_cooccurrence(samples):
    num_fg = len(TOY_CLASSES) - 1
    assert num_fg >= 5
    counts = np.zeros(num_fg + 1)
    pairs = partners = 0
    for _, label in samples:
        present = sorted(set(np.unique(label).tolist()) - {0, 255})
        assert len(present) <= 3
        counts[present] += 1
        if len(present) >= 2:
            pairs += 1
            partners += any(c % 2 == 1 and c + 1 in present for c in present)
    assert (counts[1:] > 0).all(), 'every class appears'
    # Partner classes (1,2), (3,4), (5,6) co-occur far more often than by chance (1/5).
    assert partners / pairs > 0.5


def _objects(label: np.ndarray) -> list[np.ndarray]:
    """Connected components of each foreground class (void band removed)."""
    comps = []
    for cls in set(np.unique(label).tolist()) - {0, 255}:
        parts, num = ndimage.label(label == cls)
        comps += [parts == k for k in range(1, num + 1) if (parts == k).sum() > 60]
    return comps


def test_non_convex_objects_and_contacts(samples):
    solidity = []
    touching = 0
    for _, label in samples:
        for obj in _objects(label):
            solidity.append(obj.sum() / convex_hull_image(obj).sum())
        classes_here = set(np.unique(label).tolist()) - {0, 255}
        # Two objects touch when the void band between them is all that separates them.
        if len(classes_here) >= 2:
            grown = [ndimage.binary_dilation(label == c, iterations=2) for c in classes_here]
            touching += any((a & b).any() for i, a in enumerate(grown) for b in grown[i + 1:])
    assert np.median(solidity) < 0.85, 'objects are clearly non-convex'
    assert touching >= 0.1 * len(samples), 'some objects touch or overlap'


def _saturation(image: np.ndarray) -> np.ndarray:
    rgb = image.reshape(-1, 3) / 255.0
    return np.array([colorsys.rgb_to_hsv(*px)[1] for px in rgb]).reshape(image.shape[:2])


def test_uniform_style_marks_are_small_and_bodies_alike():
    cfg = ToyVOCConfig(style='uniform')
    mark_share, body_colour = [], {c: [] for c in range(1, len(TOY_CLASSES))}
    for image, label in (render_toy_sample(cfg, i) for i in range(60)):
        sat = _saturation(image)
        for cls in set(np.unique(label).tolist()) - {0, 255}:
            obj = ndimage.binary_erosion(label == cls, iterations=1)
            if obj.sum() < 60:
                continue
            mark = obj & (sat > 0.75)
            mark_share.append(mark.sum() / obj.sum())
            body_colour[cls].append(image[obj & ~ndimage.binary_dilation(mark, iterations=2)]
                                    .mean(axis=0))
    share = np.median(mark_share)
    assert 0.02 < share < 0.2, f'marks cover {share:.2f} of an object'
    means = np.array([np.mean(v, axis=0) for v in body_colour.values() if v])
    # Bodies of different classes have (nearly) the same mean colour.
    assert np.ptp(means, axis=0).max() < 25


def _colour_gradient(image: np.ndarray) -> np.ndarray:
    img = image.astype(np.float32)
    return np.sqrt(sum(ndimage.sobel(img[..., c], axis) ** 2 for c in range(3) for axis in (0, 1)))


def test_contours_follow_colour_edges_and_void_band():
    cfg = ToyVOCConfig(style='uniform')
    on_edge, inside = [], []
    for image, label in (render_toy_sample(cfg, i) for i in range(60)):
        fg = (label > 0) & (label < 255)
        if not fg.any():
            continue
        void = label == 255
        assert void.any(), 'objects are outlined by a void band'
        assert (ndimage.binary_dilation(fg) & void).sum() >= 0.8 * void.sum()
        grad = _colour_gradient(image)
        marks = ndimage.binary_dilation(_saturation(image) > 0.75, iterations=2)
        edge = ndimage.binary_dilation(void) & ~void
        on_edge.append(grad[edge].mean())
        inside.append(grad[ndimage.binary_erosion(fg, iterations=3) & ~marks].mean())
    # Object contours are strong colour edges compared with the body texture.
    assert np.median(on_edge) > 2 * np.median(inside)


def test_background_has_clutter_and_empty_images_occur():
    cfg = ToyVOCConfig(empty_fraction=0.5, style='uniform')
    images = [render_toy_sample(cfg, i) for i in range(20)]
    empties = [img for img, lab in images if lab.max() == 0]
    assert 3 <= len(empties) <= 17
    grad = _colour_gradient(empties[0])
    assert (grad > 100).mean() > 0.01, 'the background is textured, not flat'


# --- version 2 ('texture'): real photographic appearance, by class ---

def _body_features(parts, key):
    """Mean and spread of colour of every object's visible body, and its class or appearance."""
    features, targets = [], []
    for sample in parts:
        for cls, appearance, body, _ in sample.objects:
            inner = ndimage.binary_erosion(body, iterations=1)
            if inner.sum() < 60:
                continue
            pixels = sample.image[inner].astype(np.float32)
            features.append(np.concatenate([pixels.mean(0), pixels.std(0)]))
            targets.append(appearance if key == 'appearance' else cls)
    return np.array(features), np.array(targets)


def _nearest_centroid_accuracy(features, targets):
    """Fit class centroids on the first half, score the second half."""
    half = len(features) // 2
    keys = np.unique(targets[:half])
    centroids = np.array([features[:half][targets[:half] == k].mean(0) for k in keys])
    distances = ((features[half:, None] - centroids[None]) ** 2).sum(-1)
    return (keys[distances.argmin(1)] == targets[half:]).mean()


def test_texture_bodies_look_like_their_class_unless_borrowed(parts):
    features, appearance = _body_features(parts, 'appearance')
    assert len(features) > 250
    # Six classes: chance is 1/6. Photographic bodies are told apart by colour statistics
    # alone most of the time; version 1's shared body distribution is not (below).
    assert _nearest_centroid_accuracy(features, appearance) > 0.55
    uniform = [render_toy_parts(ToyVOCConfig(style='uniform'), i) for i in range(SAMPLES)]
    features_v1, classes_v1 = _body_features(uniform, 'class')
    assert _nearest_centroid_accuracy(features_v1, classes_v1) < 0.3

    objects = [(cls, app) for sample in parts for cls, app, _, _ in sample.objects]
    borrowed = np.mean([cls != app for cls, app in objects])
    # borrow_prob 0.15 over ~320 objects: binomial standard deviation about 0.02.
    assert 0.08 < borrowed < 0.22, f'{borrowed:.3f} of the objects borrow an appearance'
    no_borrow = ToyVOCConfig(borrow_prob=0.0)
    assert all(cls == app for i in range(20)
               for cls, app, _, _ in render_toy_parts(no_borrow, i).objects)


def test_texture_marks_small_distractors_background_edges_everywhere(parts):
    shares = [mark.sum() / (body.sum() + mark.sum())
              for sample in parts for _, _, body, mark in sample.objects if mark.any()]
    assert 0.02 < np.median(shares) < 0.2, 'the discriminative part is a small share'
    with_distractor, distractor_labels = 0, []
    strong_background, on_edge, inside = [], [], []
    for sample in parts:
        # Mark-less body-textured blobs are background (void only where an object's band
        # passes over them).
        distractor_labels.append(sample.label[sample.distractors])
        with_distractor += sample.distractors.any()
        grad = _colour_gradient(sample.image)
        background = ndimage.binary_erosion(sample.label == 0, iterations=3)
        strong_background.append((grad[background] > 100).mean())
        void = sample.label == 255
        if void.any():
            marks = np.zeros_like(void)
            for _, _, _, mark in sample.objects:
                marks |= mark
            fg = (sample.label > 0) & (sample.label < 255)
            edge = ndimage.binary_dilation(void) & ~void
            on_edge.append(grad[edge].mean())
            inside.append(grad[ndimage.binary_erosion(fg, iterations=3)
                               & ~ndimage.binary_dilation(marks, iterations=2)].mean())
    assert with_distractor > 0.8 * len(parts)
    distractor_labels = np.concatenate(distractor_labels)
    assert np.isin(distractor_labels, (0, 255)).all() and (distractor_labels == 0).mean() > 0.9
    # Backgrounds have edges of their own (region borders, lines, photo content): far more
    # strong-gradient pixels than version 1's shaded field.
    assert np.median(strong_background) > 0.2
    # Object contours remain colour edges, stronger than the body textures inside.
    assert np.median(on_edge) > 2 * np.median(inside)
