"""Answers -> masks: the ONE path the training reward and the inference pipeline share.

:func:`segment_answers` takes parsed answers (written in the policy's S x S frame) and the image
the segmenter should embed, and returns one mask per answer:

* an answer that fails the answer format's gate (:attr:`Answer.usable`: a box or a point) gets
  an empty mask; it is never dropped, so ``masks[i]`` always belongs to ``answers[i]``;
* the usable answers' prompts are scaled from the S x S frame to the image's frame, and decoded
  against ONE embedding of the image (through the segmenter's cache) in ONE batched call;
* the image is embedded only when at least one answer is usable.

With ``return_prob=True`` it also returns each answer's mask probability (the segmenter's,
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
from segr1.segment.base import Segmenter


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
    h, w = image.shape[:2]
    out = np.zeros((len(answers), h, w), dtype=bool)  # (P, H, W)
    prob = np.zeros((len(answers), h, w), dtype=np.float32) if return_prob else None
    sets = usable_prompts(answers, side, (w, h), joint)
    todo = [i for i, p in enumerate(sets) if p is not None]
    if todo:
        embedding = segmenter.embed_cached(image)
        found = segmenter.segment(embedding, [sets[i] for i in todo], return_prob=return_prob)
        if prob is None:
            out[todo] = found  # (P', H, W)
        else:
            out[todo], prob[todo] = found
    return out if prob is None else (out, prob)
