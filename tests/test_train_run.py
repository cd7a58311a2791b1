"""Real GRPO runs on a CPU with tiny policies: the ``segr1 train`` command on the tiny recipe
(full fine-tune, frozen vision tower), LoRA with merged export, and a Qwen3-VL run."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from painter import Painter
from segr1.demo import GRPO_CONFIG
from segr1.train.config import CONFIG_NAME, config_dict, parse_config
from test_train_support import (
    LOGGED,
    finite_logs,
    one_thread,
    raw_policy,
    tiny_args,
    tiny_config,
    toy_dataset,
    warm,
    write_toy_cod10k,
)

__all__ = ["one_thread", "warm"]  # fixtures used by name below
CONFIGS = GRPO_CONFIG.parent  # the package's recipes (the repository's configs/ links there)


def _weights(directory: Path) -> dict:
    from safetensors.torch import load_file

    return load_file(str(directory / "model.safetensors"))


def _changed(before: dict, after: dict, keep) -> list[str]:
    return [k for k in before if keep(k) and not (before[k] == after[k]).all()]


def _load_plain(directory: Path):
    from transformers import AutoModelForImageTextToText, AutoProcessor

    model = AutoModelForImageTextToText.from_pretrained(directory)
    processor = AutoProcessor.from_pretrained(directory)
    return model, processor


def test_cli_train_tiny_recipe(tmp_path: Path, warm: Path, one_thread: None) -> None:
    from typer.testing import CliRunner

    from segr1.cli import app

    data = write_toy_cod10k(tmp_path / "COD10K-v3")
    out = tmp_path / "run"
    args = tiny_args(
        out,
        warm,
        datasets=f"cod10k:{data}:train",
        segmenter="grabcut",
        save_strategy="steps",
        save_steps=1,
        save_total_limit=2,
        freeze_vision=True,
        learning_rate=1e-4,
        beta=0.04,
    )
    result = CliRunner().invoke(app, ["train", "--config", str(CONFIGS / "tiny.yaml"), *args])
    assert result.exit_code == 0, result.output + repr(result.exception)
    assert "trained 3 steps" in result.output

    # checkpoints: every step saved, the last two kept, each resumable
    assert sorted(p.name for p in out.glob("checkpoint-*")) == ["checkpoint-2", "checkpoint-3"]
    for name in ("optimizer.pt", "scheduler.pt", "rng_state.pth", "trainer_state.json"):
        assert (out / "checkpoint-3" / name).is_file(), name
    history = json.loads((out / "checkpoint-3" / "trainer_state.json").read_text())["log_history"]
    finite_logs(history, LOGGED)

    # the resolved config is saved and reads back equal
    saved = parse_config(["--config", str(out / CONFIG_NAME)])
    assert config_dict(saved) == config_dict(
        parse_config(["--config", str(CONFIGS / "tiny.yaml"), *args])
    )

    # rollout log: every completion of every step, reward parts that add up
    rows = [json.loads(line) for line in (out / "rollouts.jsonl").read_text().splitlines()]
    assert sorted({r["step"] for r in rows}) == [0, 1, 2] and len(rows) == 3 * 4
    for r in rows:
        parts = r["rewards"]
        assert set(parts) == {"format_reward", "segmentation"}
        assert r["reward"] == pytest.approx(
            parts["format_reward"] + parts["segmentation"], abs=1e-5
        )
        assert r["id"].startswith("toy") and "boxes" in r["prompts"]
        assert math.isfinite(r["iou"]) and 0.0 <= r["iou"] <= 1.0

    # the final policy: a plain HF directory; language model trained, vision tower frozen
    final = out / "final"
    for name in (
        "config.json",
        "model.safetensors",
        "generation_config.json",
        "chat_template.jinja",
        "processor_config.json",
        "tokenizer.json",
    ):
        assert (final / name).is_file(), name
    model, processor = _load_plain(final)
    assert processor.tokenizer.padding_side == "left" and model.config.model_type == "qwen2_5_vl"
    before, after = _weights(warm), _weights(final)
    assert _changed(before, after, lambda k: "visual" not in k), "policy did not change"
    assert not _changed(before, after, lambda k: "visual" in k), "frozen vision tower changed"


def test_lora_run_exports_merged_weights(tmp_path: Path, warm: Path, one_thread: None) -> None:
    cfg = tiny_config(
        tmp_path / "run",
        warm,
        use_peft=True,
        lora_r=4,
        lora_alpha=8,
        lora_dropout=0.0,
        learning_rate=1e-3,
        max_steps=2,
        beta=0.04,  # with LoRA the reference is the adapter-disabled policy
    )
    from segr1.train.main import train

    result = train(cfg, segmenter=Painter(points=False), train_dataset=toy_dataset(4))
    finite_logs(result.log_history, LOGGED)
    assert result.global_step == 2
    assert (tmp_path / "run" / "final-adapter" / "adapter_config.json").is_file()
    assert not (result.final_dir / "adapter_config.json").exists()  # merged, no PEFT needed
    _load_plain(result.final_dir)
    before, after = _weights(warm), _weights(result.final_dir)
    assert set(before) == set(after)  # same tensors as the base model: no lora_A / lora_B left
    lora_targets = _changed(before, after, lambda k: "visual" not in k)
    assert lora_targets and all(
        k.endswith(("q_proj.weight", "k_proj.weight", "v_proj.weight", "o_proj.weight"))
        for k in lora_targets
    )


def test_qwen3_vl_short_run(tmp_path: Path, tmp_path_factory, one_thread: None) -> None:
    from segr1.train.main import train

    policy = raw_policy(tmp_path_factory.getbasetemp() / "policies", "qwen3_vl")
    cfg = tiny_config(tmp_path / "run", policy, max_steps=1, max_completion_length=16)
    result = train(cfg, segmenter=Painter(points=False), train_dataset=toy_dataset(4))
    assert result.global_step == 1
    finite_logs(result.log_history, LOGGED)
    model, _ = _load_plain(result.final_dir)
    assert model.config.model_type == "qwen3_vl"
