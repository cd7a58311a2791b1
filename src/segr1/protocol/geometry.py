"""Coordinates between the three frames Seg-R1 uses. numpy only, no torch.

* model frame: the S x S square the policy sees (the image stretched, aspect ratio ignored);
  answers are written in it.
* segmenter frame: whatever image the segmenter embeds (the S x S image in the released
  protocol, or the original image).
* original frame: the image as it was on disk (W x H).

Coordinates are continuous pixel positions: x in [0, width], y in [0, height]. Mapping between
frames scales each axis independently; out-of-frame values are clipped; a box whose corners
come reversed is reordered so that x1 <= x2 and y1 <= y2.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from segr1.protocol.parse import Answer

Size = tuple[int, int]  # (width, height)


@dataclass(frozen=True)
class Prompts:
    """One prompt set in one frame: ``boxes`` (K, 4) xyxy, ``points`` (N, 2) xy, ``labels`` (N,).

    ``joint`` selects how a segmenter combines them (``segr1.segment.base.plan_calls``): False
    is Seg-R1's per-box rule (each box with the points inside it, masks OR-ed); True is the
    released ReasonSeg evaluation's rule (ONE call: the first box with ALL the points).
    """

    boxes: np.ndarray
    points: np.ndarray
    labels: np.ndarray
    joint: bool = False

    @classmethod
    def empty(cls) -> Prompts:
        return cls(
            np.zeros((0, 4), np.float32), np.zeros((0, 2), np.float32), np.zeros(0, np.int64)
        )

    @property
    def is_empty(self) -> bool:
        return len(self.boxes) == 0 and len(self.points) == 0


def order_boxes(boxes: np.ndarray) -> np.ndarray:
    """(K, 4) -> (K, 4) with x1 <= x2 and y1 <= y2."""
    b = np.asarray(boxes, dtype=np.float32).reshape(-1, 4)
    return np.stack(
        [
            np.minimum(b[:, 0], b[:, 2]),
            np.minimum(b[:, 1], b[:, 3]),
            np.maximum(b[:, 0], b[:, 2]),
            np.maximum(b[:, 1], b[:, 3]),
        ],
        axis=1,
    )


def clip_points(points: np.ndarray, size: Size) -> np.ndarray:
    """(N, 2) xy clipped to [0, width] x [0, height]."""
    p = np.asarray(points, dtype=np.float32).reshape(-1, 2)
    w, h = size
    return np.stack([np.clip(p[:, 0], 0, w), np.clip(p[:, 1], 0, h)], axis=1)


def clip_boxes(boxes: np.ndarray, size: Size) -> np.ndarray:
    """(K, 4) ordered and clipped to the frame."""
    b = order_boxes(boxes)
    return np.concatenate([clip_points(b[:, :2], size), clip_points(b[:, 2:], size)], axis=1)


def scale_points(points: np.ndarray, src: Size, dst: Size) -> np.ndarray:
    """(N, 2) from frame ``src`` to frame ``dst`` (clipped to ``src`` first, then to ``dst``)."""
    p = clip_points(points, src)
    factor = np.array([dst[0] / src[0], dst[1] / src[1]], dtype=np.float32)
    return clip_points(p * factor, dst)


def scale_boxes(boxes: np.ndarray, src: Size, dst: Size) -> np.ndarray:
    """(K, 4) from frame ``src`` to frame ``dst`` (ordered, clipped on both sides)."""
    b = clip_boxes(boxes, src)
    return np.concatenate(
        [scale_points(b[:, :2], src, dst), scale_points(b[:, 2:], src, dst)], axis=1
    )


def square(side: int) -> Size:
    return (side, side)


def scale_prompts(
    boxes: Sequence[Sequence[float]],
    points: Sequence[Sequence[float]],
    labels: Sequence[int],
    model_side: int,
    target: Size,
    joint: bool = False,
) -> Prompts:
    """Prompts written in the S x S model frame -> ordered, clipped prompts in ``target``."""
    src = square(model_side)
    return Prompts(
        boxes=scale_boxes(np.asarray(boxes, np.float32).reshape(-1, 4), src, target),
        points=scale_points(np.asarray(points, np.float32).reshape(-1, 2), src, target),
        labels=np.asarray(labels, dtype=np.int64).reshape(-1),
        joint=joint,
    )


def answer_prompts(
    answer: Answer, model_side: int, target: Size, joint: bool = False
) -> Prompts | None:
    """The prompts of a usable answer (:attr:`Answer.usable`) in ``target``; None otherwise."""
    if not answer.usable:
        return None
    return scale_prompts(answer.boxes, answer.points, answer.labels, model_side, target, joint)


def original_prompts(answer: Answer, model_side: int, target: Size) -> Prompts:
    """Whatever the answer holds, mapped to ``target`` (for display and logs, usable or not)."""
    return scale_prompts(answer.boxes, answer.points, answer.labels, model_side, target)
