"""Write the toy benchmark: a deterministic toy set in the PASCAL VOC directory layout.

Examples:
    python tools/dataset_converters/make_toy_voc.py data/toy_voc
    python tools/dataset_converters/make_toy_voc.py data/toy_small --num-train 40 --num-val 10 \
        --size 64

The toy set is small enough to train on a CPU in minutes but keeps the difficulty
that makes weakly-supervised segmentation hard on real data. Two styles share the geometry
(``style``; ``'texture'``, version 2, is the default):

* **Discriminative parts.** Every object is a "body" plus a small "mark" (about a tenth of
  its area) whose colour and shape identify the class, so a classifier can get by with the
  mark and plain CAMs under-cover objects.
* **Class appearance** (``'texture'``). Bodies are cut from real photographs shipped with
  scikit-image (no download), one source per class: cat fur, wood, stained tissue,
  retina, a space-suit's fabric, a deep-field sky. Classes of a co-occurring pair are
  chosen to look alike in colour (fur and wood are both brown), and with probability
  ``borrow_prob`` an object takes another class's appearance, as a brown dog looks like a
  brown horse. In the ``'uniform'`` style (version 1) bodies of all classes share one
  colour and texture distribution.
* **Non-convex contours on colour edges.** Bodies are star-shaped blobs with limbs,
  painted pixel-exactly, so object contours coincide with colour edges (what CRF- and
  colour-affinity-based refinement exploit).
* **Background with edges of its own** (``'texture'``): two or three regions cut from
  other photographs and textures (grass, gravel, brick, moon surface, a garage, a launch
  pad, ...), tinted, with straight lines; and distractors: blobs cut from a class's body
  texture that carry no mark and are background. The ``'uniform'`` background is a shaded,
  noisy field with lines, patches and body-coloured distractor blobs.
* **Several objects.** One to three objects per image, drawn from class pairs that
  co-occur often (like person/horse on VOC); some objects touch or overlap.
* **Void band.** As in VOC, a one-pixel band outside each object's visible outline
  is labelled 255 (void) in the ground truth.

Layout written under ``root``::

    JPEGImages/<id>.jpg
    SegmentationClass/<id>.png          # VOC palette PNG: 0 bg, 1..C classes, 255 void
    ImageSets/Segmentation/{train,val}.txt
    toy_meta.json                        # classes and generator parameters

Every image is drawn from its own generator seeded by ``(seed, index)``, so the set
is reproducible bit for bit and an image does not change when counts change.
"""

import argparse
import colorsys
import dataclasses
import functools
import json
import os
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
import skimage.data
from PIL import Image
from scipy import ndimage

from mmhfpl.datasets.toy import TOY_CLASSES
from mmhfpl.structures import atomic_save, save_label_png

# Hue (degrees) of each class's mark; saturated, far from body and clutter colours.
_MARK_HUES = (0.0, 120.0, 225.0, 58.0, 300.0, 180.0)
# Classes are grouped in pairs that co-occur often: (1, 2), (3, 4), (5, 6).
STYLES = ('texture', 'uniform')
# Body appearance of each class in the 'texture' style: (skimage.data image, rows, columns).
_BODY_SOURCES = (
    ('chelsea', (10, 95), (110, 330)),  # cat fur
    ('coffee', (60, 400), (0, 80)),  # wood
    ('immunohistochemistry', (0, 512), (0, 512)),  # stained tissue
    ('retina', (350, 1050), (350, 1050)),  # retina
    ('astronaut', (280, 500), (0, 120)),  # space-suit fabric
    ('hubble_deep_field', (0, 872), (0, 1000)),  # deep-field sky
)
# Background regions in the 'texture' style: grey textures (tinted) and colour photographs.
_BACKGROUND_SOURCES = (
    ('grass', None, None), ('gravel', None, None), ('brick', None, None),
    ('moon', None, None), ('camera', (330, 512), (0, 512)), ('coins', None, None),
    ('stereo_motorcycle', None, None), ('rocket', None, None), ('astronaut', (0, 250), (0, 90)),
)


