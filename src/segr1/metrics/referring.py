"""Referring / reasoning segmentation metrics: cIoU and gIoU over a split.

Contract: :class:`ReferringMetrics` takes one sample at a time (every expression / query is one
sample) as ``(H, W)`` bool masks, with an optional bool ``ignore`` mask (e.g. ReasonSeg pixels
valued 255) whose pixels count in neither intersection nor union.

* cIoU = total intersection / total union over the split (pixel-weighted).
* gIoU = mean of per-sample IoU.
* Empty-mask convention: a sample whose union is empty (empty ground truth and empty
  prediction, after ignoring) has IoU ``empty_iou`` (default 1.0: a correct "no object"
  answer, as LISA's evaluation counts it); an empty ground truth with a non-empty prediction
  has IoU 0. When the whole split's union is empty, cIoU is ``empty_iou`` too.
  (The training reward's :func:`segr1.metrics.iou` instead returns 0.0 for an empty union.)
"""

from __future__ import annotations

import numpy as np

from .overlap import overlap_counts


class ReferringMetrics:
    """Accumulates cIoU / gIoU: ``step(pred, gt, ignore=None)``, ``results()``, ``reset()``."""

    def __init__(self, empty_iou: float = 1.0) -> None:
        self.empty_iou = empty_iou
        self.reset()

    def reset(self) -> None:
        """Forget every sample."""
        self._ious: list[float] = []
        self._intersection = 0
        self._union = 0

    @property
    def count(self) -> int:
        return len(self._ious)

    def step(
        self, pred: np.ndarray, gt: np.ndarray, ignore: np.ndarray | None = None
    ) -> dict[str, float]:
        """Score one sample; return ``{"IoU", "intersection", "union"}`` for it."""
        inter, union = overlap_counts(pred, gt, ignore)
        value = inter / union if union else self.empty_iou
        self._ious.append(value)
        self._intersection += inter
        self._union += union
        return {"IoU": value, "intersection": inter, "union": union}

    def results(self) -> dict[str, float]:
        """``{"cIoU", "gIoU", "count"}`` over every sample stepped so far."""
        if not self._ious:
            raise ValueError("ReferringMetrics has no samples: call step() before results()")
        ciou = self._intersection / self._union if self._union else self.empty_iou
        return {"cIoU": float(ciou), "gIoU": float(np.mean(self._ious)), "count": self.count}
