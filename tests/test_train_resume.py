"""Checkpoints lose nothing: a run SIGKILLed mid-way and resumed with ``segr1 train --resume``
ends with the same step count, the same rollouts and the same weights as an uninterrupted run.

Tolerance: none needed on a CPU, the weights are compared with ``torch.equal`` (bitwise) after
both runs; the resumed steps' logged rewards must match to 1e-6. All three runs use one torch
thread, so reductions happen in the same order."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from segr1.train.config import CONFIG_NAME, parse_config
from segr1.train.main import train
from test_train_support import one_thread, tiny_args, warm, write_toy_cod10k

__all__ = ["one_thread", "warm"]

KILL_AT = """
import os, signal, sys
import torch
from transformers import TrainerCallback
from segr1.train.config import parse_config
from segr1.train.main import train

torch.set_num_threads(1)


class KillAt(TrainerCallback):
    # SIGKILL the process right after optimizer step N, before anything of step N is saved.
    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step == int(sys.argv[1]):
            os.kill(os.getpid(), signal.SIGKILL)


train(parse_config(sys.argv[2:]), callbacks=[KillAt()])
"""


def _run(args: list[str], **kw) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}
    return subprocess.run(args, env=env, capture_output=True, text=True, timeout=600, **kw)


def _history(run: Path, checkpoint: str) -> dict[int, dict]:
    state = json.loads((run / checkpoint / "trainer_state.json").read_text())
    return {h["step"]: h for h in state["log_history"] if "loss" in h}


def test_killed_run_resumes_to_the_same_result(tmp_path: Path, warm: Path, one_thread) -> None:
    import torch
    from safetensors.torch import load_file

    data = write_toy_cod10k(tmp_path / "COD10K-v3", n=4)

    def args(out: Path) -> list[str]:
        return tiny_args(
            out,
            warm,
            datasets=f"cod10k:{data}:train",
            segmenter="grabcut",
            max_steps=4,
            save_strategy="steps",
            save_steps=2,
            learning_rate=1e-4,
            beta=0.04,
        )

    # the reference: 4 uninterrupted steps
    reference = train(parse_config(args(tmp_path / "ref")))
    assert reference.global_step == 4

    # killed right after step 3: checkpoint-2 is the last one on disk
    run = tmp_path / "run"
    killed = _run([sys.executable, "-c", KILL_AT, "3", *args(run)])
    assert killed.returncode == -9, killed.stderr[-3000:]
    assert sorted(p.name for p in run.glob("checkpoint-*")) == ["checkpoint-2"]
    assert not (run / "final").exists()

    # resumed from the saved config with the CLI
    cmd = [sys.executable, "-m", "segr1.cli", "train", "--config", str(run / CONFIG_NAME)]
    resumed = _run([*cmd, "--resume"])
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "trained 4 steps" in resumed.stdout

    # it continued from checkpoint-2: step 2 was generated twice, before the kill and after
    # resuming, and the log keeps the resumed run's rows only, the same rows as the reference's
    def rows(folder: Path) -> list[tuple]:
        lines = (folder / "rollouts.jsonl").read_text().splitlines()
        return sorted((r["step"], r["id"], r["completion"], round(r["reward"], 6))
                      for r in map(json.loads, lines))  # fmt: skip

    steps = [r[0] for r in rows(run)]
    assert {s: steps.count(s) for s in set(steps)} == {0: 4, 1: 4, 2: 4, 3: 4}
    assert rows(run) == rows(tmp_path / "ref")
    assert "dropped 4 rows of steps >= 2" in resumed.stderr

    # same step count, same rollouts (rewards of the resumed steps), same weights
    ref_log, run_log = _history(tmp_path / "ref", "checkpoint-4"), _history(run, "checkpoint-4")
    assert sorted(run_log) == [1, 2, 3, 4]
    for step in (3, 4):
        for key in ("reward", "rewards/segmentation/mean", "completions/mean_length"):
            assert abs(run_log[step][key] - ref_log[step][key]) <= 1e-6, (step, key)
    a = load_file(str(reference.final_dir / "model.safetensors"))
    b = load_file(str(run / "final" / "model.safetensors"))
    assert a.keys() == b.keys()
    different = [k for k in a if not torch.equal(a[k], b[k])]
    assert not different, f"{len(different)} tensors differ, e.g. {different[:3]}"
    changed = [k for k in a if not torch.equal(a[k], load_file(str(warm / "model.safetensors"))[k])]
    assert changed, "the policy never changed: the comparison would be vacuous"


def test_the_rollout_log_keeps_the_steps_before_a_restart(tmp_path: Path) -> None:
    from segr1.train.rollouts import trim_rollout_log

    log = tmp_path / "rollouts.jsonl"
    assert trim_rollout_log(log, 0) == 0 and not log.exists()
    rows = [json.dumps({"step": s, "id": f"img{s}"}) + "\n" for s in (0, 0, 1, 2)]
    log.write_text("".join(rows) + '{"step": 3, "id": "to')  # killed mid-write
    assert trim_rollout_log(log, 2) == 2
    assert log.read_text() == "".join(rows[:3])
    assert trim_rollout_log(log, 2) == 0  # nothing more to drop: the file is left as it is
    assert trim_rollout_log(log, 0) == 3 and log.read_text() == ""


def test_a_fresh_run_keeps_an_earlier_run_s_log_beside_its_own(tmp_path: Path) -> None:
    from segr1.train.rollouts import set_aside

    log = tmp_path / "rollouts.jsonl"
    assert set_aside(log) is None
    for n in (1, 2):
        log.write_text(f"run {n}\n")
        assert set_aside(log) == tmp_path / f"rollouts.jsonl.{n}" and not log.exists()
    assert (tmp_path / "rollouts.jsonl.1").read_text() == "run 1\n"
    assert (tmp_path / "rollouts.jsonl.2").read_text() == "run 2\n"
