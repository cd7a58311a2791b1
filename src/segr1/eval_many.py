"""Several datasets in one ``segr1 eval``: ``--dataset cod10k,camo,nc4k,chameleon``.

:func:`parse_datasets` reads the list (``NAME`` or ``NAME:SPLIT``, e.g. ``dis5k:dis-te1``);
:func:`evaluate_datasets` loads the policy and segmenter ONCE and runs
:func:`segr1.evaluate.evaluate` per dataset, each into its own run folder:

* one dataset: ``OUT`` itself (as before);
* several: ``OUT/<label>`` per dataset (``label`` = the name, or ``name-split``), each a complete,
  resumable run folder (run.json, masks/, metrics.json, ...) that ``segr1 report OUT`` finds.

Datasets of different tasks (``cod10k,refcocog``) share the loaded model; each task gets its
own prompt template and side S (``--side`` or the task's default).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class DatasetChoice:
    """One entry of ``--dataset``: a registered name and an optional split."""

    name: str
    split: str | None = None

    @property
    def label(self) -> str:
        """The run folder's name under OUT (when several datasets are evaluated)."""
        return self.name if self.split is None else f"{self.name}-{self.split}"


def parse_datasets(text: str, split: str | None = None) -> list[DatasetChoice]:
    """``"cod10k,camo"`` / ``"dis5k:dis-te1,dis5k:dis-te2"`` -> choices; ``split`` (``--split``)
    applies to entries without their own. Empty entries and repeats are errors."""
    choices = []
    for item in (part.strip() for part in text.split(",")):
        if not item:
            raise ValueError(f"--dataset {text!r}: an empty name in the list")
        name, sep, own = item.partition(":")
        choices.append(DatasetChoice(name.strip(), own.strip() if sep else split))
    labels = [c.label for c in choices]
    repeated = sorted({x for x in labels if labels.count(x) > 1})
    if repeated:
        raise ValueError(f"--dataset {text!r}: {', '.join(repeated)} given more than once")
    return choices


def run_dir(out: str | Path, choices: Sequence[DatasetChoice], choice: DatasetChoice) -> Path:
    """Where ``choice``'s run goes: ``out`` for a single dataset, else ``out/<label>``."""
    return Path(out) if len(choices) == 1 else Path(out) / choice.label


def evaluate_datasets(
    choices: Sequence[DatasetChoice],
    out: str | Path,
    load_samples: Callable[[DatasetChoice], list],
    make_pipeline: Callable[[str, Any], Any],
    run: Callable[[Any, list, Path, DatasetChoice], dict[str, Any]],
) -> list[tuple[Path, dict[str, Any]]]:
    """Evaluate every choice, reusing one loaded model.

    ``load_samples(choice)`` -> the samples to evaluate (sampling and limit applied);
    ``make_pipeline(task, first)`` -> a Pipeline for ``task`` (``first``: the first pipeline
    made, whose model, processor and segmenter it should share, or None);
    ``run(pipeline, samples, run_dir, choice)`` -> :func:`segr1.evaluate.evaluate`'s result.
    Every dataset's samples are loaded (so a missing folder fails) before any model loads."""
    loaded = [(c, load_samples(c)) for c in choices]
    for choice, samples in loaded:
        if not samples:
            raise ValueError(f"{choice.label}: no samples to evaluate")
    pipelines: dict[str, Any] = {}
    first = None
    results = []
    for choice, samples in loaded:
        task = samples[0].task
        if task not in pipelines:
            pipelines[task] = make_pipeline(task, first)
            first = first or pipelines[task]
        folder = run_dir(out, choices, choice)
        results.append((folder, run(pipelines[task], samples, folder, choice)))
    return results


def shared_pipeline(first: Any, task: str, side: int, **kwargs: Any) -> Any:
    """A Pipeline for ``task`` over ``first``'s loaded policy, processor and segmenter."""
    from segr1.inference import Pipeline

    return Pipeline(first.model, first.processor, first.segmenter, task=task, side=side, **kwargs)
