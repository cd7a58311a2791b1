"""TRL reward callables: completion text -> parse -> frozen segmenter -> mask -> reward.

Signature (TRL's): ``reward(prompts, completions, **dataset_columns) -> list[float]``. The
dataset columns used here arrive by name as lists, one entry per completion:

* ``image``: the S x S image the policy saw (PIL image, array, or path);
* ``mask``: the ground-truth mask (PIL "L" image, array 0..255, or path), any size: it is
  resized to S x S (bilinear, then ``> 127``) as in the released recipe.

Rewards (SEG-R1.md section 4):

* :func:`format_reward` - 1.0 when points, labels and at least one box parse and a
  ``<think>...</think>`` pair is present; :func:`prerl_format_reward` - 1.0 when points and
  labels parse.
* :class:`SegmentationReward` - ``w_iou * IoU + w_s * clip(S, 0, 1)`` on the S x S mask.
  ``variant="smeasure"`` (default) uses the true S-measure; ``variant="released"`` reproduces
  what the released code optimised because of its double-thresholded ground truth:
  ``w_iou * IoU + w_s * (1 - predicted area fraction)``. 0.0 when no box (for box tasks),
  points or labels parse, or there are zero points. Never None: a malformed answer scores 0.0
  and is counted in the logged parse rate.

The segmentation reward embeds each distinct image ONCE per call (the G completions of a GRPO
group share it) through the segmenter's embedding cache, and decodes all of that image's
prompt sets in one batched call. The same :mod:`segr1.metrics` functions score evaluation.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from PIL import Image

from segr1.imaging import stretch, to_rgb, upsample_mask
from segr1.metrics import iou, s_measure
from segr1.protocol.geometry import answer_prompts
from segr1.protocol.parse import Answer, parse_answer
from segr1.segment.base import Segmenter, image_key

Variant = Literal["smeasure", "released"]
VARIANTS: tuple[str, ...] = ("smeasure", "released")


def completion_text(completion: Any) -> str:
    """The assistant text of a completion: a string, or TRL's conversational message list."""
    if isinstance(completion, str):
        return completion
    if isinstance(completion, dict):
        completion = [completion]
    parts: list[str] = []
    for message in completion:
        content = message.get("content", "") if isinstance(message, dict) else message
        if isinstance(content, str):
            parts.append(content)
        elif isinstance(content, list):
            parts.extend(p.get("text", "") for p in content if isinstance(p, dict))
    return "".join(parts)


def format_reward(completions: Sequence[Any], **_: Any) -> list[float]:
    """1.0 when boxes, points, labels and a think pair are all present and well formed."""
    return [float(parse_answer(completion_text(c)).format_ok) for c in completions]


def prerl_format_reward(completions: Sequence[Any], **_: Any) -> list[float]:
    """Pre-RL (points only): 1.0 when points and labels parse with equal counts."""
    return [float(parse_answer(completion_text(c)).prerl_format_ok) for c in completions]


def point_count_reward(completions: Sequence[Any], target: int = 8, **_: Any) -> list[float]:
    """``exp(-(n - target)^2 / 8)`` for n parsed points (unused by the released runs)."""
    out = []
    for c in completions:
        n = len(parse_answer(completion_text(c)).points)
        out.append(math.exp(-((n - target) ** 2) / 8.0))
    return out


def as_rgb(image: Any, side: int | None = None) -> np.ndarray:
    """PIL / array / path -> (side, side, 3) uint8 RGB (stretched when ``side`` is given)."""
    if isinstance(image, str | os.PathLike):
        from segr1.data.io import read_image

        image = read_image(image)
    rgb = to_rgb(image)
    return rgb if side is None else stretch(rgb, side)


def gt_mask(mask: Any, side: int | None = None) -> np.ndarray:
    """PIL / array / path -> (side, side) bool: bilinear resize of the 0..255 mask, then > 127."""
    if isinstance(mask, str | os.PathLike):
        from segr1.data.io import read_mask

        mask = read_mask(mask)
    arr = np.asarray(mask.convert("L") if isinstance(mask, Image.Image) else mask)
    if arr.dtype == bool or (arr.size and arr.max() <= 1):
        arr = arr.astype(np.uint8) * 255
    return upsample_mask(arr.astype(np.uint8), (side, side) if side else arr.shape[::-1])


@dataclass(frozen=True)
class Scored:
    """What the segmentation reward saw for one completion (kept for the rollout log)."""

    answer: Answer
    scoreable: bool
    iou: float
    s: float
    reward: float


