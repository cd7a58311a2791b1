"""Threshold-swept metrics of one prediction: E-measure, F-measure, MAE, as PySODMetrics 1.6.2.

Contract: functions take a prepared pair (``pred`` float64 in [0, 1] or bool, ``gt`` bool) and
return floats or ``(256,)`` curves. Curves follow PySODMetrics' order: index ``i`` holds the
prediction binarised at ``q >= 255 - i`` where ``q = uint8(pred * 255)``; "mean" and "max"
E/F of a dataset are the mean and max of the per-threshold average curve.

* E-measure (Fan et al., IJCAI 2018): the enhanced-alignment sum over the four confusion parts
  divided by ``H * W - 1 + eps``; an empty ground truth scores the background fraction and a
  full one the foreground fraction of the binarised prediction.
* F-measure (beta^2 = 0.3): legacy ``py_sod_metrics.Fmeasure`` conventions (zero precision
  denominators count as 1, an empty ground truth gives recall 0).
* Adaptive versions binarise at ``min(2 * mean(pred), 1)`` (``pred >= threshold``).

All 256 thresholds come from one ``np.bincount`` over (gt class, quantised level) and a
cumulative sum, instead of PySODMetrics' two ``np.histogram`` calls per metric.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .convert import ADAPTIVE_FACTOR, EPS, F_BETA2, check_prepared


@dataclass(frozen=True)
class ThresholdCounts:
    """Confusion counts at each threshold (or at one), ``tp``/``fp`` as ``(256,)`` or scalars."""

    tp: np.ndarray  # (256,) gt pixels binarised as foreground
    fp: np.ndarray  # (256,) background pixels binarised as foreground
    n_fg: int  # gt foreground pixels
    n: int  # all pixels


def threshold_counts(pred: np.ndarray, gt: np.ndarray) -> ThresholdCounts:
    """Counts for the 256 thresholds ``q >= 255, ..., q >= 0`` of ``q = uint8(pred * 255)``."""
    pred = check_prepared(pred, gt)
    q = _quantise(pred)  # (H, W) uint8
    key = q.astype(np.uint16) + (gt.view(np.uint8).astype(np.uint16) << 8)  # (H, W) gt*256 + q
    hist = np.bincount(key.ravel(), minlength=512).reshape(2, 256)  # (bg/fg, level)
    cum = np.cumsum(hist[:, ::-1], axis=1)  # (2, 256): pixels at or above 255 - i
    return ThresholdCounts(tp=cum[1], fp=cum[0], n_fg=int(cum[1, -1]), n=gt.size)


def _quantise(pred: np.ndarray) -> np.ndarray:
    """PySODMetrics' ``uint8(pred * 255)`` (truncation); bool masks map to 0 / 255."""
    if pred.dtype == bool:
        return pred.view(np.uint8) * np.uint8(255)
    return (pred * 255).astype(np.uint8)


def adaptive_counts(pred: np.ndarray, gt: np.ndarray) -> ThresholdCounts:
    """Counts at the adaptive threshold ``min(2 * mean(pred), 1)``."""
    pred = check_prepared(pred, gt)
    mean = np.count_nonzero(pred) / pred.size if pred.dtype == bool else np.mean(pred)
    binary = pred >= min(ADAPTIVE_FACTOR * mean, 1)  # (H, W)
    tp = np.count_nonzero(binary & gt)
    fp = np.count_nonzero(binary) - tp
    return ThresholdCounts(
        tp=np.asarray(tp), fp=np.asarray(fp), n_fg=int(np.count_nonzero(gt)), n=gt.size
    )


def e_measure(counts: ThresholdCounts) -> np.ndarray:
    """Enhanced-alignment measure for each threshold in ``counts`` (same shape as ``tp``)."""
    tp, fp, n_fg, n = counts.tp, counts.fp, counts.n_fg, counts.n
    fg_pred = tp + fp
    bg_pred = n - fg_pred
    if n_fg == 0:
        total = bg_pred
    elif n_fg == n:
        total = fg_pred
    else:
        fn = n_fg - tp
        tn = bg_pred - fn
        mean_pred, mean_gt = fg_pred / n, n_fg / n
        pred_fg, pred_bg, gt_fg, gt_bg = 1 - mean_pred, 0 - mean_pred, 1 - mean_gt, 0 - mean_gt
        parts = (
            (tp, pred_fg, gt_fg),
            (fp, pred_fg, gt_bg),
            (fn, pred_bg, gt_fg),
            (tn, pred_bg, gt_bg),
        )
        total = 0
        for numel, a, b in parts:
            align = 2 * (a * b) / (a**2 + b**2 + EPS)
            total = total + (align + 1) ** 2 / 4 * numel
    return np.asarray(total / (n - 1 + EPS), dtype=np.float64)


def precision_recall(counts: ThresholdCounts) -> tuple[np.ndarray, np.ndarray]:
    """Precision and recall per threshold; empty denominators give 0 (PySODMetrics)."""
    predicted = np.where(counts.tp + counts.fp == 0, 1, counts.tp + counts.fp)
    return counts.tp / predicted, counts.tp / max(counts.n_fg, 1)


def f_measure(counts: ThresholdCounts, beta2: float = F_BETA2) -> np.ndarray:
    """F-measure ``(1 + b2) P R / (b2 P + R)`` per threshold; 0 where ``P R`` is 0."""
    p, r = precision_recall(counts)
    numerator = (1 + beta2) * p * r
    denominator = np.where(numerator == 0, 1, beta2 * p + r)
    return np.asarray(numerator / denominator, dtype=np.float64)


def mae(pred: np.ndarray, gt: np.ndarray) -> float:
    """Mean absolute error between ``pred`` and ``gt``."""
    pred = check_prepared(pred, gt)
    if pred.dtype == bool:
        return np.count_nonzero(pred ^ gt) / gt.size
    return float(np.mean(np.abs(pred - gt)))
