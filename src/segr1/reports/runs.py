"""Finished run folders -> report entries.

A RUN_DIR given to ``segr1 report`` is either one run folder (it holds ``metrics.json``) or a
multi-dataset ``segr1 eval`` output whose direct subfolders are run folders. Each run folder
gives one :class:`Entry` (its masks: ``metrics``) and, when it was made with ``--save-prob``,
a second one (its probability maps: ``metrics_prob``, labelled ``<label> (prob)``). Numbers are
read from ``metrics.json`` and curves from ``curves.json``, never recomputed.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from segr1.curves import read_curves

METRICS_NAME = "metrics.json"
PROB_SUFFIX = " (prob)"


@dataclass(frozen=True)
class Entry:
    """One row of a report on one dataset: a label, the numbers, the curves, where from."""

    label: str
    dataset: str
    task: str
    metrics: dict[str, float]
    curves: dict[str, np.ndarray] = field(default_factory=dict)  # {} without curves.json
    folder: Path = Path()
    about: dict[str, Any] = field(default_factory=dict)


def run_folders(path: str | Path) -> list[Path]:
    """``path`` itself when it is a run folder, else its direct subfolders that are (sorted)."""
    root = Path(path)
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: no such run folder")
    if (root / METRICS_NAME).exists():
        return [root]
    found = sorted(p for p in root.iterdir() if (p / METRICS_NAME).exists())
    if not found:
        raise FileNotFoundError(
            f"{root}: neither a finished run (no {METRICS_NAME}) nor a folder of runs; give "
            "what segr1 eval --out wrote, after it finished"
        )
    return found


def read_entries(folder: Path, label: str) -> list[Entry]:
    """The entries of one run folder (masks, and probability maps when saved)."""
    path = folder / METRICS_NAME
    try:
        result = json.loads(path.read_text(encoding="utf-8"))
        metrics, task, dataset = result["metrics"], result["task"], result["dataset"]
    except (json.JSONDecodeError, KeyError, TypeError) as e:
        raise ValueError(f"{path}: not a segr1 eval metrics file ({e})") from None
    about = {k: result.get(k) for k in ("model", "segmenter", "profile", "count", "sampling")}
    curves = read_curves(folder)
    out = [Entry(label, dataset, task, metrics, curves.get("masks", {}), folder, about)]
    if result.get("metrics_prob"):
        out.append(Entry(label + PROB_SUFFIX, dataset, task, result["metrics_prob"],
                         curves.get("probabilities", {}), folder, about))  # fmt: skip
    return out


def collect_entries(paths: Sequence[str | Path], labels: Sequence[str] = ()) -> list[Entry]:
    """Every entry under ``paths``; ``labels``: one per path (default: the folder names).
    Two entries with one label on one dataset are an error (give distinct --label values)."""
    if labels and len(labels) != len(paths):
        raise ValueError(f"{len(labels)} --label value(s) for {len(paths)} run folder(s)")
    entries: list[Entry] = []
    for i, path in enumerate(paths):
        label = labels[i] if labels else Path(path).resolve().name
        for folder in run_folders(path):
            entries += read_entries(folder, label)
    seen: dict[tuple[str, str], Path] = {}
    for e in entries:
        key = (e.label, e.dataset)
        if key in seen:
            raise ValueError(
                f"two runs labelled {e.label!r} on {e.dataset!r} ({seen[key]} and {e.folder}); "
                "give each RUN_DIR its own --label"
            )
        seen[key] = e.folder
    return entries
