"""Write the toy benchmark: a deterministic toy set in the PASCAL VOC directory layout.

Examples:
    python tools/dataset_converters/make_toy_voc.py data/toy_voc
    python tools/dataset_converters/make_toy_voc.py data/toy_small --num-train 40 --num-val 10 \
        --size 64

The toy set is small enough to train on a CPU in minutes but keeps the difficulty
that makes weakly-supervised segmentation hard on real data:

* **Discriminative parts.** Every object is a textured "body" plus a small "mark"
  (about a tenth of its area) whose colour and shape identify the class. Bodies of
  all classes share one colour and texture distribution, so a classifier only needs
  the mark and plain CAMs cover little more than it.
* **Non-convex contours on colour edges.** Bodies are star-shaped blobs with limbs;
  they are painted pixel-exactly, so object contours coincide with colour edges
  (what CRF- and colour-affinity-based refinement exploit).
* **Clutter.** The background is a shaded, noisy field with lines, patches and
  body-coloured distractor blobs that carry no mark (and so no class).
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
import json
import os
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
from PIL import Image
from scipy import ndimage

from mmhfpl.datasets.toy import TOY_CLASSES
from mmhfpl.structures import atomic_save, save_label_png

# Hue (degrees) of each class's mark; saturated, far from body and clutter colours.
_MARK_HUES = (0.0, 120.0, 225.0, 58.0, 300.0, 180.0)
# Classes are grouped in pairs that co-occur often: (1, 2), (3, 4), (5, 6).


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

    def __post_init__(self) -> None:
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


def render_toy_sample(cfg: ToyVOCConfig, index: int) -> tuple[np.ndarray, np.ndarray]:
    """Render image ``index`` of the toy set.

    Returns:
        ``(image, label)``: an (S, S, 3) uint8 RGB image and an (S, S) uint8 label map
        with 0 for background, 1..C for the classes of ``TOY_CLASSES`` and 255 void.
    """
    rng = np.random.default_rng([cfg.seed, index])
    size = cfg.image_size
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    image = _background(rng, cfg, yy, xx)
    label = np.zeros((size, size), dtype=np.uint8)
    depth = np.zeros((size, size), dtype=np.int32)  # 0: background, k: k-th object
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
            shade = 1 + 0.12 * _smooth_noise(rng, size, 4)[..., None]
            spots = 0.045 * rng.standard_normal((size, size, 1)).astype(np.float32)
            image[body] = (_body_colour(rng) * shade + spots)[body]
            image[mark] = _hsv(_MARK_HUES[class_index - 1], rng.uniform(0.85, 1.0),
                               rng.uniform(0.8, 1.0))
            label[body] = class_index
            depth[body] = order
    image += 0.025 * rng.standard_normal(image.shape).astype(np.float32)
    image = ndimage.gaussian_filter(image, sigma=(0.5, 0.5, 0))
    if cfg.void_width > 0:
        label = _add_void_band(label, depth, cfg.void_width)
    return (np.clip(image, 0, 1) * 255).round().astype(np.uint8), label


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
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    scale = args.size / ToyVOCConfig.image_size
    low, high = ToyVOCConfig.radius_range
    cfg = dataclasses.replace(
        ToyVOCConfig(), num_train=args.num_train, num_val=args.num_val, image_size=args.size,
        radius_range=(low * scale, high * scale), max_objects=args.max_objects,
        touch_prob=args.touch_prob, cooccur_prob=args.cooccur_prob,
        empty_fraction=args.empty_fraction, void_width=args.void_width, seed=args.seed)
    start = time.time()
    splits = make_toy_voc(args.root, cfg)
    print(f'wrote {len(splits["train"])} train / {len(splits["val"])} val images of '
          f'{cfg.image_size}x{cfg.image_size} with {len(TOY_CLASSES) - 1} classes to '
          f'{args.root} in {time.time() - start:.1f}s')


if __name__ == '__main__':
    main()
