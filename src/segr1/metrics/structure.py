"""S-measure (structure measure, Fan et al., ICCV 2017) of one prediction, as PySODMetrics 1.6.2.

Contract: :func:`s_measure` takes ``pred`` ((H, W) float64 in [0, 1], or bool) and ``gt``
((H, W) bool) and returns ``max(0, alpha * object + (1 - alpha) * region)`` as a float, with
PySODMetrics' branches: an empty ground truth scores ``1 - mean(pred)``, a full one
``mean(pred)``. Values agree with ``py_sod_metrics.Smeasure`` to within 1e-9 in practice.

How it is fast: every quantity the measure needs is a per-(quadrant, gt class) count, sum and
sum of squares of ``pred`` (shifted by one pixel's value, so a constant prediction has exactly
zero variance). A bool prediction gets them from one ``np.bincount``; a float one from slice
sums; :class:`segr1.metrics.PreparedPair` from its level histogram without touching the pixels
again (:func:`s_measure_from_stats`). PySODMetrics' boolean indexing and four SSIM passes are
avoided; the degenerate SSIM branches (a quadrant whose ground truth is constant) are decided
exactly, re-reading that quadrant when a float prediction needs PySODMetrics' own rounding.

One deliberate deviation: when the foreground centroid rounds to the last row or column, one
quadrant is empty (area weight 0) and PySODMetrics returns NaN; here it contributes 0.
"""

from __future__ import annotations

import numpy as np

from .convert import EPS, S_ALPHA, check_prepared


def s_measure(pred: np.ndarray, gt: np.ndarray, alpha: float = S_ALPHA) -> float:
    """Structure measure of ``pred`` (float in [0, 1] or bool) against ``gt`` (bool)."""
    pred = check_prepared(pred, gt)
    n_fg = int(np.count_nonzero(gt))
    if 0 < n_fg < gt.size:
        split = centroid_split(gt, n_fg)
        stats, shift = _quadrant_stats(pred, gt, split)  # (6, 4): sums per quadrant
    else:
        split, stats, shift = (0, 0), np.zeros((6, 4)), 0.0  # branches that need no quadrants
        stats[1, 0] = n_fg
    return s_measure_from_stats(pred, gt, split, stats, shift, alpha)


def s_measure_from_stats(
    pred: np.ndarray,
    gt: np.ndarray,
    split: tuple[int, int],
    stats: np.ndarray,
    shift: float,
    alpha: float = 0.5,
) -> float:
    """S-measure from per-quadrant sums (see :func:`_quadrant_stats` for ``stats``/``shift``).

    ``pred``/``gt`` are read only for the empty / full ground truth branches (the mean of
    ``pred``) and for degenerate quadrants of a float prediction.
    """
    n, n_fg = gt.size, stats[1].sum()
    if n_fg == 0 or n_fg == n:
        mean = np.count_nonzero(pred) / n if pred.dtype == bool else float(np.mean(pred))
        return float(1 - mean) if n_fg == 0 else float(mean)
    object_score = _object_score(stats, shift, n_fg / n) * alpha
    region_score = _region_score(pred, gt, stats, shift, split) * (1 - alpha)
    return float(max(0.0, object_score + region_score))


def centroid_split(gt: np.ndarray, n_fg: int) -> tuple[int, int]:
    """Rounded foreground centroid plus one (PySODMetrics' MATLAB-compatible split point)."""
    h, w = gt.shape
    rows = np.count_nonzero(gt, axis=1)  # (H,)
    cols = np.count_nonzero(gt, axis=0)  # (W,)
    cy = np.round(int(np.dot(np.arange(h), rows)) / n_fg)
    cx = np.round(int(np.dot(np.arange(w), cols)) / n_fg)
    return int(cy) + 1, int(cx) + 1


def quadrant_key(gt: np.ndarray, split: tuple[int, int]) -> np.ndarray:
    """(H, W) uint8 ``2 * quadrant + gt`` with quadrants lt, rt, lb, rb = 0, 1, 2, 3."""
    (h, w), (cy, cx) = gt.shape, split
    bottom = (np.arange(h) >= cy).astype(np.uint8) * np.uint8(4)  # (H,)
    right = (np.arange(w) >= cx).astype(np.uint8) * np.uint8(2)  # (W,)
    return (bottom[:, None] + right[None, :]) + gt


