"""Grounding statistics of a policy's boxes: does its box follow the object?

Contract (numpy and scipy): boxes are ``[x1, y1, x2, y2]`` continuous pixel positions in the
model's S x S frame (corners may come reversed; they are reordered). Per image, an answer is its
list of boxes (the protocol's mask is the union of one mask per box; None or a bare box are read
as no box and one box), and the ground truth is either one box or its objects' boxes
(:func:`object_boxes`: one tight box per connected region of the mask), None when empty.

:func:`grounding_stats` gives:

* ``mean_box_iou``: mean IoU of the box enclosing all of the answer's boxes against the box
  enclosing the ground truth (given as ``enclosing``, :func:`mask_box`: ``[x_min, y_min,
  x_max + 1, y_max + 1]`` scaled into the S x S frame; default the box around the object
  boxes), over the images with a ground-truth box (an image without a
  policy box scores 0; images with an empty ground truth are left out and counted in
  ``n_scored``). With one box per answer this is that box against the object box;
* ``mean_object_box_iou``: mean :func:`matched_box_iou` of the answer's boxes against the
  ground truth's object boxes (each object paired with at most one box, the pairing of largest
  total IoU, the sum over the larger count: a missing or a surplus box costs), same images;
* ``distinct`` / ``distinct_share``: how many different answers (their boxes, in order) over ALL
  images (an answer without a box counts as one more), and that number over the image count:
  1.0 when every image got its own boxes, ``1 / n`` for a constant answer;
* ``whole_frame_share``: share of ALL images with a box that, clipped to the frame, covers more
  than :data:`WHOLE_FRAME` of it (the reward hack of box-prompting RL);
* ``no_box``: images whose answer had no box; ``mean_boxes``: boxes per answer;
* ``median_side_ratio``: over the images with both enclosing boxes (each clipped to the frame,
  the ground-truth box not empty), the median of ``sqrt(policy box area / ground-truth box
  area)`` - the box's side over the object box's (1.0: the object's size; 1.3: each side 30 %
  longer; 0.0 for a box of no area); None when no image has both.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import cv2
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


def object_boxes(mask: np.ndarray, side: int | None = None, min_share: float = 0.02) -> list:
    """One tight box per connected region (8-connected) of an (H, W) bool mask, as
    :func:`mask_box` writes it (scaled into the ``side`` x ``side`` frame when given), ordered
    left to right (then top to bottom); regions under ``min_share`` of the largest one's area
    (specks a resize leaves) are dropped. ``[]`` for an empty mask."""
    n, _, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    areas = stats[1:, cv2.CC_STAT_AREA]
    if n <= 1:
        return []
    keep = [i + 1 for i, a in enumerate(areas) if a >= min_share * areas.max()]
    h, w = mask.shape
    scale = (1.0, 1.0) if side is None else (side / w, side / h)
    boxes = []
    for i in keep:
        x, y, bw, bh = (int(v) for v in stats[i, :4])
        boxes.append([x * scale[0], y * scale[1], (x + bw) * scale[0], (y + bh) * scale[1]])
    return sorted(boxes, key=lambda b: (b[0], b[1]))


def as_boxes(entry) -> list:
    """An answer's boxes: ``None`` -> ``[]``, one box (four numbers) -> ``[box]``, a list of
    boxes as it is."""
    if entry is None:
        return []
    entry = list(entry)
    if entry and not isinstance(entry[0], (list, tuple, np.ndarray)):
        return [entry]
    return entry


def enclosing_box(boxes: Sequence[Box]) -> list[float] | None:
    """The box around all ``boxes`` (None for none)."""
    if not boxes:
        return None
    ordered = [_ordered(b) for b in boxes]
    return [min(b[0] for b in ordered), min(b[1] for b in ordered),
            max(b[2] for b in ordered), max(b[3] for b in ordered)]  # fmt: skip


def matched_box_iou(boxes: Sequence[Box], objects: Sequence[Box]) -> float:
    """Answer boxes against object boxes: each object paired with at most one box (the pairing
    of largest total IoU), the summed IoU over ``max(len(boxes), len(objects))``, so a missing
    and a surplus box both cost. 0.0 when either side is empty."""
    if not boxes or not objects:
        return 0.0
    from scipy.optimize import linear_sum_assignment

    ious = np.array([[box_iou(b, o) for o in objects] for b in boxes])
    rows, cols = linear_sum_assignment(ious, maximize=True)
    return float(ious[rows, cols].sum()) / max(len(boxes), len(objects))


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
    n_scored: int  # images with a non-empty ground truth (the mean box IoUs' denominator)
    mean_box_iou: float  # enclosing answer box vs enclosing ground-truth box
    distinct: int  # different answers (all boxes, in order; no box counts as one value)
    distinct_share: float  # distinct / n
    whole_frame_share: float  # answers with a box covering > WHOLE_FRAME of the frame / n
    no_box: int  # answers without a box
    median_side_ratio: float | None = None  # median sqrt(box area / ground-truth box area)
    mean_object_box_iou: float = 0.0  # answer boxes matched to object boxes
    mean_boxes: float = 0.0  # boxes per answer

    def to_dict(self) -> dict:
        return asdict(self)


def _enclosing_truths(gt_boxes: Sequence, enclosing: Sequence | None) -> list:
    if enclosing is None:
        return [enclosing_box(as_boxes(gt)) for gt in gt_boxes]
    if len(enclosing) != len(gt_boxes):
        raise ValueError(f"{len(enclosing)} enclosing boxes for {len(gt_boxes)} ground truths")
    return list(enclosing)


def per_image_box_ious(
    boxes: Sequence, gt_boxes: Sequence, enclosing: Sequence | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """(enclosing box IoU, matched object box IoU), each (M,), over the M images with a
    ground-truth box (entries as :func:`grounding_stats` takes them; ``enclosing``: each
    image's box around all ground-truth pixels, default the box around its object boxes)."""
    out_enclosing, matched = [], []
    for entry, gt, truth in zip(boxes, gt_boxes, _enclosing_truths(gt_boxes, enclosing),
                                strict=True):  # fmt: skip
        objects = as_boxes(gt)
        if not objects:
            continue
        answer = as_boxes(entry)
        box = enclosing_box(answer)
        out_enclosing.append(0.0 if box is None else box_iou(box, truth))
        matched.append(matched_box_iou(answer, objects))
    return np.asarray(out_enclosing, np.float64), np.asarray(matched, np.float64)


def grounding_stats(
    boxes: Sequence, gt_boxes: Sequence, side: int, enclosing: Sequence | None = None
) -> GroundingStats:
    """Statistics of the policy's answers ``boxes`` against ``gt_boxes`` (both per image, in the
    S x S frame; each entry None, one box or a list of boxes; see the module docstring).
    ``enclosing``: each image's box around ALL ground-truth pixels (:func:`mask_box`) when the
    object boxes leave some out (specks :func:`object_boxes` drops); default the box around
    the object boxes."""
    return grounding_with_ious(boxes, gt_boxes, side, enclosing)[0]


def grounding_with_ious(
    boxes: Sequence, gt_boxes: Sequence, side: int, enclosing: Sequence | None = None
) -> tuple[GroundingStats, np.ndarray, np.ndarray]:
    """:func:`grounding_stats` and the per-image IoUs it is made from
    (:func:`per_image_box_ious`), computed once."""
    if len(boxes) != len(gt_boxes):
        raise ValueError(f"{len(boxes)} boxes for {len(gt_boxes)} ground-truth boxes")
    n = len(boxes)
    answers = [as_boxes(b) for b in boxes]
    truths = _enclosing_truths(gt_boxes, enclosing)
    ious, matched = per_image_box_ious(answers, gt_boxes, truths)
    ratios = []
    for answer, truth in zip(answers, truths, strict=True):
        box = enclosing_box(answer)
        gt_area = 0.0 if box is None or truth is None else clipped_area(truth, side)
        if gt_area > 0:
            ratios.append(np.sqrt(clipped_area(box, side) / gt_area))
    keys = {tuple(tuple(float(v) for v in b) for b in answer) for answer in answers}
    whole = sum(any(box_area_share(b, side) > WHOLE_FRAME for b in answer) for answer in answers)
    stats = GroundingStats(
        n=n,
        n_scored=len(ious),
        mean_box_iou=float(ious.mean()) if len(ious) else 0.0,
        distinct=len(keys),
        distinct_share=len(keys) / n if n else 0.0,
        whole_frame_share=whole / n if n else 0.0,
        no_box=sum(not answer for answer in answers),
        median_side_ratio=float(np.median(ratios)) if ratios else None,
        mean_object_box_iou=float(matched.mean()) if len(matched) else 0.0,
        mean_boxes=float(np.mean([len(a) for a in answers])) if n else 0.0,
    )
    return stats, ious, matched
