"""The training config: YAML + CLI overrides, dataset specs, saved config round trip, the recipes
(complete GRPO groups), rollout log and checkpoint discovery. No model is loaded here."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from segr1.demo import GRPO_CONFIG
from segr1.train.checkpoints import checkpoints, latest_checkpoint
from segr1.train.config import (
    CONFIG_NAME,
    DatasetSpec,
    SegR1Config,
    config_dict,
    parse_config,
    save_config,
)
from segr1.train.rollouts import with_rollout_log

CONFIGS = GRPO_CONFIG.parent  # the package's recipes (the repository's configs/ links there)
CPU = ["--use_cpu", "true", "--bf16", "false"]


def test_yaml_then_cli_overrides(tmp_path: Path) -> None:
    cfg_file = tmp_path / "run.yaml"
    cfg_file.write_text(
        "policy: some/model\n"
        "segmenter: sam2-random-tiny\n"
        "datasets:\n  - {name: cod10k, root: /data/cod, split: train}\n  - camo:/data/camo\n"
        "num_generations: 4\nper_device_train_batch_size: 4\nlearning_rate: 1.0e-6\n"
        f"output_dir: {tmp_path / 'out'}\n"
    )
    cfg = parse_config(["--config", str(cfg_file), "--learning_rate", "3e-4", "--resume", *CPU])
    assert cfg.policy == "some/model" and cfg.segmenter == "sam2-random-tiny"
    assert cfg.learning_rate == pytest.approx(3e-4)  # the command line wins over the file
    assert cfg.resume == "latest"  # a bare --resume means the newest checkpoint
    assert cfg.dataset_specs == [
        DatasetSpec("cod10k", "/data/cod", "train"),
        DatasetSpec("camo", "/data/camo", "train"),
    ]


def test_dataset_spec_forms_and_errors() -> None:
    assert DatasetSpec.parse("dis5k:/d/DIS5K:dis-tr") == DatasetSpec("dis5k", "/d/DIS5K", "dis-tr")
    assert DatasetSpec.parse({"name": "synth", "root": "x"}) == DatasetSpec("synth", "x", "train")
    with pytest.raises(ValueError, match="name:root"):
        DatasetSpec.parse("cod10k")
    with pytest.raises(ValueError, match="keys name, root, split"):
        DatasetSpec.parse({"name": "a", "folder": "b"})


@pytest.mark.parametrize(
    ("args", "match"),
    [
        (["--task", "segment"], "task="),
        (["--reward_variant", "area"], "reward_variant"),
        (["--load_in_4bit", "true"], "use_peft"),
        (["--datasets", "nocolon"], "name:root"),
        (["--num_generations", "3", "--per_device_train_batch_size", "4"], "divisible"),
    ],
)
def test_bad_values_fail_with_the_fix(tmp_path: Path, args: list[str], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        parse_config(["--output_dir", str(tmp_path), *CPU, *args])


def test_missing_config_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"nope\.yaml"):
        parse_config(["--config", str(tmp_path / "nope.yaml")])


def test_saved_config_reads_back_equal(tmp_path: Path) -> None:
    cfg = parse_config(
        ["--output_dir", str(tmp_path), *CPU, "--datasets", "synth:/s:train", "--w_iou", "0.5"]
    )
    path = save_config(cfg, tmp_path / CONFIG_NAME)
    again = parse_config(["--config", str(path)])
    assert config_dict(again) == config_dict(cfg)
    assert again.w_iou == 0.5 and again.datasets == ["synth:/s:train"]


def test_every_own_field_has_help_once() -> None:
    own = {f.name for f in dataclasses.fields(SegR1Config)} - {
        f.name for f in dataclasses.fields(SegR1Config.__mro__[1])
    }
    assert {"policy", "segmenter", "datasets", "resume", "lora_r", "freeze_vision"} <= own
    for f in dataclasses.fields(SegR1Config):
        if f.name in own:
            assert f.metadata.get("help"), f"{f.name} has no help"


@pytest.mark.parametrize("recipe", ["tiny", "rl_cod", "rl_sod", "prerl_dis5k"])
def test_recipes_parse_with_complete_groups(recipe: str) -> None:
    path = CONFIGS / f"{recipe}.yaml"
    header = path.read_text().splitlines()[:12]
    assert any("Hardware" in line for line in header), f"{path}: header names no hardware"
    cfg = parse_config(["--config", str(path), *CPU])
    assert cfg.generation_batch_size % cfg.num_generations == 0
    assert cfg.steps_per_generation == cfg.gradient_accumulation_steps  # one update per batch
    if recipe != "tiny":  # the released numbers (SEG-R1.md section 5)
        assert (cfg.num_generations, cfg.beta, cfg.learning_rate) == (4, 0.04, 1e-6)
        assert (cfg.temperature, cfg.top_p, cfg.max_grad_norm) == (1.0, 1.0, 1.0)
        assert cfg.lr_scheduler_type.value == "constant" and cfg.warmup_steps == 0
        assert cfg.per_device_train_batch_size * 6 * cfg.gradient_accumulation_steps == 96
        assert cfg.max_completion_length == (256 if recipe == "prerl_dis5k" else 400)
        assert cfg.task == ("prerl" if recipe == "prerl_dis5k" else "foreground")
        assert cfg.num_train_epochs == (2 if recipe == "rl_cod" else 1)


def test_latest_checkpoint_skips_incomplete(tmp_path: Path) -> None:
    for step, complete in ((2, True), (10, True), (12, False)):
        d = tmp_path / f"checkpoint-{step}"
        d.mkdir()
        if complete:
            (d / "trainer_state.json").write_text(f'{{"global_step": {step}}}')
    (tmp_path / "checkpoint-x").mkdir()
    assert [p.name for p in checkpoints(tmp_path)] == ["checkpoint-2", "checkpoint-10"]
    assert latest_checkpoint(tmp_path) == tmp_path / "checkpoint-10"
    assert latest_checkpoint(tmp_path / "missing") is None


class _State:
    def __init__(self, step: int) -> None:
        self.global_step = step


def _fmt(completions, **_):
    return [float("<bbox>" in c) for c in completions]


def _seg(completions, **_):
    return [0.25 * len(c) for c in completions]


def test_rollout_log_rows_every_n_steps(tmp_path: Path) -> None:
    path = tmp_path / "rollouts.jsonl"
    rewards = with_rollout_log([_fmt, _seg], path, every=2, weights=[1.0, 2.0], process=1)
    assert [r.__name__ for r in rewards] == ["_fmt", "_seg"]  # TRL's log names stay the same
    completions = ["<think></think> <bbox>[1,2,3,4]</bbox>", "no"]
    for step in (0, 1, 2):
        kw = {"trainer_state": _State(step), "id": ["a", "b"], "image": [None, None]}
        outs = [r(prompts=["p", "p"], completions=completions, **kw) for r in rewards]
        assert outs == [_fmt(completions), _seg(completions)]
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    assert [(r["step"], r["id"]) for r in rows] == [(0, "a"), (0, "b"), (2, "a"), (2, "b")]
    first = rows[0]
    assert first["process"] == 1 and first["prompts"]["boxes"] == [[1, 2, 3, 4]]
    assert first["rewards"] == {"_fmt": 1.0, "_seg": 0.25 * len(completions[0])}
    assert first["reward"] == pytest.approx(1.0 + 2.0 * 0.25 * len(completions[0]))


def test_resume_needs_a_complete_checkpoint(tmp_path: Path) -> None:
    from segr1.train.main import resume_checkpoint

    cfg = parse_config(["--output_dir", str(tmp_path), *CPU, "--resume"])
    with pytest.raises(FileNotFoundError, match="no complete checkpoint"):
        resume_checkpoint(cfg)
    (tmp_path / "checkpoint-5").mkdir()
    (tmp_path / "checkpoint-5" / "trainer_state.json").write_text('{"global_step": 5}')
    (tmp_path / "checkpoint-7").mkdir()  # killed while saving: no trainer_state.json
    assert resume_checkpoint(cfg) == str(tmp_path / "checkpoint-5")
    cfg = parse_config(["--output_dir", str(tmp_path), *CPU, "--resume", str(tmp_path / "x")])
    with pytest.raises(FileNotFoundError, match="not a complete checkpoint"):
        resume_checkpoint(cfg)


def test_cli_reports_bad_input_without_a_traceback(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from segr1.cli import app

    result = CliRunner().invoke(app, ["train", "--config", str(tmp_path / "gone.yaml")])
    assert result.exit_code == 2 and "gone.yaml: config file not found" in result.output
    args = ["train", "--output_dir", str(tmp_path), *CPU, "--resume", "latest"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2 and "no complete checkpoint" in result.output
