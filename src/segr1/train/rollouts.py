"""The rollout log: every completion of every N-th step, as JSON lines, so reward hacking shows.

:func:`with_rollout_log` wraps the reward callables TRL receives. Each wrapper calls its reward
unchanged (same name, same output, so TRL's ``rewards/<name>/mean`` logs are untouched) and
records the output; after the LAST reward of a batch has run, one row per completion is appended
to ``output_dir/rollouts.jsonl``::

    {"step": 12, "process": 0, "id": "cam_0042", "completion": "<think>...",
     "prompts": {"boxes": [[...]], "points": [[...]], "labels": [...], "format_ok": true, ...},
     "rewards": {"format_reward": 1.0, "segmentation": 0.61}, "reward": 1.61,
     "iou": 0.58, "s": 0.67}

``step`` is the number of optimizer steps done when the batch was generated (TRL's
``trainer_state.global_step``); rows are written when ``step % every == 0``. ``iou`` and ``s``
come from the segmentation reward's record of its last call (``.last``). ``reward`` is the
weighted sum TRL optimises. In a multi-process run each process appends its own completions with
one ``write`` on an ``O_APPEND`` descriptor, so lines never interleave.

A refinement episode (``max_turns > 1``) logs its FINAL answer as ``completion`` / ``prompts``,
and every answer in ``turns`` (``[{"completion", "prompts"}, ...]``) with each turn's IoU in
``turn_ious``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from segr1.outdirs import write_atomic
from segr1.protocol.formats import get_format
from segr1.rewards import assistant_texts

ROLLOUTS_NAME = "rollouts.jsonl"
Reward = Callable[..., list[float]]


class RolloutLog:
    """Collects the reward outputs of one batch and appends them to a JSON-lines file."""

    def __init__(
        self,
        path: str | Path,
        every: int,
        names: Sequence[str],
        weights: Sequence[float] | None = None,
        process: int = 0,
        answer_format: str = "seg-r1",
    ) -> None:
        if every <= 0:
            raise ValueError("every must be positive")
        self.path = Path(path)
        self.every = every
        self.names = list(names)
        self.weights = list(weights) if weights is not None else [1.0] * len(self.names)
        if len(self.weights) != len(self.names):
            raise ValueError(f"{len(self.weights)} reward weights for {len(self.names)} rewards")
        self.process = process
        self.format = get_format(answer_format)
        self._outputs: dict[str, list[float]] = {}
        self._details: dict[str, list] = {}

    def due(self, kwargs: dict[str, Any]) -> bool:
        state = kwargs.get("trainer_state")
        step = getattr(state, "global_step", 0) if state is not None else 0
        return step % self.every == 0

    def record(self, name: str, outputs: list[float], details: list | None) -> None:
        self._outputs[name] = list(outputs)
        if details is not None and len(details) == len(outputs):
            self._details[name] = details

    def flush(self, completions: Sequence[Any], kwargs: dict[str, Any]) -> None:
        """Write one row per completion, then forget the batch."""
        try:
            rows = self.rows(completions, kwargs)
        finally:
            self._outputs, self._details = {}, {}
        self.append(rows)

    def rows(self, completions: Sequence[Any], kwargs: dict[str, Any]) -> list[dict[str, Any]]:
        state = kwargs.get("trainer_state")
        step = int(getattr(state, "global_step", 0)) if state is not None else 0
        ids = kwargs.get("id") or [None] * len(completions)
        out = []
        for i, completion in enumerate(completions):
            turns = assistant_texts(completion)
            text = turns[-1]  # the (final) answer
            parts = {n: _num(self._outputs[n][i]) for n in self.names if n in self._outputs}
            total = sum(
                w * (parts.get(n) or 0.0) for n, w in zip(self.names, self.weights, strict=True)
            )
            row = {
                "step": step,
                "process": self.process,
                "id": ids[i],
                "completion": text,
                "prompts": self.format.parse(text).to_dict(),
                "rewards": parts,
                "reward": round(total, 6),
            }
            if len(turns) > 1:  # a refinement episode: every answer, in order
                row["turns"] = [
                    {"completion": t, "prompts": self.format.parse(t).to_dict()} for t in turns
                ]
            for details in self._details.values():
                scored = details[i]
                row["iou"] = round(float(scored.iou), 6)
                row["s"] = round(float(scored.s), 6)
                if scored.turn_ious:
                    row["turn_ious"] = [round(float(x), 6) for x in scored.turn_ious]
            out.append(row)
        return out

    def append(self, rows: list[dict[str, Any]]) -> None:
        if not rows:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        data = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows).encode()
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, data)
        finally:
            os.close(fd)


def set_aside(path: str | Path) -> Path | None:
    """Rename an existing log to the first free ``rollouts.jsonl.N`` (a fresh run into a folder
    that holds an earlier run's log); returns the new name, or None when there was none."""
    path = Path(path)
    if not path.exists():
        return None
    n = 1
    while path.with_name(f"{path.name}.{n}").exists():
        n += 1
    return path.rename(path.with_name(f"{path.name}.{n}"))


def trim_rollout_log(path: str | Path, before_step: int) -> int:
    """Keep the rows of the log at ``path`` generated before step ``before_step``: a run
    resuming from a checkpoint saved at that step generates the later steps again, so the
    interrupted run's rows of them would be logged twice. A torn last line (a run killed
    mid-write) goes too. Rewritten atomically; returns how many rows were dropped."""
    path = Path(path)
    if not path.exists():
        return 0
    kept, dropped = [], 0
    for line in path.read_text(encoding="utf-8").splitlines(keepends=True):
        try:
            step = json.loads(line)["step"]
        except (ValueError, KeyError, TypeError):
            step = None
        if isinstance(step, int) and step < before_step and line.endswith("\n"):
            kept.append(line)
        else:
            dropped += 1
    if dropped:
        write_atomic(path, "".join(kept))
    return dropped


def _num(x: Any) -> float | None:
    """A JSON-safe reward value (None stays None, NaN becomes None)."""
    if x is None:
        return None
    x = float(x)
    return None if x != x else round(x, 6)


class Recorded:
    """A reward callable that also reports its outputs to a :class:`RolloutLog`."""

    def __init__(self, reward: Reward, log: RolloutLog, last: bool) -> None:
        self.reward = reward
        self.log = log
        self.last = last
        self.__name__ = getattr(reward, "__name__", type(reward).__name__)

    def __call__(self, prompts=None, completions=(), **kwargs: Any) -> list[float]:
        outputs = self.reward(prompts=prompts, completions=completions, **kwargs)
        if self.log.due(kwargs):
            details = getattr(self.reward, "last", None)
            self.log.record(self.__name__, outputs, details)
            if self.last:
                self.log.flush(completions, kwargs)
        return outputs


def with_rollout_log(
    rewards: Sequence[Reward],
    path: str | Path,
    every: int,
    weights: Sequence[float] | None = None,
    process: int = 0,
    answer_format: str = "seg-r1",
) -> list[Recorded]:
    """Wrap ``rewards`` (in TRL's calling order) so every ``every``-th step is logged to ``path``
    (answers read in ``answer_format``)."""
    names = [getattr(r, "__name__", type(r).__name__) for r in rewards]
    log = RolloutLog(path, every, names, weights, process, answer_format)
    return [Recorded(r, log, last=i == len(rewards) - 1) for i, r in enumerate(rewards)]