@dataclass(frozen=True)
class ToyVOCConfig:
    """Parameters of the toy generator (all sizes in pixels).

    Attributes:
        num_train: Images in ``train.txt``.
        num_val: Images in ``val.txt``.
        image_size: Side of the square images.
        max_objects: Objects per image are drawn uniformly from 1..max_objects.
        radius_range: Range of the mean body radius.
        mark_scale: Mark radius relative to the body radius (area share ~ mark_scale^2).
        cooccur_prob: Probability that a further object takes the partner class of the
            first object instead of a uniformly drawn class.
        touch_prob: Probability that a further object is placed touching or
            overlapping an earlier one instead of apart from it.
        min_visible: Minimum visible fraction of an object's body and of its mark.
        empty_fraction: Fraction of images with background only (WSSS training sets
            exclude such images; they exercise that filter).
        num_clutter: Range of clutter items (lines, patches, distractor blobs).
        void_width: Width of the void band around objects (0 disables it).
        jpeg_quality: JPEG quality of the images.
        seed: Base seed.
        style: ``'texture'`` (version 2: class-dependent photographic bodies, photographic
            background regions) or ``'uniform'`` (version 1: one body distribution).
        borrow_prob: ``'texture'``: probability that an object takes the appearance of
            another class (its mark still names its own class).
        num_distractors: ``'texture'``: range of mark-less blobs with a class's body
            texture in the background.
    """

    num_train: int = 800
    num_val: int = 200
    image_size: int = 128
    max_objects: int = 3
    radius_range: tuple[float, float] = (15.0, 28.0)
    mark_scale: float = 0.32
    cooccur_prob: float = 0.5
    touch_prob: float = 0.35
    min_visible: float = 0.5
    empty_fraction: float = 0.01
    num_clutter: tuple[int, int] = (6, 14)
    void_width: int = 1
    jpeg_quality: int = 95
    seed: int = 0
    style: str = 'texture'
    borrow_prob: float = 0.15
    num_distractors: tuple[int, int] = (1, 3)

    def __post_init__(self) -> None:
        if self.style not in STYLES:
            raise ValueError(f'style must be one of {STYLES}, got {self.style!r}')
        if not 0.0 <= self.borrow_prob <= 1.0:
            raise ValueError(f'borrow_prob must lie in [0, 1], got {self.borrow_prob}')
        if self.num_train < 1 or self.num_val < 0:
            raise ValueError('num_train must be >= 1 and num_val >= 0')
        if self.image_size < 32:
            raise ValueError(f'image_size must be >= 32, got {self.image_size}')
        if not 1 <= self.max_objects <= 6:
            raise ValueError(f'max_objects must be in 1..6, got {self.max_objects}')
        low, high = self.radius_range
        if not 4 <= low <= high <= self.image_size / 3:
            raise ValueError(f'radius_range {self.radius_range} does not fit the image size')


def _hsv(hue_deg: float, sat: float, val: float) -> np.ndarray:
    return np.array(colorsys.hsv_to_rgb((hue_deg % 360.0) / 360.0, sat, val), dtype=np.float32)


def _body_colour(rng: np.random.Generator) -> np.ndarray:
    """Shared by all classes: muted orange-brown tones."""
    return _hsv(rng.uniform(18, 42), rng.uniform(0.35, 0.6), rng.uniform(0.5, 0.85))


def _clutter_colour(rng: np.random.Generator) -> np.ndarray:
    """Desaturated greens, blues and greys, away from the marks' saturated hues."""
    return _hsv(rng.uniform(80, 260), rng.uniform(0.05, 0.4), rng.uniform(0.25, 0.8))


