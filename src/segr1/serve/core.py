"""The web app's work without the web: one request (image, optional query, task) -> a
:class:`Result`. Gradio (:mod:`segr1.serve.app`) only displays it, so this is what the tests
check without a browser.

* The task comes from the query (:func:`choose_task`): none -> foreground (the released
  Seg-R1 task); a question (ends with "?" or starts with a question word) -> reasoning; any
  other text -> referring. The page's task selector overrides it.
* One loaded policy, processor and segmenter serve every task: :class:`Segr1Service` makes one
  :class:`~segr1.inference.Pipeline` per task over them (each with its template and side S).
* Everything goes through :meth:`Pipeline.segment_completions`, the evaluation's path; the
  overlay is :func:`segr1.overlay.draw_overlay`.

Multi-turn refinement (the policy is shown its mask and answers again) is a later issue: a
:class:`Result` already holds a list of :class:`Turn` s, the page already shows a per-turn
table, and :meth:`Segr1Service.segment` has the ``turns`` argument where the loop will go. With
one turn, as now, it is plain Seg-R1.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from segr1.inference import Pipeline, Prediction
from segr1.overlay import draw_overlay
from segr1.protocol.geometry import Prompts

TASK_CHOICES: tuple[str, ...] = ("auto", "foreground", "referring", "reasoning")
#: Small images are shown enlarged (whole-number factor, nearest) to at least this side.
DISPLAY_SIDE = 512
QUESTION_WORDS = ("what", "which", "where", "who", "whom", "whose", "how", "why", "when",
                  "can", "could", "is", "are", "does", "do")  # fmt: skip


def choose_task(query: str | None, choice: str = "auto") -> str:
    """The task for ``query`` (see the module docstring); ``choice`` other than auto wins."""
    if choice not in TASK_CHOICES:
        raise ValueError(f"task {choice!r}; choose one of {', '.join(TASK_CHOICES)}")
    if choice != "auto":
        return choice
    text = (query or "").strip()
    if not text:
        return "foreground"
    first = text.split()[0].lower().strip(",.;:")
    return "reasoning" if text.endswith("?") or first in QUESTION_WORDS else "referring"


@dataclass(frozen=True)
class Turn:
    """One answer of the policy and what the segmenter made of it."""

    index: int  # 1-based
    prediction: Prediction
    overlay: np.ndarray  # (h, w, 3) uint8, see display_overlay


@dataclass(frozen=True)
class Result:
    """A request's outcome: the task used and its turns (one per answer)."""

    task: str
    query: str | None
    turns: list[Turn]

    @property
    def final(self) -> Turn:
        return self.turns[-1]

    def prompts(self) -> dict[str, Any]:
        """The final answer as parsed, and its prompts in the image's pixel frame."""
        pred = self.final.prediction
        return {"task": self.task, "query": self.query, **pred.to_dict()}

    def turn_rows(self) -> list[list[Any]]:
        """One row per turn: index, boxes, points (label), mask area, usable."""
        rows = []
        for t in self.turns:
            p = t.prediction
            points = [f"{x:g},{y:g} ({int(lab)})"
                      for (x, y), lab in zip(p.prompts.points.tolist(), p.prompts.labels.tolist(),
                                             strict=True)]  # fmt: skip
            boxes = "; ".join(",".join(f"{v:g}" for v in b) for b in p.prompts.boxes.tolist())
            rows.append([t.index, boxes or "-", "; ".join(points) or "-", int(p.mask.sum()),
                         "yes" if p.usable else "no"])  # fmt: skip
        return rows


class Segr1Service:
    """One loaded policy + segmenter serving every task (see the module docstring).

    ``base``: a Pipeline (its model, processor, segmenter and profile are shared); ``side``:
    S for every task, or None for each task's default; ``pipeline_kw``: other Pipeline
    arguments (``stage``, ``max_new_tokens``)."""

    def __init__(self, base: Pipeline, side: int | None = None, **pipeline_kw: Any) -> None:
        self.base, self.side, self.pipeline_kw = base, side, pipeline_kw
        self._pipelines: dict[str, Pipeline] = {}

    def pipeline(self, task: str) -> Pipeline:
        from segr1.eval_many import shared_pipeline
        from segr1.prompting import default_side

        if task not in self._pipelines:
            side = self.side or default_side(task)
            self._pipelines[task] = shared_pipeline(
                self.base, task, side, profile=self.base.profile, **self.pipeline_kw
            )
        return self._pipelines[task]

    def segment(
        self, image: np.ndarray, query: str | None = None, task: str = "auto", turns: int = 1
    ) -> Result:
        """Segment ``image`` ((H, W, 3) uint8 RGB) for ``query`` under ``task``."""
        if turns != 1:
            raise NotImplementedError(
                "multi-turn refinement is not in this version of segr1 (a later issue): the "
                "policy-sees-its-mask loop goes here, appending one Turn per answer"
            )
        query = (query or "").strip() or None
        chosen = choose_task(query, task)
        pipe = self.pipeline(chosen)
        pipe.template.user_text(query)  # a referring / reasoning task without a query fails here
        pred = pipe.predict_batch([image], [query], is_sentence=True)[0]
        return Result(chosen, query, [Turn(1, pred, display_overlay(image, pred))])


def display_overlay(image: np.ndarray, pred: Prediction, side: int = DISPLAY_SIDE) -> np.ndarray:
    """:func:`draw_overlay` of ``pred`` on ``image``; an image whose longer side is under
    ``side`` is first enlarged by a whole factor (nearest: pixels stay pixels), so small images
    show their points and boxes legibly. The downloadable mask keeps the image's size."""
    factor = max(1, -(-side // max(image.shape[:2])))  # ceil
    if factor == 1:
        return draw_overlay(image, pred.mask, pred.prompts)
    big = np.repeat(np.repeat(image, factor, axis=0), factor, axis=1)
    mask = np.repeat(np.repeat(pred.mask, factor, axis=0), factor, axis=1)
    p = pred.prompts
    prompts = Prompts(p.boxes * factor, p.points * factor, p.labels, p.joint)
    return draw_overlay(big, mask, prompts)


def cache_dir() -> Path:
    """segr1's cache folder: ``$SEGR1_CACHE``, else ``$XDG_CACHE_HOME/segr1`` or
    ``~/.cache/segr1``."""
    if os.environ.get("SEGR1_CACHE"):
        return Path(os.environ["SEGR1_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "segr1"


def default_policy() -> Path:
    """The tiny offline policy (random weights; answers are not meaningful), built once into
    the cache folder: what ``segr1 serve`` runs when no ``--model`` is given."""
    from segr1.policy import build_tiny_policy

    folder = cache_dir() / "tiny-policy-qwen2_5_vl-seed0"
    if not (folder / "config.json").exists():
        build_tiny_policy(folder, arch="qwen2_5_vl", seed=0)
    return folder


def example_images(count: int = 3, size: int = 256) -> list[Path]:
    """A few generated scenes (synthetic camouflage / salient objects) to pick in the page."""
    from PIL import Image

    from segr1.data.synth import scene
    from segr1.data.synth_scene import SynthConfig

    folder = cache_dir() / f"examples-{size}"
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    kinds = ("camouflage", "salient", "camouflage", "salient")
    for i in range(count):
        path = folder / f"synthetic-{i}.png"
        if not path.exists():
            img = scene(7, "test", i, kinds[i % len(kinds)], SynthConfig(size=size)).image
            Image.fromarray(img).save(path)
        paths.append(path)
    return paths
