"""Confident seed labels from CAMs, the training targets of AffinityNet and IRN.

A seed label map (H, W) holds 0 for confident background, c + 1 for confident
foreground of class c and ``ignore_index`` elsewhere. It is stored as ``gt_seg_map`` and
listed in ``seg_fields``, so mmcv/mmseg geometric transforms placed after the seed
transform (``RandomResize``, ``RandomFlip``, mmseg ``RandomCrop``, ``Pad``) move it with
the image, and :class:`~mmhfpl.datasets.transforms.PairwiseAffinityLabels` turns it into
pair labels at the end of the pipeline.

Three rules, all optionally refined by a dense CRF as the authors do:

* :class:`ThresholdSeedLabels` (IRN, ``cam_to_ir_label``): foreground where the largest
  CAM exceeds a high threshold, background where every CAM is below a low threshold.
* :class:`BackgroundMapSeedLabels` (SIPE, ``cam2ir``): the same with the model's own
  background map, at full weight for the foreground and at half weight for the background.
* :class:`AlphaSeedLabels` (AffinityNet, ``infer_cls``): two background scores
  (1 - max CAM)^α with a low and a high power α.

``results['img']`` is expected as loaded by mmcv's ``LoadImageFromFile`` (uint8, BGR); the
CRF sees it in RGB.

Seeds depend only on the image, its CAMs and the settings, never on augmentation, so with
``cache_dir`` the seed map of every image is computed once (the authors precompute them
too; the two dCRFs take 2-3 s per VOC-sized image on a CPU core) and kept as
``<cache_dir>/<image id>.png``, written atomically. The directory records the settings and
the CAM directory (``cam_path`` of ``LoadCAMFromFile``) in ``seed_settings.json`` and
refuses others; delete it when the CAM files are rewritten in place.
"""

import json
import os.path as osp
from pathlib import Path

import numpy as np
from mmcv.transforms import BaseTransform

from mmhfpl.pseudo_labels.crf import dense_crf, dense_crf_labels
from mmhfpl.pseudo_labels.make_labels import BackgroundRule, scores_with_background
from mmhfpl.registry import TRANSFORMS
from mmhfpl.structures import atomic_save, class_ids, image_id, load_label_png, save_label_png

SETTINGS_FILE = 'seed_settings.json'


def _crf_kwargs(crf: bool | dict | None, name: str) -> dict | None:
    if crf is None or crf is False:
        return None
    if crf is True:
        return {}
    if isinstance(crf, dict):
        return dict(crf)
    raise TypeError(f'{name}: crf must be a bool, a dict of CRF parameters or None, '
                    f'got {crf!r}')