def _smooth_noise(rng: np.random.Generator, size: int, cells: int) -> np.ndarray:
    """Low-frequency noise in [-1, 1] (a random grid upsampled bilinearly)."""
    grid = rng.uniform(-1, 1, (cells, cells)).astype(np.float32)
    return ndimage.zoom(grid, size / cells, order=1, mode='nearest')[:size, :size]


def _body_mask(rng: np.random.Generator, yy: np.ndarray, xx: np.ndarray, cy: float,
               cx: float, radius: float) -> np.ndarray:
    """A star-shaped blob with two or three limbs: non-convex by construction."""
    dy, dx = yy - cy, xx - cx
    angle = np.arctan2(dy, dx)
    boundary = np.ones_like(angle)
    for k in range(2, 6):
        boundary += rng.uniform(0.04, 0.16) * np.cos(k * angle + rng.uniform(0, 2 * np.pi))
    mask = np.hypot(dy, dx) < radius * boundary
    for _ in range(rng.integers(2, 4)):
        theta = rng.uniform(0, 2 * np.pi)
        along = dx * np.cos(theta) + dy * np.sin(theta)
        across = -dx * np.sin(theta) + dy * np.cos(theta)
        length = radius * rng.uniform(1.4, 1.8)
        width = radius * rng.uniform(0.1, 0.16)
        mask |= (along > 0) & (along < length) & (np.abs(across) < width)
    return mask


def _mark_mask(class_index: int, yy: np.ndarray, xx: np.ndarray, cy: float, cx: float,
               radius: float, theta: float) -> np.ndarray:
    """The class-specific mark shape (1-based class index) centred at (cy, cx)."""
    dy, dx = yy - cy, xx - cx
    u = dx * np.cos(theta) + dy * np.sin(theta)
    v = -dx * np.sin(theta) + dy * np.cos(theta)
    dist = np.hypot(dx, dy)
    if class_index == 1:  # disc
        return dist < radius
    if class_index == 2:  # square
        return (np.abs(u) < 0.85 * radius) & (np.abs(v) < 0.85 * radius)
    if class_index == 3:  # triangle pointing along theta
        return (u > -0.7 * radius) & (u < radius) & (np.abs(v) < 0.6 * (radius - u))
    if class_index == 4:  # cross
        arm = 0.35 * radius
        horizontal = (np.abs(u) < radius) & (np.abs(v) < arm)
        return horizontal | ((np.abs(v) < radius) & (np.abs(u) < arm))
    if class_index == 5:  # ring
        return (dist < radius) & (dist > 0.5 * radius)
    if class_index == 6:  # bar
        return (np.abs(u) < 1.2 * radius) & (np.abs(v) < 0.4 * radius)
    raise ValueError(f'no mark shape for class index {class_index}')


def _draw_classes(rng: np.random.Generator, cfg: ToyVOCConfig) -> list[int]:
    num_fg = len(TOY_CLASSES) - 1
    count = int(rng.integers(1, cfg.max_objects + 1))
    first = int(rng.integers(1, num_fg + 1))
    partner = first + 1 if first % 2 == 1 else first - 1
    classes = [first]
    for _ in range(count - 1):
        if rng.random() < cfg.cooccur_prob:
            classes.append(partner)
        else:
            classes.append(int(rng.integers(1, num_fg + 1)))
    return classes


