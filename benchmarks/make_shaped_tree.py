"""Write a synthetic data tree of real VOC or COCO shape for the scale benchmarks (#17).

Examples (from the repository root)::

    python benchmarks/make_shaped_tree.py --layout voc --out data/shaped_voc    # 10,582 images
    python benchmarks/make_shaped_tree.py --layout coco --out data/shaped_coco  # 20,000 images
    python benchmarks/make_shaped_tree.py --layout coco --num-images 82783 --out data/shaped_coco

The tree has the layout, file formats, image size and id count of the real dataset, so the
start-up and throughput of mmhfpl's datasets and tools are measured at the real shape
without the real data; its pixels are not meant to be learned from. Layouts, as
``VOCWSSSDataset`` and ``COCOWSSSDataset`` read them with their defaults::

    voc:  JPEGImages/<id>.jpg                      # 500x375 RGB JPEG
          SegmentationClassAug/<id>.png            # palette PNG: 0 bg, 1..20, 255 void
          ImageSets/Segmentation/train_aug.txt     # 10,582 ids by default
    coco: train2014/COCO_train2014_<12 digits>.jpg # 640x480 RGB JPEG
          SegmentationClass/train2014/<id>.png     # palette PNG: 0 bg, 1..80, 255 void
          ImageSets/train2014.txt                  # 20,000 ids by default (real: 82,783)

VOC's JPEGs are at most 500 pixels wide, 500x375 the most common size; COCO's most common
size is 640x480 (``--size`` changes either). Every mask holds one to four ellipses and
rectangles of one to three classes on background, each object outlined by a void (255)
band as VOC's object outlines are, so the datasets' label derivation reads real palette PNGs
with several classes. Every image is unique: a vertical colour gradient, each class's
objects in a flat colour and fine noise cut at a random offset from one noise field shared
by all images (generating the noise per image would cost more than encoding the JPEG).
Their JPEG size (quality 90; about 100 KB at 500x375 and 160 KB at 640x480) is about the
average of VOC's and COCO's photos, so the full decode of the datasets' file check does
comparable work. About 15 ms per image on one core of a busy machine.

Image ``i`` comes from a generator seeded by ``(seed, i)`` and the noise field from
``seed``, so the tree is reproducible bit for bit whatever ``--workers`` is, and image ``i``
does not change with ``--num-images``. Every file is written atomically (temporary file,
``os.replace``); an image whose JPEG and mask both exist is skipped, so an interrupted run
resumes and a second run returns at once. ``shaped_tree.json`` records the layout, seed and
size, and a run with other settings into the same directory is refused; the list file is
written last.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import os
import time
from dataclasses import asdict, dataclass
from multiprocessing import Pool

import numpy as np
from PIL import Image

from mmhfpl.structures import atomic_save, save_label_png
from mmhfpl.structures.label_map import VOID

JPEG_QUALITY = 90
NOISE_MARGIN = 64  # the noise field is this much larger than an image in each direction
META_FILE = 'shaped_tree.json'


@dataclass(frozen=True)
class Layout:
    """Shape and paths of one dataset layout.

    Args:
        name: ``'voc'`` or ``'coco'``.
        num_images: Default number of ids.
        size: Default image size ``(width, height)``.
        num_classes: Foreground classes; masks hold ``1..num_classes``.
        image_dir: Image directory under the root.
        mask_dir: Mask directory under the root.
        list_file: List file under the root, one id per line.
        id_format: ``str.format`` pattern of the id of image ``index``.
    """

    name: str
    num_images: int
    size: tuple[int, int]
    num_classes: int
    image_dir: str
    mask_dir: str
    list_file: str
    id_format: str


LAYOUTS = {
    'voc': Layout('voc', 10_582, (500, 375), 20, 'JPEGImages', 'SegmentationClassAug',
                  'ImageSets/Segmentation/train_aug.txt', 'shaped_{index:06d}'),
    'coco': Layout('coco', 20_000, (640, 480), 80, 'train2014', 'SegmentationClass/train2014',
                   'ImageSets/train2014.txt', 'COCO_train2014_{index:012d}'),
}


@dataclass(frozen=True)
class TreeSpec:
    """What a tree is made of (recorded in ``shaped_tree.json``).

    Args:
        layout: Key of :data:`LAYOUTS`.
        seed: Base seed of every image's generator and of the noise field.
        size: Image size ``(width, height)``.
    """

    layout: str
    seed: int
    size: tuple[int, int]


def sample_id(layout: Layout, index: int) -> str:
    """The id (file stem) of image ``index``."""
    return layout.id_format.format(index=index)


@functools.lru_cache(maxsize=2)
def _noise_field(seed: int, width: int, height: int) -> np.ndarray:
    """Fine image noise shared by all images of a tree, (H + margin, W + margin, 3) int16."""
    rng = np.random.default_rng([seed, 1 << 30])
    shape = (height + NOISE_MARGIN, width + NOISE_MARGIN, 3)
    return np.round(rng.normal(0.0, 22.0, shape)).astype(np.int16)


def _paint_object(label: np.ndarray, rng: np.random.Generator, class_value: int) -> None:
    """Paint one ellipse or rectangle of ``class_value`` with a void band around it."""
    height, width = label.shape
    ry = rng.uniform(0.08, 0.3) * height
    rx = rng.uniform(0.08, 0.3) * width
    cy, cx = rng.uniform(0.15, 0.85) * height, rng.uniform(0.15, 0.85) * width
    band = float(rng.integers(3, 7))  # VOC's outlines are about 5 pixels wide
    top, bottom = max(0, int(cy - ry - band)), min(height, int(cy + ry + band) + 1)
    left, right = max(0, int(cx - rx - band)), min(width, int(cx + rx + band) + 1)
    yy = np.arange(top, bottom, dtype=np.float32)[:, None] - cy
    xx = np.arange(left, right, dtype=np.float32)[None, :] - cx
    if rng.random() < 0.5:
        radius = (yy / ry) ** 2 + (xx / rx) ** 2
        inside = radius <= 1.0
        outline = radius <= (1.0 + band / min(ry, rx)) ** 2
    else:
        inside = (np.abs(yy) <= ry) & (np.abs(xx) <= rx)
        outline = (np.abs(yy) <= ry + band) & (np.abs(xx) <= rx + band)
    window = label[top:bottom, left:right]
    window[outline & ~inside] = VOID
    window[inside] = class_value


def render_sample(spec: TreeSpec, index: int) -> tuple[np.ndarray, np.ndarray, list[int]]:
    """Image ``index`` of a tree.

    Args:
        spec: The tree's settings.
        index: Image index.

    Returns:
        The (H, W, 3) uint8 RGB image, the (H, W) uint8 mask and the sorted 0-based
        foreground classes visible in the mask (the image-level labels a dataset derives).
    """
    layout = LAYOUTS[spec.layout]
    width, height = spec.size
    rng = np.random.default_rng([spec.seed, index])
    label = np.zeros((height, width), dtype=np.uint8)
    classes = rng.choice(layout.num_classes, size=int(rng.integers(1, 4)), replace=False) + 1
    extra = rng.choice(classes, size=int(rng.integers(0, 5 - len(classes))))
    for class_value in rng.permutation(np.concatenate([classes, extra])):  # 1-4 objects
        _paint_object(label, rng, int(class_value))
    palette = rng.integers(0, 256, (256, 3), dtype=np.int16)  # colour of each class value
    top, bottom = rng.integers(0, 256, (2, 3))
    ramp = np.linspace(0.0, 1.0, height, dtype=np.float32)[:, None, None]
    image = np.broadcast_to((top + (bottom - top) * ramp).astype(np.int16), (height, width, 3))
    foreground = (label > 0) & (label != VOID)
    image = np.where(foreground[..., None], palette[label], image)
    dy, dx = rng.integers(0, NOISE_MARGIN, 2)
    image = image + _noise_field(spec.seed, width, height)[dy:dy + height, dx:dx + width]
    visible = np.unique(label[foreground]).astype(np.int64) - 1
    return np.clip(image, 0, 255).astype(np.uint8), label, visible.tolist()


def _save_jpeg(path: str, image: np.ndarray) -> None:
    pil = Image.fromarray(image)
    atomic_save(lambda tmp: pil.save(tmp, format='JPEG', quality=JPEG_QUALITY), path, '.jpg')


def _save_text(path: str, text: str) -> None:
    def write(tmp: str) -> None:
        with open(tmp, 'w') as handle:
            handle.write(text)

    atomic_save(write, path, '.tmp')


def _write_chunk(job: tuple[str, TreeSpec, range]) -> tuple[int, int]:
    """Write the images and masks of ``(root, spec, indices)``; return ``(written, skipped)``."""
    root, spec, indices = job
    layout = LAYOUTS[spec.layout]
    written = 0
    for index in indices:
        stem = sample_id(layout, index)
        jpeg = os.path.join(root, layout.image_dir, f'{stem}.jpg')
        mask = os.path.join(root, layout.mask_dir, f'{stem}.png')
        if os.path.isfile(jpeg) and os.path.isfile(mask):
            continue
        image, label, _ = render_sample(spec, index)
        save_label_png(mask, label)
        _save_jpeg(jpeg, image)
        written += 1
    return written, len(indices) - written


def _check_meta(root: str, spec: TreeSpec) -> None:
    """Record ``spec`` in the tree, or refuse a tree made with other settings."""
    path = os.path.join(root, META_FILE)
    wanted = json.loads(json.dumps(asdict(spec)))  # tuples as JSON lists
    if os.path.isfile(path):
        with open(path) as handle:
            found = json.load(handle)
        if found != wanted:
            raise ValueError(f'{root} holds a tree made with {found}, not {wanted}; use '
                             'another --out or the same settings')
        return
    _save_text(path, json.dumps(wanted, indent=2) + '\n')


def make_shaped_tree(root: str, layout: str = 'voc', num_images: int | None = None,
                     seed: int = 0, workers: int | None = None,
                     size: tuple[int, int] | None = None, chunk: int = 128,
                     progress: bool = False) -> list[str]:
    """Write (or complete) a VOC- or COCO-shaped tree under ``root``.

    Args:
        root: Output directory (the dataset's ``data_root``).
        layout: ``'voc'`` or ``'coco'``.
        num_images: Number of ids (default: the layout's).
        seed: Base seed.
        workers: Worker processes (default: all CPUs; 1 writes in this process).
        size: Image size ``(width, height)`` (default: the layout's).
        chunk: Images per job handed to a worker.
        progress: Print progress lines.

    Returns:
        The ids, in list-file order.
    """
    shape = LAYOUTS[layout]
    num_images = shape.num_images if num_images is None else num_images
    if num_images < 1:
        raise ValueError(f'num_images must be positive, got {num_images}')
    spec = TreeSpec(layout, seed, tuple(size or shape.size))
    os.makedirs(root, exist_ok=True)
    _check_meta(root, spec)
    workers = workers or os.cpu_count() or 1
    jobs = [(root, spec, range(start, min(start + chunk, num_images)))
            for start in range(0, num_images, chunk)]
    start_time, written, skipped = time.perf_counter(), 0, 0
    report_every = max(1, len(jobs) // 10)
    workers = min(workers, len(jobs))
    with Pool(workers) if workers > 1 else contextlib.nullcontext() as pool:
        results = pool.imap_unordered(_write_chunk, jobs) if pool else map(_write_chunk, jobs)
        for done, (new, old) in enumerate(results, 1):
            written, skipped = written + new, skipped + old
            if progress and (done % report_every == 0 or done == len(jobs)):
                elapsed = time.perf_counter() - start_time
                print(f'{written + skipped}/{num_images} images ({written} written, {skipped} '
                      f'existed) in {elapsed:.1f} s', flush=True)
    ids = [sample_id(shape, index) for index in range(num_images)]
    _save_text(os.path.join(root, shape.list_file), ''.join(f'{i}\n' for i in ids))
    return ids


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--layout', choices=sorted(LAYOUTS), default='voc')
    parser.add_argument('--out', required=True, help='output directory (the data_root)')
    parser.add_argument('--num-images', type=int,
                        help='number of ids (default: 10,582 for voc, 20,000 for coco)')
    parser.add_argument('--size', type=int, nargs=2, metavar=('W', 'H'),
                        help='image size (default: 500 375 for voc, 640 480 for coco)')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--workers', type=int, default=os.cpu_count(),
                        help='worker processes (default: all CPUs)')
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    start = time.perf_counter()
    ids = make_shaped_tree(args.out, args.layout, args.num_images, args.seed, args.workers,
                           args.size, progress=True)
    layout = LAYOUTS[args.layout]
    print(f'{args.layout} tree of {len(ids)} images in {args.out} '
          f'({os.path.join(args.out, layout.list_file)}) in {time.perf_counter() - start:.1f} s')


if __name__ == '__main__':
    main()