class _SeedLabels(BaseTransform):
    """Shared input checks, output and cache of the seed-label transforms."""

    def __init__(self, crf: bool | dict | None, ignore_index: int,
                 cache_dir: str | None) -> None:
        if not 0 < ignore_index <= 255:
            raise ValueError(f'ignore_index must be in 1..255, got {ignore_index}')
        self.crf = _crf_kwargs(crf, type(self).__name__)
        self.ignore_index = ignore_index
        self.cache_dir = cache_dir
        self._cache_checked = False

    def settings(self) -> dict:
        """Everything the seed labels depend on besides the CAMs and the image."""
        return dict(type=type(self).__name__, crf=self.crf, ignore_index=self.ignore_index)

    def seed_label(self, cams: np.ndarray, image: np.ndarray | None,
                   background: np.ndarray | None = None) -> np.ndarray:
        """(H, W) int64 map of indices into [background, labelled classes...] or ignore.

        ``background`` is the (H, W) background map of the CAM file, if it has one.
        """
        raise NotImplementedError

    def _check_cache(self, cam_path: str) -> None:
        """Make sure ``cache_dir`` holds seeds of these settings and CAMs (or nothing yet)."""
        path = osp.join(self.cache_dir, SETTINGS_FILE)
        settings = json.dumps(dict(self.settings(), cam_dir=osp.dirname(osp.abspath(cam_path))),
                              sort_keys=True)
        if not osp.exists(path):
            atomic_save(lambda tmp: Path(tmp).write_text(settings), path, '.json')
        cached = Path(path).read_text()
        if cached != settings:
            raise ValueError(f'{path}: the seed cache was made with {cached}, this transform '
                             f'has {settings}; use another cache_dir')
        self._cache_checked = True

    def _compute(self, results: dict) -> np.ndarray:
        cams = np.asarray(results['cams'], dtype=np.float32)
        labels = np.asarray(results['cam_labels'], dtype=np.int64)
        image = None
        if self.crf is not None and len(labels) > 0:
            image = np.ascontiguousarray(results['img'][..., ::-1])
            if image.shape[:2] != cams.shape[1:]:
                raise ValueError(f'{results.get("img_path")}: image of size {image.shape[:2]} '
                                 f'but CAMs of size {cams.shape[1:]}; seed labels must be '
                                 'made before any geometric transform')
        if len(labels) and labels.max() + 1 >= self.ignore_index:
            raise ValueError(f'class id {labels.max() + 1} collides with ignore_index '
                             f'{self.ignore_index}')
        index = self.seed_label(cams, image, results.get('cam_background'))
        ids = np.concatenate([class_ids(labels), [self.ignore_index]]).astype(np.uint8)
        index[index < 0] = len(labels) + 1  # the slot of ignore_index in ids
        return ids[index]

    def transform(self, results: dict) -> dict:
        if 'cams' not in results or 'cam_labels' not in results:
            raise KeyError(f'{type(self).__name__} needs the CAMs of the sample: put '
                           'LoadCAMFromFile before it in the pipeline')
        if self.cache_dir is None:
            seed = self._compute(results)
        else:
            if 'cam_path' not in results:
                raise KeyError(f'{type(self).__name__} with a cache_dir needs cam_path (set by '
                               'LoadCAMFromFile)')
            if not self._cache_checked:
                self._check_cache(results['cam_path'])
            path = osp.join(self.cache_dir, image_id(results['img_path']) + '.png')
            if osp.exists(path):
                seed = load_label_png(path)
                if seed.shape != np.shape(results['cams'])[1:]:
                    raise ValueError(f'{path}: cached seeds of size {seed.shape} do not match '
                                     f'the CAMs of size {np.shape(results["cams"])[1:]}')
            else:
                seed = self._compute(results)
                save_label_png(path, seed)
        results['gt_seg_map'] = seed
        seg_fields = results.setdefault('seg_fields', [])
        if 'gt_seg_map' not in seg_fields:
            seg_fields.append('gt_seg_map')
        return results


class _ConfidentSeedLabels(_SeedLabels):
    """IRN's seed rule for two background rules: a fg map (strong background) and a bg map
    (weak background), each the argmax of the scores refined by IRN's label dCRF; seed = the
    fg map's class where it is foreground, background where both maps are background,
    ``ignore_index`` elsewhere."""

    def _rules(self) -> tuple[BackgroundRule, BackgroundRule]:
        """The background rules of the fg map and of the bg map."""
        raise NotImplementedError

    def _confident(self, cams: np.ndarray, rule: BackgroundRule, image: np.ndarray | None,
                   background: np.ndarray | None) -> np.ndarray:
        index = scores_with_background(cams, rule, background=background).argmax(0)
        if image is not None:
            index = dense_crf_labels(image, index, len(cams) + 1, **self.crf)
        return index

    def seed_label(self, cams: np.ndarray, image: np.ndarray | None,
                   background: np.ndarray | None = None) -> np.ndarray:
        fg_rule, bg_rule = self._rules()
        fg = self._confident(cams, fg_rule, image, background)
        bg = self._confident(cams, bg_rule, image, background)
        seed = np.where(fg > 0, fg, -1)
        seed[(fg == 0) & (bg == 0)] = 0
        return seed


