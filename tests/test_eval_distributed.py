"""``segr1 eval`` in two processes (``accelerate launch``, gloo, CPU), killed and resumed, ends
with exactly the files and report of one process.

The tiny answering policy (tests/answering.py) writes a usable answer of its own for each of the
10 images of ``wide_root``, and GrabCut turns it into a real, non-empty mask, so a mask written
under the wrong id, lost, or predicted twice would change the compared files. The kill is a
SIGKILL that rank 0 sends itself before its 2nd batch and rank 1 before its 3rd (the launcher
then stops the other rank wherever it is)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from launch import launch_command, launch_env
from segr1.cli import app
from segr1.data.io import read_mask
from segr1.evaluate import read_records

SIDE = 96
HERE = Path(__file__).resolve().parent


def eval_args(policy: Path, root: Path, out: Path) -> list[str]:
    return [
        "eval", "--model", str(policy), "--dataset", "folder",
        "--images", str(root / "images"), "--masks", str(root / "masks"),
        "--out", str(out), "--side", str(SIDE), "--batch-size", "1",
    ]  # fmt: skip


def launch(target: list[str], args: list[str], **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*launch_command(2), *target, *args],
        env=launch_env(**env),
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_two_processes_killed_and_resumed_equal_one_process(
    answering_policy_dir, wide_root, tmp_path
):
    one = tmp_path / "one"
    res = CliRunner().invoke(app, eval_args(answering_policy_dir, wide_root, one))
    assert res.exit_code == 0, res.output
    ids = sorted(p.stem for p in (one / "masks").glob("*.png"))
    assert len(ids) == 10 and sum(read_mask(one / "masks" / f"{i}.png").any() for i in ids) >= 8

    two = tmp_path / "two"
    args = eval_args(answering_policy_dir, wide_root, two)
    killed = launch(
        [str(HERE / "eval_killed.py")], args, KILL_BEFORE_BATCH_0="1", KILL_BEFORE_BATCH_1="2"
    )
    assert killed.returncode != 0, killed.stdout[-2000:]
    assert not (two / "metrics.json").exists() and not (two / "completions.jsonl").exists()
    logs = {r: read_records(two / f"completions.rank{r}.jsonl") for r in (0, 1)}
    assert len(logs[0]) == 1 and 1 <= len(logs[1]) <= 2, logs  # each rank stopped early
    order = [
        json.loads(line)["id"] for line in (one / "completions.jsonl").read_text().splitlines()
    ]
    assert set(logs[0]) == {order[0]} and set(logs[1]) <= set(order[1::2])  # own shards
    before = {i: (two / "masks" / f"{i}.png").stat().st_mtime_ns for r in logs for i in logs[r]}

    resumed = launch(["-m", "segr1.cli"], args)
    assert resumed.returncode == 0, resumed.stdout[-2000:] + resumed.stderr[-4000:]
    assert "rank 1: predicted its share" in resumed.stdout
    for i, mtime in before.items():  # finished before the kill: not predicted again
        assert (two / "masks" / f"{i}.png").stat().st_mtime_ns == mtime, i
    assert not list(two.glob("completions.rank*.jsonl"))  # merged into completions.jsonl
    assert (two / "completions.jsonl").read_text() == (one / "completions.jsonl").read_text()
    for i in ids:
        np.testing.assert_array_equal(
            read_mask(two / "masks" / f"{i}.png"), read_mask(one / "masks" / f"{i}.png")
        )
    assert json.loads((two / "metrics.json").read_text()) == json.loads(
        (one / "metrics.json").read_text()
    )
    assert (two / "report.md").read_text() == (one / "report.md").read_text()


def test_one_process_resumes_what_ranks_left_and_merges_their_logs(
    answering_policy_dir, wide_root, tmp_path
):
    """Another process count on resume: rank logs left by a killed 2-process run (made here
    from a finished run's log) are read as done, merged into completions.jsonl and removed."""
    out = tmp_path / "run"
    args = eval_args(answering_policy_dir, wide_root, out)
    assert CliRunner().invoke(app, args).exit_code == 0
    full = (out / "completions.jsonl").read_text()
    metrics = json.loads((out / "metrics.json").read_text())
    lines = full.splitlines(keepends=True)
    (out / "completions.rank0.jsonl").write_text("".join(lines[0:6:2]))
    (out / "completions.rank1.jsonl").write_text("".join(lines[1:6:2]) + '{"id": "torn')
    (out / "completions.jsonl").unlink()
    (out / "metrics.json").unlink()
    done = [json.loads(line)["id"] for line in lines[:6]]
    for line in lines[6:]:  # not finished: their masks are gone too
        (out / "masks" / f"{json.loads(line)['id']}.png").unlink()
    before = {i: (out / "masks" / f"{i}.png").stat().st_mtime_ns for i in done}
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    assert (out / "completions.jsonl").read_text() == full
    assert not list(out.glob("completions.rank*.jsonl"))
    assert json.loads((out / "metrics.json").read_text()) == metrics
    assert all((out / "masks" / f"{i}.png").stat().st_mtime_ns == t for i, t in before.items())


def test_ranks_shard_devices_and_logs():
    from segr1.ranks import Ranks

    items = list(range(7))
    shards = [Ranks(r, 3).shard(items) for r in range(3)]
    assert shards == [[0, 3, 6], [1, 4], [2, 5]]
    assert Ranks().shard(items) == items and Ranks().log_name() == "completions.jsonl"
    assert Ranks(2, 3, local_rank=1).log_name() == "completions.rank2.jsonl"
    assert Ranks(2, 3, local_rank=1).device("cuda") == "cuda:1"
    assert Ranks(2, 3).device("cuda:5") == "cuda:5" and Ranks().device("cuda") == "cuda"
    with pytest.raises(ValueError, match="rank 3"):
        Ranks(3, 3)
