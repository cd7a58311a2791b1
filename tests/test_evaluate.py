"""`segr1 eval` end to end: tiny offline policy + GrabCut on a generated COD-style folder,
interrupted and resumed, giving the same report as an uninterrupted run."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from segr1.cli import app
from segr1.data.registry import load_dataset
from segr1.evaluate import evaluate, read_records
from segr1.inference import Pipeline


class Interrupt(Exception):
    pass


class StopsAfter:
    """Wraps a real Pipeline and raises after ``n`` batches, as a kill would."""

    def __init__(self, pipe, n):
        self.pipe, self.n, self.side = pipe, n, pipe.side

    def predict_batch(self, *args, **kwargs):
        if self.n == 0:
            raise Interrupt
        self.n -= 1
        return self.pipe.predict_batch(*args, **kwargs)


@pytest.fixture(scope="module")
def pipe(tiny_policy_dir):
    return Pipeline.from_pretrained(
        str(tiny_policy_dir), segmenter="grabcut", side=96, max_new_tokens=24, stage="train"
    )


def test_interrupted_and_resumed_equals_uninterrupted(pipe, synth_root, tmp_path):
    samples = load_dataset("synth", synth_root, split="test")
    full = evaluate(pipe, samples, tmp_path / "full", batch_size=4, progress=False)
    assert full["count"] == len(samples) == 10

    with pytest.raises(Interrupt):
        evaluate(StopsAfter(pipe, 1), samples, tmp_path / "resumed", batch_size=4, progress=False)
    assert len(read_records(tmp_path / "resumed" / "completions.jsonl")) == 4
    with (tmp_path / "resumed" / "completions.jsonl").open("a") as f:
        f.write('{"id": "torn')  # a line cut by the kill
    resumed = evaluate(pipe, samples, tmp_path / "resumed", batch_size=4, progress=False)
    assert resumed == full
    lines = (tmp_path / "resumed" / "completions.jsonl").read_text().splitlines()
    assert len(lines) == 10 and all(json.loads(line)["id"] for line in lines)
    assert sorted(p.stem for p in (tmp_path / "resumed" / "masks").glob("*.png")) == sorted(
        s.id for s in samples
    )


def test_report_matches_score_of_written_masks_and_counts_everything(pipe, synth_root, tmp_path):
    from segr1.scoring import score_folders

    samples = load_dataset("synth", synth_root, split="test")
    result = evaluate(pipe, samples, tmp_path, batch_size=5, progress=False)
    rescored = score_folders(tmp_path / "masks", synth_root / "Test" / "GT_Object")
    for key in ("Sm", "MAE", "meanEm", "wFm", "IoU"):
        assert result["metrics"][key] == pytest.approx(rescored[key], abs=1e-9)
    # the random policy rarely writes a usable answer: those are empty masks, still counted
    assert result["count"] == 10 and 0 <= result["unparseable"] <= 10
    report = (tmp_path / "report.md").read_text()
    assert "Conventions" in report and "unparseable" in report


def test_eval_cli(tiny_policy_dir, synth_root, tmp_path):
    res = CliRunner().invoke(
        app,
        [
            "eval",
            "--model", str(tiny_policy_dir),
            "--dataset", "synth",
            "--root", str(synth_root),
            "--out", str(tmp_path),
            "--side", "96",
            "--max-new-tokens", "16",
            "--limit", "3",
        ],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    assert json.loads((tmp_path / "metrics.json").read_text())["count"] == 3
