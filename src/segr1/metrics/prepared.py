"""One saved (prediction, ground truth) pair, prepared once for every foreground metric.

Contract: :class:`PreparedPair` holds the uint8 prediction as ``codes`` plus a 256-entry
``lut`` (the normalised prediction is ``lut[codes]``, bit-identical to PySODMetrics'), and the
bool ground truth. A saved prediction takes at most 256 values, so pixel counts per code are a
sufficient statistic: per gt class (:attr:`class_histogram`) for the E/F-measure curves,
adaptive thresholds, MAE, IoU and Dice, and per S-measure quadrant too (:attr:`histogram`) for
the S-measure. Each metric then costs a few 256-entry dot products instead of passes over the
image. Results equal the array-based functions in this package up to float summation order
(tested against PySODMetrics). Everything is computed on first use and cached on the pair.
"""

from __future__ import annotations

from functools import cached_property

import cv2
import numpy as np

from .convert import (
    ADAPTIVE_FACTOR,
    BINARY_THRESHOLD,
    GT_THRESHOLD,
    S_ALPHA,
    as_uint8,
    normalisation_lut,
)
from .structure import centroid_split, s_measure_from_stats
from .thresholds import ThresholdCounts


class PreparedPair:
    """A prediction (uint8 0..255 or bool) and ground truth, converted as PySODMetrics does."""

    def __init__(self, pred: np.ndarray, gt: np.ndarray) -> None:
        self.codes = np.ascontiguousarray(as_uint8("pred", pred))  # (H, W) uint8
        gt = gt if gt.dtype == bool else as_uint8("gt", gt) > GT_THRESHOLD
        self.gt = np.ascontiguousarray(gt)  # (H, W) bool
        if self.codes.shape != self.gt.shape:
            raise ValueError(f"shape mismatch: pred {self.codes.shape} vs gt {self.gt.shape}")
        self.lut = normalisation_lut(self.codes)  # (256,) float64
        self.n = self.gt.size

    @cached_property
    def pred(self) -> np.ndarray:
        """(H, W) float64 normalised prediction."""
        return self.lut[self.codes]

    @cached_property
    def n_fg(self) -> int:
        return int(np.count_nonzero(self.gt))

    @cached_property
    def split(self) -> tuple[int, int]:
        """S-measure quadrant split (any split when the ground truth is empty or full)."""
        return centroid_split(self.gt, self.n_fg) if 0 < self.n_fg < self.n else (0, 0)

    @cached_property
    def histogram(self) -> np.ndarray:
        """(4, 2, 256) int64 pixels per quadrant (lt, rt, lb, rb) x gt class (bg, fg) x code."""
        (h, w), (cy, cx) = self.gt.shape, self.split
        bottom = (np.arange(h, dtype=np.uint16) >= cy) * np.uint16(4 << 8)  # (H,)
        right = (np.arange(w, dtype=np.uint16) >= cx) * np.uint16(2 << 8)  # (W,)
        key = bottom[:, None] + right[None, :]  # (H, W) uint16: (2 * quadrant + gt) * 256 + code
        key |= self.gt.view(np.uint8).astype(np.uint16) << 8
        key |= self.codes
        return _count(key, 2048).reshape(4, 2, 256)

    @cached_property
    def class_histogram(self) -> np.ndarray:
        """(2, 256) pixels per gt class (bg, fg) x code (two passes over the uint8 codes)."""
        fg = _count(self.codes, 256, self.gt.view(np.uint8))
        return np.stack([_count(self.codes, 256) - fg, fg])

    def s_measure(self, alpha: float = S_ALPHA) -> float:
        shift = float(self.lut[self.codes.flat[0]])
        d = self.lut - shift  # (256,)
        per_quadrant = self.histogram.sum(axis=1)  # (4, 256)
        fg = self.histogram[:, 1]  # (4, 256)
        stats = np.stack(
            [
                per_quadrant.sum(axis=1),
                fg.sum(axis=1),
                per_quadrant @ d,
                per_quadrant @ (d * d),
                fg @ d,
                fg @ (d * d),
            ]
        ).astype(np.float64)
        return s_measure_from_stats(self.pred, self.gt, self.split, stats, shift, alpha)

    def threshold_counts(self) -> ThresholdCounts:
        """Counts at the 256 thresholds of ``uint8(pred * 255)`` (PySODMetrics' order)."""
        levels = (self.lut * 255).astype(np.uint8)  # (256,) quantised level of each code
        hist = np.stack(
            [np.bincount(levels, weights=h, minlength=256) for h in self.class_histogram]
        )
        cum = np.cumsum(hist[:, ::-1].astype(np.int64), axis=1)  # (2, 256)
        return ThresholdCounts(tp=cum[1], fp=cum[0], n_fg=self.n_fg, n=self.n)

    def counts_where(self, selected: np.ndarray) -> ThresholdCounts:
        """Counts of the binary prediction that is foreground at codes where ``selected``."""
        bg, fg = self.class_histogram
        tp, fp = int(fg[selected].sum()), int(bg[selected].sum())
        return ThresholdCounts(tp=np.asarray(tp), fp=np.asarray(fp), n_fg=self.n_fg, n=self.n)

    def adaptive_counts(self) -> ThresholdCounts:
        """Counts at ``pred >= min(2 * mean(pred), 1)``.

        The mean comes from the histogram; only when a present level lies within 1e-9 of the
        threshold (where summation order could flip a comparison) is PySODMetrics' own
        ``np.mean`` over the pixels used.
        """
        per_code = self.class_histogram.sum(axis=0)  # (256,)
        threshold = min(ADAPTIVE_FACTOR * float(per_code @ self.lut) / self.n, 1)
        if np.any((per_code > 0) & (np.abs(self.lut - threshold) <= 1e-9)):
            threshold = min(ADAPTIVE_FACTOR * np.mean(self.pred), 1)
        return self.counts_where(self.lut >= threshold)

    def binary_counts(self) -> ThresholdCounts:
        """Counts at ``pred > 0.5`` (PySODMetrics' binary handlers)."""
        return self.counts_where(self.lut > BINARY_THRESHOLD)

    def mae(self) -> float:
        bg, fg = self.class_histogram
        return float((bg @ self.lut + fg @ (1 - self.lut)) / self.n)


def _count(
    image: np.ndarray, bins: int, mask: np.ndarray | None = None, cv_limit: int = 2**24
) -> np.ndarray:
    """(bins,) int64 pixels per integer value of a uint8 / uint16 image (inside ``mask``)."""
    if image.size < cv_limit:  # OpenCV counts in float32: exact below 2**24 per bin
        return cv2.calcHist([image], [0], mask, [bins], [0, bins]).ravel().astype(np.int64)
    values = image if mask is None else image[mask.astype(bool)]
    return np.bincount(values.ravel(), minlength=bins)
