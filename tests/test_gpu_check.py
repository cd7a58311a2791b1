"""``make gpu-check`` runs green at test size on a CPU (every section: the GRPO step full and
LoRA, the reward path, batched embedding, eval throughput, one TRL step with LoRA and one
full), so the first GPU it meets spends its minutes measuring; ``gpu-wheels.txt`` pins what the
GPU machine lacks to the versions tested here."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# deliberate differences from constraints.txt (stated in gpu-wheels.txt): size and compatibility
OTHER_VERSIONS = {"pyarrow", "huggingface_hub"}


def pins(path: Path) -> dict[str, str]:
    found = re.findall(r"^([A-Za-z0-9_.-]+)==([^\s#]+)", path.read_text(), flags=re.M)
    return {name.lower().replace("-", "_"): version for name, version in found}


def test_gpu_wheels_are_the_tested_versions():
    wheels, tested = pins(ROOT / "gpu-wheels.txt"), pins(ROOT / "constraints.txt")
    assert {"trl", "datasets", "pycocotools"} <= set(wheels)
    for name, version in wheels.items():
        if name not in OTHER_VERSIONS:
            assert tested[name] == version, name


@pytest.mark.slow
def test_make_gpu_check_tiny_on_cpu(tmp_path):
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    out = tmp_path / "gpu_check.json"
    proc = subprocess.run(
        ["make", "-s", "gpu-check", "SCALE=tiny", "DEVICE=cpu", f"GPU_PY={sys.executable}",
         f"GPU_OUT={out}"],
        cwd=ROOT, capture_output=True, text=True, timeout=900,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    result = json.loads(out.read_text())
    names = [s["name"] for s in result["sections"]]
    assert names == ["environment", "grpo_full", "grpo_lora", "reward_path", "embed_batch",
                     "eval", "train_lora", "train_full"]  # fmt: skip
    assert all(s["status"] == "ok" for s in result["sections"])
    figures = {s["name"]: s["figures"] for s in result["sections"]}
    assert figures["train_lora"]["steps"] == figures["train_full"]["steps"] == 1
    assert figures["embed_batch"]["mask_pixels_differing"] == 0
    assert "| section" in proc.stdout and "wrote" in proc.stdout