def _background(rng: np.random.Generator, cfg: ToyVOCConfig, yy: np.ndarray,
                xx: np.ndarray) -> np.ndarray:
    size = cfg.image_size
    top, bottom = _clutter_colour(rng), _clutter_colour(rng)
    ramp = (yy * np.cos(rng.uniform(0, np.pi)) + xx * np.sin(rng.uniform(0, np.pi))) / size
    ramp = (ramp - ramp.min()) / max(float(np.ptp(ramp)), 1e-6)
    image = top * (1 - ramp[..., None]) + bottom * ramp[..., None]
    image += 0.08 * _smooth_noise(rng, size, 8)[..., None]
    for _ in range(int(rng.integers(cfg.num_clutter[0], cfg.num_clutter[1] + 1))):
        kind = rng.integers(0, 3)
        cy, cx = rng.uniform(0, size, 2)
        if kind == 0:  # line
            theta = rng.uniform(0, np.pi)
            dist = np.abs((xx - cx) * np.sin(theta) - (yy - cy) * np.cos(theta))
            region = dist < rng.uniform(0.6, 1.8)
            colour = _clutter_colour(rng)
        elif kind == 1:  # patch
            half_h, half_w = rng.uniform(3, 12, 2)
            region = (np.abs(yy - cy) < half_h) & (np.abs(xx - cx) < half_w)
            colour = _clutter_colour(rng)
        else:  # body-coloured distractor without a mark
            region = np.hypot(yy - cy, xx - cx) < rng.uniform(3, 7)
            colour = _body_colour(rng)
        image[region] = colour
    return image


@functools.cache
def _source(name: str, rows: tuple[int, int] | None,
            cols: tuple[int, int] | None) -> tuple[np.ndarray, bool]:
    """A region of a scikit-image photograph as uint8 RGB, and whether it was grey."""
    image = getattr(skimage.data, name)()
    if isinstance(image, tuple):  # stereo pairs
        image = image[0]
    image = np.asarray(image)
    if rows is not None:
        image = image[rows[0]:rows[1], cols[0]:cols[1]]
    grey = image.ndim == 2
    if grey:
        image = np.repeat(image[..., None], 3, axis=2)
    return np.ascontiguousarray(image[..., :3].astype(np.uint8)), grey


def _texture_patch(rng: np.random.Generator, source: np.ndarray, size: int,
                   zoom: tuple[float, float]) -> np.ndarray:
    """A (size, size, 3) float patch in [0, 1]: a random square of ``size x zoom`` source
    pixels (rotated by a multiple of 90 degrees), resized bilinearly to ``size``."""
    height, width = source.shape[:2]
    side = int(min(height, width, max(16, round(size * rng.uniform(*zoom)))))
    top = int(rng.integers(0, height - side + 1))
    left = int(rng.integers(0, width - side + 1))
    crop = np.rot90(source[top:top + side, left:left + side], int(rng.integers(4)))
    patch = Image.fromarray(np.ascontiguousarray(crop)).resize((size, size), Image.BILINEAR)
    return np.asarray(patch, dtype=np.float32) / 255.0


def _body_texture(rng: np.random.Generator, appearance: int, size: int) -> np.ndarray:
    """Body pixels of class ``appearance`` (1-based) for a whole image, brightness jittered."""
    source, _ = _source(*_BODY_SOURCES[appearance - 1])
    return _texture_patch(rng, source, size, (0.7, 1.3)) * rng.uniform(0.85, 1.15)


