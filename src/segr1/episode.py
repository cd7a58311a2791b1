"""Refinement episodes: the policy answers, the frozen segmenter makes the mask, the policy is
shown that mask and answers again. The ONE definition of an episode: training
(:mod:`segr1.train.episodes`), ``segr1 predict`` and ``segr1 eval`` (:class:`segr1.Pipeline`
with ``max_turns > 1``) all run :func:`run_episodes`.

An episode has at most ``max_turns`` turns:

* turn 1 is today's single-turn prompt (the answer format's template), unchanged;
* after each answer, the environment turns it into a mask through the shared answers -> mask
  path (:func:`segr1.segment.answers.segment_answers_many`; training and evaluation each pass
  their own ``segment`` callable built on it) and, unless the episode ends, shows the policy
  :func:`observation` - the S x S image it saw with that mask tinted and its boxes and labelled
  points drawn (:func:`segr1.overlay.draw_overlay`) - together with our refinement instruction
  (:data:`segr1.protocol.templates.REFINE_TEXT`, :func:`~segr1.protocol.templates.refine_messages`);
* the policy answers again in the same answer format (any Seg-R1 / Qwen-VL checkpoint can run
  an episode zero-shot: nothing new to write);
* the episode ends after ``max_turns`` answers, or as soon as the policy KEEPS its answer
  (:func:`keeps`): a turn whose parsed prompts - boxes, points, labels and the abstention flag,
  not the think text - equal the previous turn's. Two unparseable answers in a row also count as
  a keep (the same, empty, prompts); an unparseable answer after a usable one is a revision.

The episode's final answer is its last turn's (after a keep it holds the same prompts as the
turn before it, hence the same mask); its final mask is what evaluation saves and what the
training reward scores. ``max_turns=1`` is exactly the single-turn protocol.

A policy takes part through two calls (:class:`EpisodePolicy`): ``answer(indices)`` writes the
next answer of each listed episode, ``show(index, answer, image)`` appends the environment's
reply (the answer that was just given, then the observation image with the instruction) to that
episode's context. Inference keeps chat messages and renders them with the processor's chat
template; training keeps token ids, so that the loss sees exactly what was generated, and masks
the environment's tokens out of it.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from segr1.protocol.parse import Answer

#: How the episode ends early, in words (for reports and --help).
KEEP_RULE = (
    "an episode ends early when a turn's parsed prompts (boxes, points, labels, abstention; not "
    "the think text) equal the previous turn's: the policy kept its answer"
)


def same_prompts(a: Answer, b: Answer) -> bool:
    """Whether two answers prompt the segmenter identically (think text ignored)."""
    return (a.boxes, a.points, a.labels, a.abstain) == (b.boxes, b.points, b.labels, b.abstain)


def keeps(previous: Answer, answer: Answer) -> bool:
    """The keep rule (module docstring): ``answer`` repeats ``previous``'s prompts."""
    return same_prompts(previous, answer)


def revised(answers: Sequence[Answer]) -> bool:
    """Whether some answer after the first changed the prompts (did not keep)."""
    return any(not keeps(a, b) for a, b in itertools.pairwise(answers))


def kept(answers: Sequence[Answer]) -> bool:
    """Whether the last answer kept the one before it (the episode ended by a keep)."""
    return len(answers) > 1 and keeps(answers[-2], answers[-1])


def observation(square: np.ndarray, mask: np.ndarray, answer: Answer, side: int) -> np.ndarray:
    """What the policy is shown after an answer: ``square`` ((S, S, 3) uint8, the image it saw)
    with ``mask`` ((S, S) bool) tinted and the answer's boxes and points (S x S frame) drawn."""
    from segr1.overlay import draw_overlay

    return draw_overlay(square, mask, answer, side=side)


@dataclass(frozen=True)
class Turn:
    """One answer of an episode: its text, what it says, the (S, S) mask it made (what the policy
    is shown) and the driver's own record of it (inference: a :class:`segr1.Prediction`)."""

    text: str
    answer: Answer
    mask: np.ndarray
    record: Any = None


@dataclass
class Episode:
    """The turns of one episode, in order (at least one once run)."""

    turns: list[Turn] = field(default_factory=list)

    @property
    def final(self) -> Turn:
        return self.turns[-1]

    @property
    def kept(self) -> bool:
        """Ended by a keep (not by the turn limit)."""
        return kept([t.answer for t in self.turns])

    @property
    def revised(self) -> bool:
        """Some turn after the first changed the prompts."""
        return revised([t.answer for t in self.turns])


class EpisodePolicy(Protocol):
    """How a driver lets its policy take part in episodes (see the module docstring)."""

    def answer(self, indices: Sequence[int]) -> list[str]:
        """The next answer of each episode in ``indices`` (in that order)."""

    def show(self, index: int, answer: str, image: np.ndarray) -> None:
        """Append ``answer`` and the environment's reply (``image`` + instruction) to episode
        ``index``'s context."""


#: ``segment(indices, texts, answers) -> (masks, records)``: each answer's (S, S) bool mask (what
#: the policy is shown) and the driver's record of it, for the episodes in ``indices``.
SegmentTurn = Callable[
    [Sequence[int], Sequence[str], Sequence[Answer]], tuple[list[np.ndarray], list[Any]]
]


def run_episodes(
    policy: EpisodePolicy,
    segment: SegmentTurn,
    squares: Sequence[np.ndarray],
    *,
    max_turns: int,
    parse: Callable[[str], Answer],
    side: int,
) -> list[Episode]:
    """Run one episode per image of ``squares`` ((S, S, 3) uint8, what the policy sees), all
    turns of all episodes batched together, and return them (see the module docstring)."""
    if max_turns < 1:
        raise ValueError(f"max_turns must be at least 1, got {max_turns}")
    episodes = [Episode() for _ in squares]
    active = list(range(len(squares)))
    for turn in range(max_turns):
        texts = policy.answer(active)
        answers = [parse(t) for t in texts]
        masks, records = segment(active, texts, answers)
        still = []
        for i, text, answer, mask, record in zip(
            active, texts, answers, masks, records, strict=True
        ):
            episode = episodes[i]
            previous = episode.turns[-1].answer if episode.turns else None
            episode.turns.append(Turn(text, answer, mask, record))
            if previous is not None and keeps(previous, answer):
                continue
            if turn + 1 < max_turns:
                policy.show(i, text, observation(squares[i], mask, answer, side))
                still.append(i)
        active = still
        if not active:
            break
    return episodes


def turn_summary(episodes: Sequence[Episode]) -> dict[str, float]:
    """``mean_turns``, ``revised_rate`` and ``kept_rate`` of a set of episodes."""
    n = max(len(episodes), 1)
    return {
        "mean_turns": sum(len(e.turns) for e in episodes) / n,
        "revised_rate": sum(e.revised for e in episodes) / n,
        "kept_rate": sum(e.kept for e in episodes) / n,
    }