class SegmentationReward:
    """The mask-quality reward; owns the frozen segmenter (built once, not per call)."""

    def __init__(
        self,
        segmenter: Segmenter,
        side: int = 768,
        w_iou: float = 0.7,
        w_s: float = 0.3,
        variant: Variant = "smeasure",
        task: str = "foreground",
    ) -> None:
        if variant not in VARIANTS:
            raise ValueError(f"unknown reward variant {variant!r}; choose one of {VARIANTS}")
        self.segmenter = segmenter
        self.side = side
        self.w_iou, self.w_s = w_iou, w_s
        self.variant = variant
        self.needs_box = task != "prerl"
        self.__name__ = "segmentation" if variant == "smeasure" else "segmentation_released"
        self.last: list[Scored] = []  # the most recent call, for rollout logs

    def scoreable(self, answer: Answer) -> bool:
        if not answer.points_parsed or not answer.points:
            return False
        return bool(answer.boxes) or not self.needs_box

    def score_masks(self, pred: np.ndarray, gt: np.ndarray) -> tuple[float, float, float]:
        """(reward, IoU, structure part) for one (S, S) bool prediction."""
        j = iou(pred, gt)
        if self.variant == "released":
            s = 1.0 - float(pred.mean())
        else:
            s = min(max(s_measure(pred, gt), 0.0), 1.0)
        return self.w_iou * j + self.w_s * s, j, s

    def score_group(self, image: np.ndarray, gt: np.ndarray, answers: list[Answer]) -> list[Scored]:
        """Score the answers written for one (S, S, 3) image: one embedding, one batched decode."""
        out = [Scored(a, False, 0.0, 0.0, 0.0) for a in answers]
        todo = [i for i, a in enumerate(answers) if self.scoreable(a)]
        if not todo:
            return out
        frame = (self.side, self.side)
        prompt_sets = [
            answer_prompts(answers[i].boxes, answers[i].points, answers[i].labels, self.side, frame)
            for i in todo
        ]
        embedding = self.segmenter.embed_cached(image)
        masks = self.segmenter.segment(embedding, prompt_sets)  # (P, S, S)
        for i, pred in zip(todo, masks, strict=True):
            reward, j, s = self.score_masks(pred, gt)
            out[i] = Scored(answers[i], True, j, s, reward)
        return out

    def __call__(
        self,
        prompts: Sequence[Any] | None = None,
        completions: Sequence[Any] = (),
        image: Sequence[Any] | None = None,
        mask: Sequence[Any] | None = None,
        log_metric: Callable[[str, float], None] | None = None,
        log_extra: Callable[[str, list], None] | None = None,
        **_: Any,
    ) -> list[float]:
        if image is None or mask is None:
            raise ValueError(
                "the segmentation reward needs the dataset columns 'image' and 'mask' "
                "(one per completion); build the training set with segr1.data.to_hf_dataset"
            )
        answers = [parse_answer(completion_text(c)) for c in completions]
        scored: list[Scored | None] = [None] * len(answers)
        groups: dict[bytes, list[int]] = {}
        pixels: dict[bytes, np.ndarray] = {}
        for i, img in enumerate(image):
            arr = as_rgb(img, self.side)
            key = image_key(arr)
            groups.setdefault(key, []).append(i)
            pixels.setdefault(key, arr)
        for key, idxs in groups.items():
            gt = gt_mask(mask[idxs[0]], self.side)
            group = self.score_group(pixels[key], gt, [answers[i] for i in idxs])
            for i, s in zip(idxs, group, strict=True):
                scored[i] = s
        self.last = [s for s in scored if s is not None]
        if log_metric is not None and self.last:
            n = len(self.last)
            log_metric("parse_rate", sum(s.scoreable for s in self.last) / n)
            log_metric("format_rate", sum(s.answer.format_ok for s in self.last) / n)
            log_metric("mean_iou", sum(s.iou for s in self.last) / n)
        if log_extra is not None:
            log_extra("iou", [round(s.iou, 4) for s in self.last])
        return [s.reward for s in self.last]


def build_rewards(
    segmenter: Segmenter,
    side: int = 768,
    variant: Variant = "smeasure",
    w_iou: float = 0.7,
    w_s: float = 0.3,
    task: str = "foreground",
) -> list[Callable[..., list[float]]]:
    """The released recipe's reward list: [format, segmentation], summed with equal weight."""
    fmt = prerl_format_reward if task == "prerl" else format_reward
    return [fmt, SegmentationReward(segmenter, side, w_iou, w_s, variant, task)]