@TRANSFORMS.register_module()
class ThresholdSeedLabels(_ConfidentSeedLabels):
    """Seed labels from a foreground and a background CAM threshold (IRN, Sec. 4.1).

    With r_c the max-normalised CAMs of the labelled classes:

    * fg map: argmax over [t_fg, r_1, ..., r_L] (a class where max_c r_c > t_fg, else 0);
    * bg map: argmax over [t_bg, r_1, ..., r_L] (0 where every r_c <= t_bg);
    * both maps are refined by :func:`mmhfpl.pseudo_labels.crf.dense_crf_labels` (IRN's
      ``crf_inference_label``) unless ``crf`` is off;
    * seed = the fg map's class where it is foreground, background where both maps are
      background, ``ignore_index`` elsewhere.

    Published thresholds: IRN t_fg = 0.30, t_bg = 0.05; Spatial-BCE (seed 003, kept in
    seed 000 §5.1) t_fg = 0.60, t_bg = 0.25.

    Args:
        fg_threshold: t_fg.
        bg_threshold: t_bg (<= t_fg).
        crf: ``True`` for the CRF with IRN's parameters, a dict of
            :func:`~mmhfpl.pseudo_labels.crf.dense_crf_labels` keyword overrides, or
            ``False`` / ``None`` for no CRF.
        ignore_index: Label of uncertain pixels.
        cache_dir: Optional directory keeping the seed map of every image (see the module
            docstring).
    """

    def __init__(self, fg_threshold: float = 0.30, bg_threshold: float = 0.05,
                 crf: bool | dict | None = True, ignore_index: int = 255,
                 cache_dir: str | None = None) -> None:
        super().__init__(crf, ignore_index, cache_dir)
        if not 0.0 <= bg_threshold <= fg_threshold <= 1.0:
            raise ValueError('thresholds must satisfy 0 <= bg_threshold <= fg_threshold <= 1, '
                             f'got bg {bg_threshold}, fg {fg_threshold}')
        self.fg_threshold = fg_threshold
        self.bg_threshold = bg_threshold

    def settings(self) -> dict:
        return dict(super().settings(), fg_threshold=self.fg_threshold,
                    bg_threshold=self.bg_threshold)

    def _rules(self) -> tuple[BackgroundRule, BackgroundRule]:
        return (BackgroundRule(bg_threshold=self.fg_threshold),
                BackgroundRule(bg_threshold=self.bg_threshold))

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(fg_threshold={self.fg_threshold}, '
                f'bg_threshold={self.bg_threshold}, crf={self.crf}, '
                f'ignore_index={self.ignore_index}, cache_dir={self.cache_dir!r})')


@TRANSFORMS.register_module()
class BackgroundMapSeedLabels(_ConfidentSeedLabels):
    """Seed labels from the background map stored with the CAMs (SIPE, ``cam2ir.py``).

    With r_c the CAMs of the labelled classes and b the CAM file's background map (SIPE's
    IS-CAM background channel):

    * fg map: argmax over [fg_scale·b, r_1, ..., r_L];
    * bg map: argmax over [bg_scale·b, r_1, ..., r_L] (background weakened);
    * both refined by IRN's label dCRF unless ``crf`` is off; seed = the fg map's class
      where it is foreground, background where both maps are background, ``ignore_index``
      elsewhere (as :class:`ThresholdSeedLabels`).

    Args:
        fg_scale: Background factor of the fg map (SIPE: 1).
        bg_scale: Background factor of the bg map (SIPE: 0.5, <= fg_scale).
        crf: As :class:`ThresholdSeedLabels`.
        ignore_index: Label of uncertain pixels.
        cache_dir: Optional directory keeping the seed map of every image.
    """

    def __init__(self, fg_scale: float = 1.0, bg_scale: float = 0.5,
                 crf: bool | dict | None = True, ignore_index: int = 255,
                 cache_dir: str | None = None) -> None:
        super().__init__(crf, ignore_index, cache_dir)
        if not 0.0 <= bg_scale <= fg_scale:
            raise ValueError(f'need 0 <= bg_scale <= fg_scale, got bg {bg_scale}, '
                             f'fg {fg_scale}')
        self.fg_scale = fg_scale
        self.bg_scale = bg_scale

    def settings(self) -> dict:
        return dict(super().settings(), fg_scale=self.fg_scale, bg_scale=self.bg_scale)

    def _rules(self) -> tuple[BackgroundRule, BackgroundRule]:
        return BackgroundRule(bg_scale=self.fg_scale), BackgroundRule(bg_scale=self.bg_scale)

    def seed_label(self, cams: np.ndarray, image: np.ndarray | None,
                   background: np.ndarray | None = None) -> np.ndarray:
        if background is None:
            raise KeyError(f'{type(self).__name__} needs CAM files with a background map '
                           '(made from a model that predicts one, e.g. SIPE)')
        return super().seed_label(cams, image, background)

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(fg_scale={self.fg_scale}, bg_scale={self.bg_scale}, '
                f'crf={self.crf}, ignore_index={self.ignore_index}, '
                f'cache_dir={self.cache_dir!r})')