def _texture_background(rng: np.random.Generator, cfg: ToyVOCConfig, yy: np.ndarray,
                        xx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Photographic background regions with edges, lines and mark-less distractors.

    Returns the (S, S, 3) float image and the mask of the distractors.
    """
    size = cfg.image_size
    count = int(rng.integers(2, 4))
    picks = rng.choice(len(_BACKGROUND_SOURCES), size=count, replace=False)
    seeds = rng.uniform(0, size, (count, 2)).astype(np.float32)
    region = np.argmin((yy[None] - seeds[:, 0, None, None]) ** 2
                       + (xx[None] - seeds[:, 1, None, None]) ** 2, axis=0)
    image = np.zeros((size, size, 3), dtype=np.float32)
    for k, pick in enumerate(picks):
        source, grey = _source(*_BACKGROUND_SOURCES[pick])
        patch = _texture_patch(rng, source, size, (0.8, 2.5))
        if grey:  # tinted, away from the marks' saturated hues
            patch = patch * _hsv(rng.uniform(0, 360), rng.uniform(0.1, 0.45), 1.0)
        image[region == k] = patch[region == k] * rng.uniform(0.7, 1.1)
    for _ in range(int(rng.integers(1, 4))):  # straight lines
        cy, cx = rng.uniform(0, size, 2)
        theta = rng.uniform(0, np.pi)
        dist = np.abs((xx - cx) * np.sin(theta) - (yy - cy) * np.cos(theta))
        image[dist < rng.uniform(0.6, 1.8)] = _clutter_colour(rng)
    distractors = np.zeros((size, size), dtype=bool)
    low, high = cfg.num_distractors
    for _ in range(int(rng.integers(low, high + 1))):  # a class's body, no mark
        radius = float(rng.uniform(0.4, 0.7) * cfg.radius_range[0])
        cy, cx = rng.uniform(radius, size - radius, 2)
        blob = _body_mask(rng, yy, xx, cy, cx, radius)
        texture = _body_texture(rng, int(rng.integers(1, len(TOY_CLASSES))), size)
        image[blob] = texture[blob]
        distractors |= blob
    return image, distractors


@dataclass
class ToySample:
    """One rendered toy image with what the generator knows about it (for tests).

    Attributes:
        image: (S, S, 3) uint8 RGB image.
        label: (S, S) uint8 label map: 0 background, 1..C classes, 255 void.
        objects: One ``(class, appearance, visible_body, visible_mark)`` per object:
            its class, the class whose appearance its body took (``'texture'``; the
            class itself unless borrowed; 0 in the ``'uniform'`` style) and its visible
            body (mark excluded) and mark masks.
        distractors: Visible pixels of mark-less body-textured blobs (background).
    """

    image: np.ndarray
    label: np.ndarray
    objects: list[tuple[int, int, np.ndarray, np.ndarray]]
    distractors: np.ndarray


def render_toy_parts(cfg: ToyVOCConfig, index: int) -> ToySample:
    """Render image ``index`` of the toy set with its objects' parts (:class:`ToySample`)."""
    rng = np.random.default_rng([cfg.seed, index])
    size = cfg.image_size
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    if cfg.style == 'uniform':
        image = _background(rng, cfg, yy, xx)
        distractors = np.zeros((size, size), dtype=bool)
    else:
        image, distractors = _texture_background(rng, cfg, yy, xx)
    label = np.zeros((size, size), dtype=np.uint8)
    depth = np.zeros((size, size), dtype=np.int32)  # 0: background, k: k-th object
    drawn: list[tuple[int, int, np.ndarray]] = []
    if rng.random() >= cfg.empty_fraction:
        placed: list[tuple[float, float, float]] = []
        marks: list[np.ndarray] = []
        for class_index in _draw_classes(rng, cfg):
            order = len(placed) + 1
            for _attempt in range(30):
                radius = float(rng.uniform(*cfg.radius_range))
                cy, cx = _place(rng, cfg, placed, radius)
                body = _body_mask(rng, yy, xx, cy, cx, radius)
                theta = rng.uniform(0, 2 * np.pi)
                head = 0.55 * radius
                mark = body & _mark_mask(class_index, yy, xx, cy + head * np.sin(theta),
                                         cx + head * np.cos(theta), cfg.mark_scale * radius,
                                         theta)
                if _visible_enough(cfg, depth, marks, body, mark):
                    break
            else:
                continue  # no valid placement for this object: leave it out
            placed.append((cy, cx, radius))
            marks.append(mark)
            if cfg.style == 'uniform':
                appearance = 0
                shade = 1 + 0.12 * _smooth_noise(rng, size, 4)[..., None]
                spots = 0.045 * rng.standard_normal((size, size, 1)).astype(np.float32)
                image[body] = (_body_colour(rng) * shade + spots)[body]
            else:
                appearance = class_index
                if rng.random() < cfg.borrow_prob:
                    others = [c for c in range(1, len(TOY_CLASSES)) if c != class_index]
                    appearance = int(rng.choice(others))
                image[body] = _body_texture(rng, appearance, size)[body]
            image[mark] = _hsv(_MARK_HUES[class_index - 1], rng.uniform(0.85, 1.0),
                               rng.uniform(0.8, 1.0))
            label[body] = class_index
            depth[body] = order
            drawn.append((class_index, appearance, mark))
    image += 0.025 * rng.standard_normal(image.shape).astype(np.float32)
    image = ndimage.gaussian_filter(image, sigma=(0.5, 0.5, 0))
    if cfg.void_width > 0:
        label = _add_void_band(label, depth, cfg.void_width)
    objects = [(cls, appearance, (depth == order) & ~mark, (depth == order) & mark)
               for order, (cls, appearance, mark) in enumerate(drawn, start=1)]
    return ToySample((np.clip(image, 0, 1) * 255).round().astype(np.uint8), label, objects,
                     distractors & (depth == 0))


def render_toy_sample(cfg: ToyVOCConfig, index: int) -> tuple[np.ndarray, np.ndarray]:
    """Render image ``index`` of the toy set.

    Returns:
        ``(image, label)``: an (S, S, 3) uint8 RGB image and an (S, S) uint8 label map
        with 0 for background, 1..C for the classes of ``TOY_CLASSES`` and 255 void.
    """
    sample = render_toy_parts(cfg, index)
    return sample.image, sample.label


def _place(rng: np.random.Generator, cfg: ToyVOCConfig,
           placed: Sequence[tuple[float, float, float]], radius: float) -> tuple[float, float]:
    size = cfg.image_size
    low, high = radius, size - radius
    if placed and rng.random() < cfg.touch_prob:
        oy, ox, other = placed[int(rng.integers(len(placed)))]
        theta = rng.uniform(0, 2 * np.pi)
        dist = (radius + other) * rng.uniform(0.75, 1.05)
        return (float(np.clip(oy + dist * np.sin(theta), low, high)),
                float(np.clip(ox + dist * np.cos(theta), low, high)))
    best, best_gap = None, -np.inf
    for _ in range(20):  # prefer a spot apart from the objects already placed
        cy, cx = rng.uniform(low, high, 2)
        gap = min((np.hypot(cy - oy, cx - ox) - radius - r for oy, ox, r in placed),
                  default=np.inf)
        if gap > best_gap:
            best, best_gap = (float(cy), float(cx)), gap
        if gap > 0:
            break
    return best


def _visible_enough(cfg: ToyVOCConfig, depth: np.ndarray, marks: Sequence[np.ndarray],
                    body: np.ndarray, mark: np.ndarray) -> bool:
    """Whether a new object (body, mark) keeps every object identifiable.

    Its own mark must not be clipped too much by its body, and every earlier object
    must keep ``min_visible`` of its visible body and of its mark once the new body
    is painted over it.
    """
    if mark.sum() < 0.5 * np.pi * (cfg.mark_scale * cfg.radius_range[0]) ** 2:
        return False
    for order, old_mark in enumerate(marks, start=1):
        own = depth == order
        if (own & ~body).sum() < cfg.min_visible * own.sum():
            return False
        if (old_mark & own & ~body).sum() < cfg.min_visible * old_mark.sum():
            return False
    return True


def _add_void_band(label: np.ndarray, depth: np.ndarray, width: int) -> np.ndarray:
    """Mark ``width`` pixels outside each object's visible outline as void (255)."""
    out = label.copy()
    for order in range(1, int(depth.max()) + 1):
        own = depth == order
        ring = ndimage.binary_dilation(own, iterations=width) & ~own
        # Only pixels of lower layers (background or objects underneath) become void.
        out[ring & (depth < order)] = 255
    return out


def _write_sample(root: str, sample_id: str, image: np.ndarray, label: np.ndarray,
                  quality: int) -> None:
    pil = Image.fromarray(image)
    atomic_save(lambda tmp: pil.save(tmp, format='JPEG', quality=quality),
                os.path.join(root, 'JPEGImages', f'{sample_id}.jpg'), '.jpg')
    save_label_png(os.path.join(root, 'SegmentationClass', f'{sample_id}.png'), label)


def make_toy_voc(root: str, cfg: ToyVOCConfig | None = None) -> dict[str, list[str]]:
    """Write the toy set under ``root`` and return the image ids of each split.

    Files that already exist are rewritten (generation is deterministic, so a
    re-run after an interruption yields the same set). The split lists and
    ``toy_meta.json`` are written last, so a set without them is incomplete.
    """
    cfg = cfg or ToyVOCConfig()
    splits = {
        'train': [f'toy_{i:06d}' for i in range(cfg.num_train)],
        'val': [f'toy_{i:06d}' for i in range(cfg.num_train, cfg.num_train + cfg.num_val)],
    }
    index = 0
    for ids in splits.values():
        for sample_id in ids:
            image, label = render_toy_sample(cfg, index)
            _write_sample(root, sample_id, image, label, cfg.jpeg_quality)
            index += 1
    for split, ids in splits.items():
        text = ''.join(f'{i}\n' for i in ids)
        path = os.path.join(root, 'ImageSets', 'Segmentation', f'{split}.txt')
        atomic_save(lambda tmp, text=text: _write_text(tmp, text), path, '.txt')
    meta = dict(classes=list(TOY_CLASSES), generator=asdict(cfg), splits=list(splits))
    atomic_save(lambda tmp: _write_text(tmp, json.dumps(meta, indent=2)),
                os.path.join(root, 'toy_meta.json'), '.json')
    return splits


def _write_text(path: str, text: str) -> None:
    with open(path, 'w') as handle:
        handle.write(text)


def parse_args() -> argparse.Namespace:
    defaults = ToyVOCConfig()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('root', help='output directory (VOC layout)')
    parser.add_argument('--num-train', type=int, default=defaults.num_train)
    parser.add_argument('--num-val', type=int, default=defaults.num_val)
    parser.add_argument('--size', type=int, default=defaults.image_size, help='image side')
    parser.add_argument('--max-objects', type=int, default=defaults.max_objects)
    parser.add_argument('--touch-prob', type=float, default=defaults.touch_prob)
    parser.add_argument('--cooccur-prob', type=float, default=defaults.cooccur_prob)
    parser.add_argument('--empty-fraction', type=float, default=defaults.empty_fraction)
    parser.add_argument('--void-width', type=int, default=defaults.void_width)
    parser.add_argument('--seed', type=int, default=defaults.seed)
    parser.add_argument('--style', choices=STYLES, default=defaults.style,
                        help="'texture': version 2, class appearance from photographs "
                        "(default); 'uniform': version 1, one body distribution")
    parser.add_argument('--borrow-prob', type=float, default=defaults.borrow_prob,
                        help="'texture': probability of another class's appearance")
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    scale = args.size / ToyVOCConfig.image_size
    low, high = ToyVOCConfig.radius_range
    cfg = dataclasses.replace(
        ToyVOCConfig(), num_train=args.num_train, num_val=args.num_val, image_size=args.size,
        radius_range=(low * scale, high * scale), max_objects=args.max_objects,
        touch_prob=args.touch_prob, cooccur_prob=args.cooccur_prob,
        empty_fraction=args.empty_fraction, void_width=args.void_width, seed=args.seed,
        style=args.style, borrow_prob=args.borrow_prob)
    start = time.time()
    splits = make_toy_voc(args.root, cfg)
    print(f'wrote {len(splits["train"])} train / {len(splits["val"])} val images of '
          f'{cfg.image_size}x{cfg.image_size} with {len(TOY_CLASSES) - 1} classes (style '
          f'{cfg.style}) to {args.root} in {time.time() - start:.1f}s')


if __name__ == '__main__':
    main()
