"""The training set: prompt column per task, error naming the dataset, disk datasets in order."""

from __future__ import annotations

from pathlib import Path

import datasets
import pytest

from segr1.protocol.templates import SYSTEM_PROMPT_TRAIN, Template
from segr1.train.config import DatasetSpec
from segr1.train.data import add_prompts, build_train_dataset
from test_train_support import toy_dataset, write_toy_cod10k


def _rows(tasks: list[str], queries: list[str]) -> datasets.Dataset:
    n = len(tasks)
    return datasets.Dataset.from_dict(
        {
            "id": [f"s{i}" for i in range(n)],
            "query": queries,
            "is_sentence": [True] * n,
            "task": tasks,
        }
    )


def test_prompts_follow_the_task() -> None:
    rows = _rows(["foreground", "referring"], ["", "the red frog"])
    auto = add_prompts(rows, "auto")
    assert auto[0]["prompt"][0]["content"][0]["text"] == SYSTEM_PROMPT_TRAIN
    assert "Identify and segment the red frog" in auto[1]["prompt"][1]["content"][1]["text"]
    prerl = add_prompts(rows, "prerl")
    assert [m["role"] for m in prerl[0]["prompt"]] == ["user"]  # no system prompt in pre-RL
    assert prerl[0]["prompt"][0]["content"][1]["text"] == Template("prerl").user_text()
    assert prerl[0]["prompt"][0]["content"][0]["type"] == "image"


def test_missing_query_names_the_dataset() -> None:
    with pytest.raises(ValueError, match=r"refcoco-mini: .*needs a query"):
        add_prompts(_rows(["referring"], [""]), "auto", "refcoco-mini")


def test_disk_datasets_concatenate_in_order(tmp_path: Path) -> None:
    a = write_toy_cod10k(tmp_path / "a", n=2, seed=0)
    b = write_toy_cod10k(tmp_path / "b", n=3, seed=1)
    specs = [DatasetSpec("cod10k", str(a), "train"), DatasetSpec("cod10k", str(b), "train")]
    ds = build_train_dataset(specs, "foreground", side=32)
    assert len(ds) == 5 and ds[0]["image"].size == (32, 32) and ds[0]["mask"].mode == "L"
    assert {"prompt", "image", "mask", "id"} <= set(ds.column_names)
    assert ds.column_names == toy_dataset(1).column_names
    with pytest.raises(ValueError, match="no training data"):
        build_train_dataset([], "foreground", side=32)
