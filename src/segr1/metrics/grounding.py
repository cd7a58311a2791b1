"""Grounding statistics of a policy's boxes: does its box follow the object?

Contract (numpy only): boxes are ``[x1, y1, x2, y2]`` continuous pixel positions in the model's
S x S frame (corners may come reversed; they are reordered). Per image, the policy's box is the
answer's FIRST box (or None when the answer has none) and the ground-truth box is the tight box
around every ground-truth pixel (:func:`mask_box`: ``[x_min, y_min, x_max + 1, y_max + 1]``,
scaled into the S x S frame), or None when the ground truth is empty.

:func:`grounding_stats` gives:

* ``mean_box_iou``: mean box IoU over the images with a ground-truth box (an image without a
  policy box scores 0; images with an empty ground truth are left out and counted in
  ``n_scored``);
* ``distinct`` / ``distinct_share``: how many different first boxes over ALL images (an answer
  without a box counts as one more "box"), and that number over the image count: 1.0 when
  every image got its own box, ``1 / n`` for a constant answer;
* ``whole_frame_share``: share of ALL images whose box, clipped to the frame, covers more than
  :data:`WHOLE_FRAME` of it (the reward hack of box-prompting RL);
* ``no_box``: images whose answer had no box;
* ``median_side_ratio``: over the images with both boxes (each clipped to the frame, the
  ground-truth box not empty), the median of ``sqrt(policy box area / ground-truth box
  area)`` - the box's side over the object box's (1.0: the object's size; 1.3: each side 30 %
  longer; 0.0 for a box of no area); None when no image has both.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np

WHOLE_FRAME = 0.9  # a box covering more than this share of the S x S frame is "whole-frame"

Box = Sequence[float]


def _ordered(box: Box) -> tuple[float, float, float, float]:
    x1, y1, x2, y2 = (float(v) for v in box)
    return min(x1, x2), min(y1, y2), max(x1, x2), max(y1, y2)


def box_iou(a: Box, b: Box) -> float:
    """IoU of two xyxy boxes as continuous rectangles; 0.0 when the union is empty."""
    ax1, ay1, ax2, ay2 = _ordered(a)
    bx1, by1, bx2, by2 = _ordered(b)
    inter = max(0.0, min(ax2, bx2) - max(ax1, bx1)) * max(0.0, min(ay2, by2) - max(ay1, by1))
    union = (ax2 - ax1) * (ay2 - ay1) + (bx2 - bx1) * (by2 - by1) - inter
    return inter / union if union > 0 else 0.0


def mask_box(mask: np.ndarray, side: int | None = None) -> list[float] | None:
    """Tight box ``[x_min, y_min, x_max + 1, y_max + 1]`` of an (H, W) bool mask, scaled into
    the ``side`` x ``side`` frame when ``side`` is given; None when the mask is empty."""
    ys, xs = np.nonzero(mask)
    if len(xs) == 0:
        return None
    box = [float(xs.min()), float(ys.min()), float(xs.max() + 1), float(ys.max() + 1)]
    if side is None:
        return box
    h, w = mask.shape
    return [box[0] * side / w, box[1] * side / h, box[2] * side / w, box[3] * side / h]


def clipped_area(box: Box, side: int) -> float:
    """Area of ``box`` clipped to the S x S frame."""
    x1, y1, x2, y2 = (min(max(v, 0.0), float(side)) for v in _ordered(box))
    return (x2 - x1) * (y2 - y1)


def box_area_share(box: Box, side: int) -> float:
    """Share of the S x S frame that ``box``, clipped to the frame, covers."""
    return clipped_area(box, side) / float(side * side)


@dataclass(frozen=True)
class GroundingStats:
    n: int  # images
    n_scored: int  # images with a non-empty ground truth (the mean box IoU's denominator)
    mean_box_iou: float
    distinct: int  # different first boxes (no box counts as one value)
    distinct_share: float  # distinct / n
    whole_frame_share: float  # boxes covering > WHOLE_FRAME of the frame / n
    no_box: int  # answers without a box
    median_side_ratio: float | None = None  # median sqrt(box area / ground-truth box area)

    def to_dict(self) -> dict:
        return asdict(self)


def grounding_stats(
    boxes: Sequence[Box | None], gt_boxes: Sequence[Box | None], side: int
) -> GroundingStats:
    """Statistics of the policy's first ``boxes`` against ``gt_boxes`` (both per image, in the
    S x S frame; see the module docstring)."""
    if len(boxes) != len(gt_boxes):
        raise ValueError(f"{len(boxes)} boxes for {len(gt_boxes)} ground-truth boxes")
    n = len(boxes)
    ious = [
        0.0 if box is None else box_iou(box, gt)
        for box, gt in zip(boxes, gt_boxes, strict=True)
        if gt is not None
    ]
    ratios = []
    for box, gt in zip(boxes, gt_boxes, strict=True):
        gt_area = 0.0 if box is None or gt is None else clipped_area(gt, side)
        if gt_area > 0:
            ratios.append(np.sqrt(clipped_area(box, side) / gt_area))
    keys = {None if b is None else tuple(float(v) for v in b) for b in boxes}
    whole = sum(b is not None and box_area_share(b, side) > WHOLE_FRAME for b in boxes)
    return GroundingStats(
        n=n,
        n_scored=len(ious),
        mean_box_iou=float(np.mean(ious)) if ious else 0.0,
        distinct=len(keys),
        distinct_share=len(keys) / n if n else 0.0,
        whole_frame_share=whole / n if n else 0.0,
        no_box=sum(b is None for b in boxes),
        median_side_ratio=float(np.median(ratios)) if ratios else None,
    )
