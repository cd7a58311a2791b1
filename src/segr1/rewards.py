"""TRL reward callables: completion text -> parse -> frozen segmenter -> mask -> reward.

Signature (TRL's): ``reward(prompts, completions, **dataset_columns) -> list[float]``. The
dataset columns used here arrive by name as lists, one entry per completion:

* ``image``: the S x S image the policy saw (PIL image, array, or path; any other size is
  stretched with :func:`segr1.imaging.stretch`, the one stretch inference uses too);
* ``mask``: THIS row's ground truth (PIL image, array, or path), any size. It is read as levels
  (:func:`segr1.imaging.mask_levels`: a 0/1 mask is 0/255), resized to S x S
  (:func:`segr1.imaging.resize_levels`) and binarised (:func:`segr1.imaging.binarize`), the
  conventions evaluation uses. Each completion is scored against its own row's mask: two rows
  with one image and different masks (two RefCOCO expressions) never share a ground truth.

Rewards (SEG-R1.md section 4):

* :func:`format_reward` - 1.0 when points, labels and at least one box parse and a
  ``<think>...</think>`` pair is present; :func:`prerl_format_reward` - 1.0 when points and
  labels parse.

Refinement episodes (:mod:`segr1.episode`; a completion is ``[assistant, user, assistant,
...]``): the format rewards require EVERY answer to pass; the segmentation reward scores the
FINAL answer's mask, and also logs each turn's IoU (``iou_turn1``, ``iou_gain``,
``mean_turns``, ``revised_rate``; ``turn_ious`` in the rollout log). A single-turn completion
is scored exactly as before.
* :class:`SegmentationReward` - ``w_iou * IoU + w_s * clip(S, 0, 1)`` on the S x S mask.
  ``variant="smeasure"`` (default) uses the true S-measure; ``variant="released"`` reproduces
  what the released code optimised because of its double-thresholded ground truth:
  ``w_iou * IoU + w_s * (1 - predicted area fraction)``. Never None. Two gates, both the answer
  format's: an answer that is not :attr:`~segr1.protocol.Answer.usable` (no box, no point) gets
  an empty mask, as in evaluation; a usable answer that is not
  :meth:`~segr1.protocol.Answer.rewardable` (no parsed point, or no box on a box task: SEG-R1.md
  4) keeps its mask (its IoU is logged) but scores 0.0. ``usable_rate`` and ``rewardable_rate``
  are logged.

Masks come from :func:`segr1.segment.answers.segment_answers_many`, the function the inference
pipeline calls: each distinct image is embedded ONCE per call (the G completions of a GRPO group
share it; the distinct images of the call go through the encoder in one batch) and all of its
answers are decoded in one batched call. With a segmenter cache, its hit rate and size are
logged (``embed_cache_hit_rate``, ``embed_cache_mb``). IoU and S-measure are the
:mod:`segr1.metrics` functions evaluation uses.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from segr1.imaging import binarize, mask_levels, resize_levels, stretch, to_rgb
from segr1.metrics import iou, s_measure
from segr1.protocol.formats import AnswerFormat, get_format
from segr1.protocol.parse import Answer, parse_answer
from segr1.segment.answers import segment_rows
from segr1.segment.base import Segmenter

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


def assistant_texts(completion: Any) -> list[str]:
    """The policy's answers in a completion, in order: one for a single-turn completion (a
    string, or TRL's ``[assistant message]``), one per assistant message for a refinement
    episode (``[assistant, user (the environment's reply), assistant, ...]``,
    :mod:`segr1.episode`)."""
    if isinstance(completion, list) and len(completion) > 1:
        turns = [
            completion_text(m)
            for m in completion
            if isinstance(m, dict) and m.get("role", "assistant") == "assistant"
        ]
        if turns:
            return turns
    return [completion_text(completion)]


def final_text(completion: Any) -> str:
    """The last answer of a completion (the only one of a single-turn completion)."""
    return assistant_texts(completion)[-1]


def format_reward(completions: Sequence[Any], **_: Any) -> list[float]:
    """1.0 when boxes, points, labels and a think pair are all present and well formed (in
    every answer of a refinement episode)."""
    return [float(all(parse_answer(t).format_ok for t in assistant_texts(c))) for c in completions]


def prerl_format_reward(completions: Sequence[Any], **_: Any) -> list[float]:
    """Pre-RL (points only): 1.0 when points and labels parse with equal counts (in every
    answer of a refinement episode)."""
    return [
        float(all(parse_answer(t).prerl_format_ok for t in assistant_texts(c))) for c in completions
    ]


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
    """PIL / array / path -> (side, side) bool ground truth (levels, bilinear resize, > 128)."""
    if isinstance(mask, str | os.PathLike):
        from segr1.data.io import read_mask

        levels = read_mask(mask)
    else:
        levels = mask_levels(mask)
    return binarize(resize_levels(levels, (side, side)) if side else levels)


@dataclass(frozen=True)
class Scored:
    """What the segmentation reward saw for one completion (kept for the rollout log)."""

    answer: Answer
    rewardable: bool
    iou: float
    s: float
    reward: float
    turn_ious: tuple[float, ...] = ()  # a refinement episode: the IoU of each turn's mask


class SegmentationReward:
    """The mask-quality reward; owns the frozen segmenter (built once, not per call)."""

    def __init__(
        self,
        segmenter: Segmenter,
        side: int = 768,
        w_iou: float = 0.7,
        w_s: float = 0.3,
        variant: Variant = "smeasure",
        needs_box: bool = True,
        answer_format: str | AnswerFormat = "seg-r1",
    ) -> None:
        if variant not in VARIANTS:
            raise ValueError(f"unknown reward variant {variant!r}; choose one of {VARIANTS}")
        self.format = get_format(answer_format)
        self.segmenter = segmenter
        self.side = side
        self.w_iou, self.w_s = w_iou, w_s
        self.variant = variant
        self.needs_box = needs_box
        self.__name__ = "segmentation" if variant == "smeasure" else "segmentation_released"
        self.last: list[Scored] = []  # the most recent call, for rollout logs

    def score_mask(self, pred: np.ndarray, gt: np.ndarray) -> tuple[float, float, float]:
        """(reward, IoU, structure part) for one (S, S) bool prediction against (S, S) bool gt."""
        j = iou(pred, gt)
        if self.variant == "released":
            s = 1.0 - float(pred.mean())
        else:
            s = min(max(s_measure(pred, gt), 0.0), 1.0)
        return self.w_iou * j + self.w_s * s, j, s

    def score(
        self, images: Sequence[Any], masks: Sequence[Any], answers: list[Answer]
    ) -> list[Scored]:
        """Score ``answers[i]`` on ``images[i]`` against ``masks[i]`` (one row each). Rows that
        show the same image share one embedding and one batched decode."""
        squares = [as_rgb(img, self.side) for img in images]  # (S, S, 3) each
        # (S, S) each; the distinct images embedded in one batched call
        preds = segment_rows(self.segmenter, squares, answers, side=self.side)
        gts: dict[int, np.ndarray] = {}  # TRL repeats a row's mask object G times: convert once
        out = []
        for i, answer in enumerate(answers):
            if not (answer.usable or answer.abstain):
                out.append(Scored(answer, False, 0.0, 0.0, 0.0))
                continue
            key = id(masks[i])
            if key not in gts:
                gts[key] = gt_mask(masks[i], self.side)
            if answer.abstain:  # "no target": all of it when right, nothing when an object exists
                right = not gts[key].any()
                full = self.w_iou + self.w_s
                out.append(Scored(answer, True, float(right), float(right), full * right))
                continue
            reward, j, s = self.score_mask(preds[i], gts[key])
            ok = answer.rewardable(self.needs_box)
            out.append(Scored(answer, ok, j, s, reward if ok else 0.0))
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
        if not len(image) == len(mask) == len(completions):
            raise ValueError(
                f"{len(completions)} completions but {len(image)} images and {len(mask)} masks"
            )
        turns = [[self.format.parse(t) for t in assistant_texts(c)] for c in completions]
        self.last = self.score(image, mask, [t[-1] for t in turns])  # the FINAL answers
        if any(len(t) > 1 for t in turns):
            self.last = self._with_turns(image, mask, turns, log_metric)
        if log_metric is not None and self.last:
            n = len(self.last)
            log_metric("usable_rate", sum(s.answer.usable for s in self.last) / n)
            log_metric("rewardable_rate", sum(s.rewardable for s in self.last) / n)
            log_metric("abstain_rate", sum(s.answer.abstain for s in self.last) / n)
            log_metric("mean_iou", sum(s.iou for s in self.last) / n)
            cache = getattr(self.segmenter, "cache", None)
            if cache is not None:
                stats = cache.stats()
                log_metric("embed_cache_hit_rate", stats.hit_rate)
                log_metric("embed_cache_mb", stats.bytes / 1e6)
        if log_extra is not None:
            log_extra("iou", [round(s.iou, 4) for s in self.last])
        return [s.reward for s in self.last]

    def _with_turns(
        self,
        images: Sequence[Any],
        masks: Sequence[Any],
        turns: list[list[Answer]],
        log_metric: Callable[[str, float], None] | None,
    ) -> list[Scored]:
        """Refinement episodes: the IoU of every turn's mask (the segmenter's cache serves the
        embedding again), logged as ``iou_turn<k>`` / ``iou_gain`` (final - turn 1) with
        ``mean_turns`` and ``revised_rate``; the reward stays the final answer's."""
        from dataclasses import replace

        from segr1.episode import revised

        ious: list[list[float]] = [[] for _ in turns]
        for k in range(max(len(t) for t in turns) - 1):
            rows = [i for i, t in enumerate(turns) if len(t) > k + 1]
            scored = self.score(
                [images[i] for i in rows], [masks[i] for i in rows], [turns[i][k] for i in rows]
            )
            for i, sc in zip(rows, scored, strict=True):
                ious[i].append(sc.iou)
        out = [
            replace(s, turn_ious=(*ious[i], s.iou)) for i, s in enumerate(self.last)
        ]  # the last turn is the final answer, already scored
        if log_metric is not None:
            n = len(out)
            log_metric("iou_turn1", sum(s.turn_ious[0] for s in out) / n)
            log_metric("iou_gain", sum(s.iou - s.turn_ious[0] for s in out) / n)
            log_metric("mean_turns", sum(len(t) for t in turns) / n)
            log_metric("revised_rate", sum(map(revised, turns)) / n)
        return out


class FormatReward:
    """1.0 when a completion passes its answer format's own format check
    (:meth:`AnswerFormat.format_ok`): Seg-R1's ``format_reward`` condition, or the JSON formats'
    thinking format."""

    def __init__(self, answer_format: str | AnswerFormat = "seg-r1") -> None:
        self.format = get_format(answer_format)
        self.__name__ = "format_reward" if self.format.name == "seg-r1" else "thinking_format"

    def __call__(self, completions: Sequence[Any] = (), **_: Any) -> list[float]:
        return [
            float(all(self.format.format_ok(t) for t in assistant_texts(c))) for c in completions
        ]


#: Reward names a config can list (``rewards:``), besides the format's own defaults.
REWARD_NAMES: tuple[str, ...] = (
    "format",
    "thinking_format",
    "segmentation",
    "segmentation_format",
    "accuracy",
    "non_repetition",
)


def build_rewards(
    segmenter: Segmenter,
    side: int = 768,
    variant: Variant = "smeasure",
    w_iou: float = 0.7,
    w_s: float = 0.3,
    needs_box: bool = True,
    answer_format: str | AnswerFormat = "seg-r1",
    names: Sequence[str] = (),
) -> list[Callable[..., list[float]]]:
    """The reward callables, summed with equal weight by default. ``names`` (from
    :data:`REWARD_NAMES`) picks them; empty: the answer format's own set (Seg-R1: [format,
    segmentation], the released recipe; Seg-Zero / VisionReasoner: their four object rewards).
    The mask reward (``segmentation``) works with any format. ``needs_box=False`` is the
    points-only pre-RL stage."""
    from segr1 import rewards_objects as objects

    fmt = get_format(answer_format)
    out: list[Callable[..., list[float]]] = []
    for name in names or fmt.native_rewards:
        if name in ("format", "thinking_format"):
            pre = fmt.name == "seg-r1" and not needs_box
            out.append(prerl_format_reward if pre else FormatReward(fmt))
        elif name == "segmentation":
            out.append(SegmentationReward(segmenter, side, w_iou, w_s, variant, needs_box, fmt))
        elif name == "segmentation_format":
            out.append(objects.SegmentationFormatReward(fmt))
        elif name == "accuracy":
            out.append(objects.AccuracyReward(fmt, side))
        elif name == "non_repetition":
            out.append(objects.non_repetition_reward)
        else:
            raise ValueError(f"unknown reward {name!r}; choose from {', '.join(REWARD_NAMES)}")
    return out
