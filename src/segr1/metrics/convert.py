"""Input conversion shared by every foreground metric, identical to PySODMetrics 1.6.2.

Contract: :func:`prepare` turns a saved prediction and ground truth (``(H, W)`` uint8 0..255,
or bool) into the form every per-image metric takes: ``pred`` float64 in ``[0, 1]`` and
``gt`` bool. It reproduces PySODMetrics' ``prepare_data`` bit for bit:

* ``gt > 128`` is foreground (note: 128 itself is background, as in PySODMetrics);
* ``pred / 255`` is min-max normalised per image (MATLAB ``mapminmax(im2double(...))``) unless
  the prediction is constant, in which case it stays ``value / 255``.

The normalisation runs on a 256-entry lookup table and one gather, with the same float
operations as PySODMetrics, so the values are bit-identical and the work per pixel is small.
"""

from __future__ import annotations

import numpy as np

EPS = float(np.spacing(1))  # MATLAB's eps, as PySODMetrics uses it
GT_THRESHOLD = 128  # ground truth foreground is ``gt > GT_THRESHOLD``
# The metric settings (PySODMetrics 1.6.2 defaults); reports describe them from these names.
PYSODMETRICS_VERSION = "1.6.2"
S_ALPHA = 0.5  # S-measure: weight of the object score
F_BETA2 = 0.3  # F-measure: beta squared
WF_BETA = 1.0  # weighted F-measure: beta
N_THRESHOLDS = 256  # E / F curves: thresholds q >= 255 ... q >= 0 of uint8(pred * 255)
ADAPTIVE_FACTOR = 2  # adaptive E / F: pred >= min(ADAPTIVE_FACTOR * mean(pred), 1)
BINARY_THRESHOLD = 0.5  # IoU / Dice: the normalised prediction > BINARY_THRESHOLD

_LEVELS = np.arange(256) / 255  # (256,) float64, the same values as ``uint8_array / 255``


def as_uint8(name: str, a: np.ndarray) -> np.ndarray:
    """A saved mask as (H, W) uint8 0..255 (bool becomes 0 / 255); clear errors otherwise."""
    a = np.asarray(a)
    if a.ndim != 2:
        raise ValueError(f"{name} must be a 2-D (H, W) mask, got shape {a.shape}")
    if a.dtype == bool:
        return a.astype(np.uint8) * np.uint8(255)
    if a.dtype != np.uint8:
        raise TypeError(
            f"{name} must be uint8 0..255 (as read from a PNG) or bool, got {a.dtype}; "
            "convert float masks with (m * 255).round().astype(np.uint8)"
        )
    return a


def normalisation_lut(pred: np.ndarray) -> np.ndarray:
    """``(256,)`` float64: the normalised value PySODMetrics assigns to each uint8 level."""
    lo, hi = _LEVELS[int(pred.min())], _LEVELS[int(pred.max())]
    if hi == lo:
        return _LEVELS
    return (_LEVELS - lo) / (hi - lo)


def prepare(pred: np.ndarray, gt: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(pred float64 (H, W) in [0, 1], gt bool (H, W))`` exactly as PySODMetrics prepares them.

    ``pred`` and ``gt`` are uint8 0..255 (bool is accepted and read as 0 / 255).
    """
    pred = as_uint8("pred", pred)
    if gt.dtype != bool:
        gt = as_uint8("gt", gt) > GT_THRESHOLD
    if pred.shape != gt.shape:
        raise ValueError(f"shape mismatch: pred {pred.shape} vs gt {gt.shape}")
    return normalisation_lut(pred)[pred], gt


def check_prepared(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """Validate a prepared pair; return ``pred`` as float64 (bool stays bool)."""
    if not isinstance(gt, np.ndarray) or gt.dtype != bool or gt.ndim != 2:
        raise TypeError("gt must be an (H, W) bool mask; use segr1.metrics.prepare for uint8 masks")
    pred = np.asarray(pred)
    if pred.shape != gt.shape:
        raise ValueError(f"shape mismatch: pred {pred.shape} vs gt {gt.shape}")
    if pred.dtype == bool:
        return pred
    if not np.issubdtype(pred.dtype, np.floating):
        raise TypeError(
            f"pred must be float in [0, 1] or bool, got {pred.dtype}; "
            "use segr1.metrics.prepare for uint8 0..255 predictions"
        )
    pred = pred.astype(np.float64, copy=False)
    if pred.size and not (pred.min() >= 0.0 and pred.max() <= 1.0):
        raise ValueError("pred values must lie in [0, 1] (NaN is not allowed)")
    return pred
