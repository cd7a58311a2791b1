"""Answers -> masks: the ONE path the training reward and the inference pipeline share.

:func:`segment_answers` takes parsed answers (written in the policy's S x S frame) and the image
the segmenter should embed, and returns one mask per answer:

* an answer that fails the answer format's gate (:attr:`Answer.usable`: a box or a point) gets
  an empty mask; it is never dropped, so ``masks[i]`` always belongs to ``answers[i]``;
* the usable answers' prompts are scaled from the S x S frame to the image's frame, and decoded
  against ONE embedding of the image (through the segmenter's cache) in ONE batched call;
* the image is embedded only when at least one answer is usable.

:func:`segment_answers_many` is the same for several images at once (the reward's distinct
images of a GRPO step, an evaluation batch): the images with a usable answer are embedded in
ONE batched encoder call (:meth:`Segmenter.embed_many_cached`). :func:`segment_answers` is
that function for one image.

:func:`segment_rows` takes one (image, answer) row at a time, as the reward and the refinement
episodes hold them: rows that show the same image (by content: the G completions of a GRPO
group, the G episodes of one image) share one embedding and one batched decode.

With ``return_prob=True`` segment_answers and segment_answers_many also return each answer's mask probability (the segmenter's,
combined by the same rule, union = max; zeros for an unusable answer): ``segr1 eval
--save-prob`` and the web app take soft masks from here, never from a second path.

The reward passes the S x S image (masks ``(P, S, S)``); the pipeline passes the S x S image too
(``segment_at="model"``, then upsamples with :func:`segr1.imaging.resize_levels`) or the original
image (``segment_at="original"``, masks at the original size).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from segr1.protocol.geometry import Prompts, answer_prompts
from segr1.protocol.parse import Answer
from segr1.segment.base import Segmenter, image_key


def usable_prompts(
    answers: Sequence[Answer], side: int, size: tuple[int, int], joint: bool
) -> list[Prompts | None]:
    """Each answer's prompts in the ``size = (W, H)`` frame, or None when it is not usable."""
    return [answer_prompts(a, side, size, joint) for a in answers]


def segment_answers(
    segmenter: Segmenter,
    image: np.ndarray,
    answers: Sequence[Answer],
    *,
    side: int,
    joint: bool = False,
    return_prob: bool = False,
) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """``(P, H, W)`` bool: the mask each answer's prompts give on ``image`` (``(H, W, 3)`` uint8
    RGB). ``side``: the S of the frame the answers are written in. ``joint``: the released
    ReasonSeg rule (one call: the first box with all points) instead of the per-box rule.
    ``return_prob``: also the ``(P, H, W)`` float32 probabilities (see the module docstring)."""
    found = segment_answers_many(
        segmenter, [image], [answers], side=side, joint=joint, return_prob=return_prob
    )
    return (found[0][0], found[1][0]) if return_prob else found[0]


def segment_answers_many(
    segmenter: Segmenter,
    images: Sequence[np.ndarray],
    answers: Sequence[Sequence[Answer]],
    *,
    side: int,
    joint: bool = False,
    return_prob: bool = False,
) -> list[np.ndarray] | tuple[list[np.ndarray], list[np.ndarray]]:
    """One ``(P_i, H_i, W_i)`` bool array per image: :func:`segment_answers` of
    ``(images[i], answers[i])``, with every image that has a usable answer embedded in ONE
    batched encoder call, then one batched decode per image. ``return_prob``: also one
    ``(P_i, H_i, W_i)`` float32 probability array per image."""
    if len(images) != len(answers):
        raise ValueError(f"{len(images)} images but {len(answers)} answer lists")
    masks, probs, sets = [], [], []
    for image, group in zip(images, answers, strict=True):
        h, w = image.shape[:2]
        masks.append(np.zeros((len(group), h, w), dtype=bool))  # (P, H, W)
        probs.append(np.zeros((len(group), h, w), dtype=np.float32) if return_prob else None)
        sets.append(usable_prompts(group, side, (w, h), joint))
    todo = [i for i, s in enumerate(sets) if any(p is not None for p in s)]
    embeddings = segmenter.embed_many_cached([images[i] for i in todo]) if todo else []
    for i, embedding in zip(todo, embeddings, strict=True):
        rows = [k for k, p in enumerate(sets[i]) if p is not None]
        found = segmenter.segment(embedding, [sets[i][k] for k in rows], return_prob=return_prob)
        if return_prob:
            masks[i][rows], probs[i][rows] = found  # (P', H, W) each
        else:
            masks[i][rows] = found  # (P', H, W)
    return (masks, probs) if return_prob else masks


def segment_rows(
    segmenter: Segmenter,
    images: Sequence[np.ndarray],
    answers: Sequence[Answer],
    *,
    side: int,
    joint: bool = False,
) -> list[np.ndarray]:
    """``(H_i, W_i)`` bool: the mask of ``answers[i]`` on ``images[i]``, one row each. Rows
    showing the same image (same pixels) are decoded together against one embedding; all
    distinct images are embedded in ONE batched encoder call (:func:`segment_answers_many`)."""
    if len(images) != len(answers):
        raise ValueError(f"{len(images)} images but {len(answers)} answers")
    by_image: dict[bytes, list[int]] = {}
    for i, image in enumerate(images):
        by_image.setdefault(image_key(image), []).append(i)
    groups = segment_answers_many(
        segmenter,
        [images[rows[0]] for rows in by_image.values()],
        [[answers[i] for i in rows] for rows in by_image.values()],
        side=side,
        joint=joint,
    )  # one (P, H, W) per distinct image
    masks: list[np.ndarray] = [np.zeros(0, bool)] * len(answers)
    for rows, group in zip(by_image.values(), groups, strict=True):
        for i, mask in zip(rows, group, strict=True):
            masks[i] = mask
    return masks
