"""Two training processes on a CPU (gloo): one GRPO group
of G=4 completions is split 2 + 2 across the processes, each process scores its own half, and the
group is still normalised as ONE group: the advantages TRL used equal (R - group mean) /
(group std + 1e-4) over all four rewards, and every reward equals the reward recomputed here for
that completion.

Launch: ``accelerate launch --multi_gpu --num_processes 2`` (torchrun underneath, see
tests/launch.py) with the training config's ``use_cpu: true``, which makes accelerate pick
MULTI_CPU with gloo."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from launch import launch_command, launch_env
from test_train_support import SIDE, tiny_args, warm, write_toy_cod10k

__all__ = ["warm"]


def test_group_split_across_two_processes(tmp_path: Path, warm: Path) -> None:
    import pandas as pd
    import torch

    from segr1.rewards import build_rewards
    from segr1.segment import build_segmenter

    data = write_toy_cod10k(tmp_path / "COD10K-v3", n=4)
    out = tmp_path / "run"
    args = tiny_args(
        out,
        warm,
        datasets=f"cod10k:{data}:train",
        segmenter="grabcut",
        per_device_train_batch_size=2,  # 2 completions per process: half a group of 4
        max_steps=2,
        save_strategy="steps",
        save_steps=2,
        log_completions=True,
        use_cpu=True,
        learning_rate=1e-4,
    )
    proc = subprocess.run(
        [*launch_command(2), "-m", "segr1.cli", "train", *args],
        env=launch_env(),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    assert (out / "final" / "model.safetensors").is_file()

    rows = [json.loads(line) for line in (out / "rollouts.jsonl").read_text().splitlines()]
    assert sorted({r["step"] for r in rows}) == [0, 1]
    rewards = build_rewards(build_segmenter("grabcut"), SIDE)
    for step in (0, 1):
        group = [r for r in rows if r["step"] == step]
        assert sorted(r["process"] for r in group) == [0, 0, 1, 1]  # the group is split
        assert len({r["id"] for r in group}) == 1  # ... and is one prompt's G=4 completions
        image = Image.open(data / "Train" / "Image" / f"{group[0]['id']}.png").convert("RGB")
        mask = Image.open(data / "Train" / "GT_Object" / f"{group[0]['id']}.png")
        completions = [r["completion"] for r in group]
        kw = {"image": [image] * 4, "mask": [mask] * 4}
        fmt, seg = (f(prompts=[None] * 4, completions=completions, **kw) for f in rewards)
        for r, f, s in zip(group, fmt, seg, strict=True):
            assert r["rewards"]["format_reward"] == pytest.approx(f, abs=1e-6)
            assert r["rewards"]["segmentation"] == pytest.approx(s, abs=1e-6)

        # TRL's own table (main process, gathered): same rewards, one-group advantages
        table = pd.read_parquet(out / "completions" / f"completions_{step + 1:05d}.parquet")
        assert len(table) == 4
        total = torch.tensor((table["format_reward"] + table["segmentation"]).to_numpy()).float()
        expected = (total - total.mean()) / (total.std() + 1e-4)  # float32, as TRL computes it
        np.testing.assert_allclose(table["advantage"].to_numpy(), expected.numpy(), atol=1e-4)
        total = total.numpy()
        logged = sorted(r["reward"] for r in group)
        np.testing.assert_allclose(sorted(total), logged, atol=1e-5)
