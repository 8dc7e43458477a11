"""PMM's pseudo-masks (Li et al., "Pseudo-mask Matters", ICCV 2021, §3.2-3.3).

Coefficient-of-variation smoothing (CVS) and proportional pseudo-mask generation (PPG), as
the authors' ``pipeline/refine_cam.py`` computes them from the normalised CAMs r_k of the
labelled classes:

* CVS: with the pixels above the CAM threshold t (0.05), ``cv_k = scale · std / mean`` of
  r_k there (scale 0.3; 0 when no pixel passes); the smoothed map is
  ``s_k = r'_k^(1 - cv_k)`` where r'_k is r_k with the values below t set to 0;
* PPG: every class on its own gets a binary dCRF over ``[(1 - s_k)^α, s_k]`` (α = 11) and is
  foreground where the refined class probability exceeds 0.5; its importance is
  ``r_k / (1 + Σ r_k · fg_k)`` (the CAM over its own foreground mass); a pixel that is
  foreground of several classes takes the one of highest importance, one that is
  foreground of none is background.
"""

from dataclasses import asdict

import numpy as np

from .crf import CRFConfig, dense_crf

#: The dCRF of PMM's ``refine_cam.py``: AffinityNet's kernels with a Gaussian compat of 10.
PMM_CRF = CRFConfig(gaussian_compat=10)


def coefficient_of_variation(cams: np.ndarray, threshold: float = 0.05,
                             scale: float = 0.3) -> np.ndarray:
    """(L,) ``scale · std / (mean + 1e-8)`` of each map over its pixels above ``threshold``.

    A map without such a pixel gets 0. ``std`` is the population standard deviation
    (numpy's default, as the authors').
    """
    out = np.zeros(len(cams), np.float64)
    for k, cam in enumerate(cams):
        values = cam[cam > threshold].astype(np.float64)
        if values.size:
            out[k] = values.std() / (values + 1e-8).mean() * scale
    return out


def cv_smooth(cams: np.ndarray, cv: np.ndarray, threshold: float = 0.05) -> np.ndarray:
    """(L, H, W) ``r'_k^(1 - cv_k)`` with r'_k = r_k where r_k >= threshold, else 0."""
    kept = np.where(cams < threshold, 0.0, cams)
    return kept ** (1.0 - np.asarray(cv, dtype=np.float64))[:, None, None]


def proportional_pseudo_mask(image: np.ndarray, cams: np.ndarray, alpha: float = 11.0,
                             threshold: float = 0.05, cv_scale: float = 0.3,
                             crf: CRFConfig = PMM_CRF) -> np.ndarray:
    """(H, W) int64 indices into [background, labelled classes...] (see the module docstring).

    Args:
        image: (H, W, 3) uint8 image for the dCRF.
        cams: (L, H, W) normalised CAMs of the labelled classes.
        alpha: Background power α of each class's binary dCRF (PMM: 11).
        threshold: CAM threshold t of CVS (PMM: 0.05).
        cv_scale: Factor of the coefficient of variation (PMM: 0.3).
        crf: dCRF parameters (PMM's kernels by default).
    """
    if len(cams) == 0:
        return np.zeros(image.shape[:2], np.int64)
    smoothed = cv_smooth(cams, coefficient_of_variation(cams, threshold, cv_scale), threshold)
    background = np.ones(image.shape[:2], bool)
    weights = [np.zeros(image.shape[:2])]  # background's weight is set below
    for cam, smooth in zip(cams, smoothed, strict=True):
        scores = np.stack([(1.0 - smooth) ** alpha, smooth]).astype(np.float32)
        foreground = dense_crf(image, scores, **asdict(crf))[1] > 0.5
        weights.append(cam * foreground / (1.0 + (cam * foreground).sum()))
        background &= ~foreground
    weights[0] = background.astype(np.float64)
    return np.argmax(np.stack(weights), axis=0)

