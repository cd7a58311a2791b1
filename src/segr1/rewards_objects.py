"""The object rewards of Seg-Zero / VisionReasoner (SEG-R1.md section 7), for ANY answer format.

No segmenter in the loop: an answer's objects (:meth:`AnswerFormat.objects`: a box and a point
each, in the S x S frame) are compared with the ground truth's objects. TRL's signature:
``reward(prompts, completions, **dataset_columns) -> list[float]``; the rewards read the ``mask``
column (this row's ground truth).

* :class:`SegmentationFormatReward`: per object, 1 for a well-formed 4-number box plus 1 for a
  well-formed 2-number point, averaged over the answer's objects (0 to 2; 0 without objects).
* :class:`AccuracyReward`: predicted objects are matched to ground-truth objects (Hungarian,
  ``scipy.optimize.linear_sum_assignment``) minimising ``3 - (box IoU > 0.5) - (box L1 < 10 px)
  - (point within 30 px of the ground-truth point AND inside its own predicted box)``; the
  reward is the matched pairs' sum of those three terms divided by ``max(#pred, #gt)`` (0 to
  3). "Box L1" is the mean absolute difference of the four coordinates. An abstention on an
  empty ground truth scores 3 (all right); an abstention where an object exists, or objects on
  an empty ground truth, 0.
* :func:`non_repetition_reward`: 1, or 0 once a ``.``-separated sentence appears twice.

Ground-truth objects: the connected components (8-connected) of this row's mask at S x S, each
of at least :data:`MIN_OBJECT_PIXELS` pixels; its box is its bounding box (exclusive right and
bottom edges, as answers write boxes) and its point the centre of its largest inscribed circle
(the maximum of its distance transform). A dataset with instance annotations whose instances
touch would merge them here: components, not instances, are the objects.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from segr1.protocol.formats import AnswerFormat, Obj, get_format
from segr1.rewards import final_text, gt_mask

MIN_OBJECT_PIXELS = 16
IOU_HIT, L1_HIT, POINT_HIT = 0.5, 10.0, 30.0


def gt_objects(mask: np.ndarray) -> list[Obj]:
    """The objects of an ``(S, S)`` bool ground truth (see the module docstring)."""
    import cv2

    n, labels, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    objs = []
    for k in range(1, n):
        if stats[k, cv2.CC_STAT_AREA] < MIN_OBJECT_PIXELS:
            continue
        x, y, w, h = (int(v) for v in stats[k, :4])
        component = (labels == k).astype(np.uint8)
        dist = cv2.distanceTransform(np.pad(component, 1), cv2.DIST_L2, 5)[1:-1, 1:-1]
        py, px = np.unravel_index(int(np.argmax(dist)), dist.shape)
        objs.append(Obj([x, y, x + w, y + h], [int(px), int(py)]))
    return objs


def box_iou(a: Sequence[float], b: Sequence[float]) -> float:
    ax1, ay1, ax2, ay2 = min(a[0], a[2]), min(a[1], a[3]), max(a[0], a[2]), max(a[1], a[3])
    bx1, by1, bx2, by2 = min(b[0], b[2]), min(b[1], b[3]), max(b[0], b[2]), max(b[1], b[3])
    iw, ih = max(0.0, min(ax2, bx2) - max(ax1, bx1)), max(0.0, min(ay2, by2) - max(ay1, by1))
    inter = iw * ih
    union = (ax2 - ax1) * (ay2 - ay1) + (bx2 - bx1) * (by2 - by1) - inter
    return inter / union if union > 0 else 0.0


def pair_score(pred: Obj, gt: Obj) -> int:
    """The three hits (0 to 3) of a predicted object against a ground-truth object."""
    if pred.box is None:
        return 0
    hits = int(box_iou(pred.box, gt.box) > IOU_HIT)
    hits += int(float(np.mean(np.abs(np.subtract(pred.box, gt.box)))) < L1_HIT)
    if pred.point is not None:
        x1, y1, x2, y2 = pred.box
        inside = min(x1, x2) <= pred.point[0] <= max(x1, x2)
        inside = inside and min(y1, y2) <= pred.point[1] <= max(y1, y2)
        near = float(np.hypot(pred.point[0] - gt.point[0], pred.point[1] - gt.point[1]))
        hits += int(inside and near < POINT_HIT)
    return hits


def accuracy(pred: Sequence[Obj], gt: Sequence[Obj]) -> float:
    """Hungarian-matched hits over ``max(#pred, #gt)`` (see the module docstring)."""
    from scipy.optimize import linear_sum_assignment

    if not pred or not gt:
        return 0.0
    scores = np.array([[pair_score(p, g) for g in gt] for p in pred])  # (P, G)
    rows, cols = linear_sum_assignment(3 - scores)
    return float(scores[rows, cols].sum()) / max(len(pred), len(gt))


class SegmentationFormatReward:
    """Per object: a well-formed box (1) plus a well-formed point (1), averaged over objects."""

    def __init__(self, answer_format: str | AnswerFormat) -> None:
        self.format = get_format(answer_format)
        self.__name__ = "segmentation_format"

    def __call__(self, completions: Sequence[Any] = (), **_: Any) -> list[float]:
        out = []
        for c in completions:
            objs = self.format.objects(final_text(c))
            hits = [(o.box is not None) + (o.point is not None) for o in objs]
            out.append(float(np.mean(hits)) if hits else 0.0)
        return out


class AccuracyReward:
    """Hungarian-matched box and point hits against this row's ground-truth objects."""

    def __init__(self, answer_format: str | AnswerFormat, side: int) -> None:
        self.format = get_format(answer_format)
        self.side = side
        self.__name__ = "accuracy"

    def __call__(
        self, completions: Sequence[Any] = (), mask: Sequence[Any] | None = None, **_: Any
    ) -> list[float]:
        if mask is None or len(mask) != len(completions):
            raise ValueError("the accuracy reward needs the dataset column 'mask' (one per row)")
        truths: dict[int, list[Obj]] = {}  # TRL repeats a row's mask object G times
        out = []
        for c, m in zip(completions, mask, strict=True):
            if id(m) not in truths:
                truths[id(m)] = gt_objects(gt_mask(m, self.side))
            gt, text = truths[id(m)], final_text(c)
            if self.format.parse(text).abstain:
                out.append(3.0 if not gt else 0.0)
                continue
            out.append(accuracy(self.format.objects(text), gt))
        return out


def non_repetition_reward(completions: Sequence[Any] = (), **_: Any) -> list[float]:
    """1.0, or 0.0 once a ``.``-separated sentence appears twice in the completion."""
    out = []
    for c in completions:
        sentences = [s.strip() for s in final_text(c).split(".")]
        seen: set[str] = set()
        repeated = False
        for s in sentences:
            if s and s in seen:
                repeated = True
                break
            seen.add(s)
        out.append(0.0 if repeated else 1.0)
    return out
