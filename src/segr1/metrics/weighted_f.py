"""Weighted F-measure (Margolin et al., CVPR 2014) of one prediction, as PySODMetrics 1.6.2.

Contract: :func:`weighted_f_measure` takes ``pred`` ((H, W) float64 in [0, 1], or bool) and
``gt`` ((H, W) bool) and returns a float; an empty ground truth scores 0.0 (PySODMetrics).

The maths, in PySODMetrics' (MATLAB's) words: the error ``E = |pred - gt|`` of a background
pixel is replaced by the error at its nearest foreground pixel (``Et``), smoothed with a 7x7
Gaussian (sigma 5) (``EA``); a foreground pixel keeps ``min(E, EA)``; a background pixel's
error is weighted by ``2 - 0.5 ** (distance / 5)``; weighted recall and precision give F.

How it is fast (same values): ``EA`` is only read on foreground pixels, so the nearest-pixel
transform and the separable Gaussian run on the foreground's bounding box plus the kernel
radius (SciPy's transform, so ties between equally near pixels break the same way); the
distances every background pixel needs come from OpenCV's exact Euclidean transform, whose
float32 output is rounded back to the exact ``sqrt(integer)`` SciPy would produce; they are
computed only on the box that holds the foreground and every non-zero prediction (a zero
prediction adds nothing to the weighted false positives), in place in one buffer.
"""

from __future__ import annotations

import cv2
import numpy as np
from scipy.ndimage import distance_transform_edt

from .convert import EPS, WF_BETA, check_prepared

_RADIUS = 3  # 7x7 kernel
_TAPS = np.exp(-(np.arange(-_RADIUS, _RADIUS + 1) ** 2) / (2 * 5.0**2))
_TAPS = _TAPS / _TAPS.sum()  # (7,): fspecial('gaussian', 7, 5) == outer(_TAPS, _TAPS)
_DECAY = np.log(0.5) / 5


def weighted_f_measure(pred: np.ndarray, gt: np.ndarray, beta: float = WF_BETA) -> float:
    """Weighted F-measure of ``pred`` (float in [0, 1] or bool) against ``gt`` (bool)."""
    pred = check_prepared(pred, gt)
    n_fg = int(np.count_nonzero(gt))
    if n_fg == 0:
        return 0.0
    box = _bounding_box(gt, _RADIUS)
    pred_box, gt_box = pred[box].astype(np.float64, copy=False), gt[box]
    err = np.abs(pred_box - gt_box)  # (h, w) E on the box; all foreground pixels are in it
    e_fg = err[gt_box]  # (n_fg,)
    ea_fg = _smoothed_nearest_error(err, gt_box)  # (n_fg,)
    ew_fg = np.where(ea_fg < e_fg, ea_fg, e_fg)  # MIN_E_EA on the foreground (weight 1)
    fpw = 0.0  # sum of weighted background errors; E = pred there
    if n_fg < gt.size:
        support = _bounding_box(gt | (pred > 0), 0)  # holds all fg: distances stay exact
        weight = _background_weight(gt[support])  # (h, w), exactly 1 on the foreground
        weighted = np.einsum("ij,ij->", pred[support], weight, dtype=np.float64)
        fpw = float(weighted) - float(pred_box[gt_box].sum())
    tpw = n_fg - ew_fg.sum()
    recall = 1 - ew_fg.mean()
    precision = tpw / (tpw + fpw + EPS)
    return float((1 + beta) * recall * precision / (recall + beta * precision + EPS))


def _bounding_box(mask: np.ndarray, margin: int) -> tuple[slice, slice]:
    """Bounding box of a non-empty mask grown by ``margin``, clipped to the image."""
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    h, w = mask.shape
    return (
        slice(max(rows[0] - margin, 0), min(rows[-1] + margin + 1, h)),
        slice(max(cols[0] - margin, 0), min(cols[-1] + margin + 1, w)),
    )


def _smoothed_nearest_error(err: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """``EA`` on the foreground pixels of a box that holds all of them (and the kernel)."""
    iy, ix = distance_transform_edt(~gt, return_distances=False, return_indices=True)
    nearest = err[iy, ix]  # (h, w) Et: error at the nearest foreground pixel
    smoothed = cv2.sepFilter2D(nearest, cv2.CV_64F, _TAPS, _TAPS, borderType=cv2.BORDER_CONSTANT)
    return smoothed[gt]


def _background_weight(gt: np.ndarray) -> np.ndarray:
    """(H, W) float64 ``2 - 0.5 ** (distance to the foreground / 5)``; 1 on the foreground."""
    d32 = cv2.distanceTransform((~gt).view(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    w = d32.astype(np.float64)  # one full-size buffer, transformed in place below
    np.multiply(w, w, out=w)
    np.rint(w, out=w)  # squared distances are integers: recover them exactly ...
    np.sqrt(w, out=w)  # ... so the distance equals SciPy's sqrt(integer) bit for bit
    np.multiply(w, _DECAY, out=w)
    np.exp(w, out=w)
    return np.subtract(2, w, out=w)