def _quadrant_stats(
    pred: np.ndarray, gt: np.ndarray, split: tuple[int, int]
) -> tuple[np.ndarray, float]:
    """Per quadrant (lt, rt, lb, rb) sums of ``d = pred - shift``, and the shift.

    Returns ``(6, 4)`` float64 rows [pixels, gt pixels, sum d, sum d^2, sum d*gt, sum d^2*gt].
    Shifting by one pixel's value keeps a constant prediction's variance exactly 0.
    """
    if pred.dtype == bool:  # counts are exact: one bincount over (pred, quadrant, gt class)
        key = quadrant_key(gt, split) + np.uint8(8) * pred  # (H, W) uint8
        c = np.bincount(key.ravel(), minlength=16).reshape(2, 4, 2).astype(np.float64)
        n, ones = c.sum(axis=0), c[1]  # (4, 2) each: quadrant x gt class
        rows = [n.sum(axis=1), n[:, 1], ones.sum(axis=1), ones.sum(axis=1), ones[:, 1], ones[:, 1]]
        return np.stack(rows), 0.0
    shift = float(pred.flat[0])
    d = pred - shift  # (H, W), the only full-size temporary (einsum needs none)
    stats = np.empty((6, 4))
    for i, sl in enumerate(_slices(gt.shape, split)):
        ds, gs = d[sl], gt[sl]
        stats[:, i] = (
            ds.size,
            np.count_nonzero(gs),
            ds.sum(),
            np.einsum("ij,ij->", ds, ds),
            np.einsum("ij,ij->", ds, gs, dtype=np.float64),
            np.einsum("ij,ij,ij->", ds, ds, gs, dtype=np.float64),
        )
    return stats, shift


def _slices(shape: tuple[int, int], split: tuple[int, int]) -> tuple[tuple[slice, slice], ...]:
    (h, w), (cy, cx) = shape, split
    top, bottom, left, right = slice(0, cy), slice(cy, h), slice(0, cx), slice(cx, w)
    return (top, left), (top, right), (bottom, left), (bottom, right)


def _object_score(stats: np.ndarray, shift: float, gt_mean: float) -> float:
    n, n_fg, s, q, s_fg, q_fg = stats.sum(axis=1)
    n_bg, s_bg, q_bg = n - n_fg, s - s_fg, q - q_fg
    fg = _s_object(n_fg, s_fg, q_fg, shift + s_fg / n_fg)
    bg = _s_object(n_bg, s_bg, q_bg, 1 - (shift + s_bg / n_bg))  # background scores 1 - pred
    return fg * gt_mean + bg * (1 - gt_mean)


def _s_object(n: float, s: float, q: float, mean: float) -> float:
    """``2 m / (m^2 + 1 + std + eps)`` with the sample standard deviation (ddof 1)."""
    std = np.sqrt(max(q - s * s / n, 0.0) / (n - 1)) if n > 1 else 0.0
    return 2 * mean / (mean**2 + 1 + std + EPS)


def _region_score(
    pred: np.ndarray, gt: np.ndarray, stats: np.ndarray, shift: float, split: tuple[int, int]
) -> float:
    (h, w), (cy, cx) = gt.shape, split
    area = h * w
    w_lt = cx * cy / area
    w_rt = cy * (w - cx) / area
    w_lb = (h - cy) * cx / area
    weights = (w_lt, w_rt, w_lb, 1 - w_lt - w_rt - w_lb)
    score = 0.0
    for i, (weight, sl) in enumerate(zip(weights, _slices(gt.shape, split), strict=True)):
        score += _ssim(stats[:, i], shift, pred, gt, sl) * weight
    return score


def _ssim(stats: np.ndarray, shift: float, pred: np.ndarray, gt: np.ndarray, sl: tuple) -> float:
    """PySODMetrics' SSIM of one quadrant from its ``(6,)`` statistics."""
    big_n, n1, s, q, s_g, _ = stats
    if big_n == 0:
        return 0.0  # empty quadrant (weight 0); PySODMetrics yields NaN here
    if n1 in (0, big_n):  # constant ground truth: PySODMetrics' alpha is exactly 0
        if pred.dtype == bool:  # beta is exactly 0 iff the prediction is constant too
            return 1.0 if s in (0, big_n) else 0.0
        return _ssim_exact(pred[sl], gt[sl])  # decided by PySODMetrics' own rounding
    x, y = shift + s / big_n, n1 / big_n
    denom = big_n - 1 + EPS
    sigma_x = max(q - s * s / big_n, 0.0) / denom
    sigma_y = (n1 * (1 - y) ** 2 + (big_n - n1) * y**2) / denom
    sigma_xy = (s_g - y * s) / denom
    alpha = 4 * x * y * sigma_xy
    beta = (x**2 + y**2) * (sigma_x + sigma_y)
    if alpha != 0:
        return alpha / (beta + EPS)
    return 1.0 if beta == 0 else 0.0


def _ssim_exact(pred: np.ndarray, gt: np.ndarray) -> float:
    """PySODMetrics' SSIM computed its own way (used only for the degenerate branches)."""
    big_n = pred.size
    x, y = np.mean(pred), np.mean(gt)
    sigma_x = np.sum((pred - x) ** 2) / (big_n - 1 + EPS)
    sigma_y = np.sum((gt - y) ** 2) / (big_n - 1 + EPS)
    sigma_xy = np.sum((pred - x) * (gt - y)) / (big_n - 1 + EPS)
    alpha = 4 * x * y * sigma_xy
    beta = (x**2 + y**2) * (sigma_x + sigma_y)
    if alpha != 0:
        return float(alpha / (beta + EPS))
    return 1.0 if beta == 0 else 0.0
