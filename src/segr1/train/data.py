"""The GRPO training set: dataset specs -> one ``datasets.Dataset`` TRL reads by column name.

Columns: ``prompt`` (conversational messages from
the answer format's training template (:func:`segr1.protocol.formats.template_for`, stage
"train"; Seg-R1: ``segr1.protocol.templates.Template``), one image placeholder) plus the
columns of :func:`segr1.data.to_hf_dataset`: ``image`` (PIL, S x S: TRL puts it in the prompt
and hands it to the rewards), ``mask`` (PIL "L", S x S), ``id``, ``query``, ``is_sentence``,
``task``. TRL passes every column but ``prompt`` to each reward call as a keyword list with one
entry per completion, so the rewards see the image, the mask and the sample id.

Task ``auto`` asks each row with its own task (foreground / referring / reasoning) and query.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from segr1.protocol.formats import template_for

if TYPE_CHECKING:
    import datasets

    from segr1.train.config import DatasetSpec


def prompt_messages(
    task: str,
    row_task: str,
    query: str,
    is_sentence: bool,
    answer_format: str = "seg-r1",
    abstain: bool = False,
) -> list[dict]:
    """The chat messages of one row (``task="auto"``: the row's own task)."""
    chosen = row_task if task == "auto" else task
    return template_for(answer_format, chosen, "train", abstain).messages(
        query or None, is_sentence
    )


def add_prompts(
    ds: datasets.Dataset,
    task: str,
    label: str = "dataset",
    answer_format: str = "seg-r1",
    abstain: bool = False,
) -> datasets.Dataset:
    """Add the ``prompt`` column. Reads only the text columns (images stay undecoded)."""

    def one(row_task: str, query: str, is_sentence: bool) -> dict[str, Any]:
        try:
            messages = prompt_messages(task, row_task, query, is_sentence, answer_format, abstain)
            return {"prompt": messages}
        except ValueError as e:
            raise ValueError(f"{label}: {e} (task={task!r}; set task: foreground or auto)") from e

    return ds.map(
        one,
        input_columns=["task", "query", "is_sentence"],
        desc="prompts",
        load_from_cache_file=False,
    )


def check_specs(specs: Sequence[DatasetSpec]) -> list[int]:
    """List every spec's samples (file names only, no pixels): a missing root, an empty dataset
    or an unpaired file fails here, naming the spec, before any model loads. Returns the counts."""
    from segr1.data.registry import load_dataset

    if not specs:
        raise ValueError(
            "no training data: set datasets (YAML list of {name, root, split}, or "
            "--datasets name:root:split)"
        )
    counts = []
    for spec in specs:
        label = f"dataset {spec.name}:{spec.root}:{spec.split}"
        try:
            samples = load_dataset(spec.name, spec.root, spec.split)
        except (ValueError, OSError, TypeError) as e:
            raise ValueError(f"{label}: {e}") from e
        if not samples:
            raise ValueError(f"{label}: no samples found")
        counts.append(len(samples))
    return counts


def load_spec(spec: DatasetSpec, side: int) -> datasets.Dataset:
    """One dataset spec -> the columns of :func:`segr1.data.to_hf_dataset` at ``side``."""
    from segr1.data.hf import to_hf_dataset
    from segr1.data.registry import load_dataset

    samples = load_dataset(spec.name, spec.root, spec.split)
    if not samples:
        raise ValueError(f"dataset {spec.name} at {spec.root} (split {spec.split}) has no samples")
    return to_hf_dataset(samples, side)


def build_train_dataset(
    specs: Sequence[DatasetSpec],
    task: str,
    side: int,
    answer_format: str = "seg-r1",
    abstain: bool = False,
) -> datasets.Dataset:
    """Concatenate ``specs`` (in order) at ``side`` and add the prompt column (in
    ``answer_format``'s training template)."""
    import datasets

    if not specs:
        raise ValueError(
            "no training data: set datasets (YAML list of {name, root, split}, or "
            "--datasets name:root:split)"
        )
    parts = [
        add_prompts(
            load_spec(s, side), task, f"{s.name}:{s.root}:{s.split}", answer_format, abstain
        )
        for s in specs
    ]
    return parts[0] if len(parts) == 1 else datasets.concatenate_datasets(parts)
