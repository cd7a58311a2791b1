"""Overlap of two binary masks: IoU and Dice, per image, with an optional ignore mask.

Contract: inputs are ``(H, W)`` bool arrays of the same shape (threshold first, e.g.
``mask > 127``); outputs are Python floats. Conventions for empty masks:

* :func:`iou` and :func:`dice` return ``0.0`` when both masks are empty (the union is empty),
  as PySODMetrics' binary IoU / Dice handlers do and as the Seg-R1 reward specifies.
* :func:`overlap_counts` returns raw ``(intersection, union)`` pixel counts so dataset-level
  metrics (cIoU) and other empty-mask conventions (gIoU) are decided by the caller.

``ignore`` (bool ``(H, W)``, optional) removes pixels from both intersection and union; it is
how ReasonSeg's "ignore" pixels (value 255 in its masks) are excluded.
"""

from __future__ import annotations

import numpy as np


def check_masks(pred: np.ndarray, gt: np.ndarray, ignore: np.ndarray | None = None) -> None:
    """Raise a clear error unless ``pred``/``gt`` (and ``ignore``) are same-shape 2-D bool."""
    for name, m in (("pred", pred), ("gt", gt), ("ignore", ignore)):
        if m is None:
            continue
        if not isinstance(m, np.ndarray) or m.dtype != bool or m.ndim != 2:
            got = f"{m.dtype} {m.shape}" if isinstance(m, np.ndarray) else type(m).__name__
            raise TypeError(
                f"{name} must be an (H, W) bool mask, got {got}; threshold it first "
                "(e.g. mask > 127 for a 0..255 mask)"
            )
        if m.shape != pred.shape:
            raise ValueError(f"shape mismatch: pred {pred.shape} vs {name} {m.shape}")


def overlap_counts(
    pred: np.ndarray, gt: np.ndarray, ignore: np.ndarray | None = None
) -> tuple[int, int]:
    """``(intersection, union)`` pixel counts of two bool masks, ``ignore`` pixels excluded."""
    check_masks(pred, gt, ignore)
    inter = pred & gt
    union = pred | gt
    if ignore is not None:
        keep = ~ignore
        inter &= keep
        union &= keep
    return int(np.count_nonzero(inter)), int(np.count_nonzero(union))


def iou(pred: np.ndarray, gt: np.ndarray) -> float:
    """Intersection over union of two ``(H, W)`` bool masks; ``0.0`` when the union is empty."""
    inter, union = overlap_counts(pred, gt)
    return inter / union if union else 0.0


def dice(pred: np.ndarray, gt: np.ndarray) -> float:
    """Dice ``2|P∩G| / (|P| + |G|)`` of two ``(H, W)`` bool masks; ``0.0`` when both are empty."""
    check_masks(pred, gt)
    inter = int(np.count_nonzero(pred & gt))
    total = int(np.count_nonzero(pred)) + int(np.count_nonzero(gt))
    return 2 * inter / total if total else 0.0