@TRANSFORMS.register_module()
class AlphaSeedLabels(_SeedLabels):
    """Seed labels from two background powers (AffinityNet, Sec. 3.2).

    With r_c the max-normalised CAMs of the labelled classes and background score
    b_α = (1 - max_c r_c)^α, the scores [b_α, r_1, ..., r_L] are refined by
    :func:`mmhfpl.pseudo_labels.crf.dense_crf` (AffinityNet's ``crf_inference``) unless
    ``crf`` is off, and their argmax taken, once with α_low (amplified background:
    confident foreground) and once with α_high (weakened background: confident
    background). Seed = the α_low class where it is foreground, ``ignore_index`` where it
    is background, then 0 wherever the α_high map is background (PSA ``VOC12AffDataset``).

    Published powers: AffinityNet/SEAM α_low = 4, α_high = 24 (PSA's script defaults to
    32); SEAM + ISL α_low = 1, α_high = 24 (seed 000 §5.1).

    Args:
        alpha_low: α_low.
        alpha_high: α_high (> alpha_low).
        crf: ``True`` for the CRF with AffinityNet's parameters, a dict of
            :func:`~mmhfpl.pseudo_labels.crf.dense_crf` keyword overrides (e.g.
            ``dict(scale_factor=4.0)`` for small images), or ``False`` / ``None``.
        ignore_index: Label of uncertain pixels.
        cache_dir: Optional directory keeping the seed map of every image (see the module
            docstring).
    """

    def __init__(self, alpha_low: float = 4.0, alpha_high: float = 24.0,
                 crf: bool | dict | None = True, ignore_index: int = 255,
                 cache_dir: str | None = None) -> None:
        super().__init__(crf, ignore_index, cache_dir)
        if not 0.0 < alpha_low < alpha_high:
            raise ValueError(f'need 0 < alpha_low < alpha_high, got {alpha_low}, {alpha_high}')
        self.alpha_low = alpha_low
        self.alpha_high = alpha_high

    def settings(self) -> dict:
        return dict(super().settings(), alpha_low=self.alpha_low, alpha_high=self.alpha_high)

    def _argmax(self, cams: np.ndarray, alpha: float, image: np.ndarray | None) -> np.ndarray:
        scores = scores_with_background(cams, BackgroundRule(alpha=alpha))
        if image is not None:
            scores = dense_crf(image, scores, **self.crf)
        return scores.argmax(axis=0)

    def seed_label(self, cams: np.ndarray, image: np.ndarray | None,
                   background: np.ndarray | None = None) -> np.ndarray:
        low = self._argmax(cams, self.alpha_low, image)
        high = self._argmax(cams, self.alpha_high, image)
        seed = np.where(low > 0, low, -1)
        seed[high == 0] = 0
        return seed

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(alpha_low={self.alpha_low}, '
                f'alpha_high={self.alpha_high}, crf={self.crf}, '
                f'ignore_index={self.ignore_index}, cache_dir={self.cache_dir!r})')
