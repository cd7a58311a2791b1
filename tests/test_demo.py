"""`segr1 demo`: the quick run end to end (default suite) and the full run (slow)."""

from __future__ import annotations

import json
import math
import shutil

import pytest
from typer.testing import CliRunner

from segr1.cli import app
from segr1.scoring import score_folders


def _check_report(out):
    report = out / "report"
    for name in ("report.md", "curves.png", "grid.png", "summary.json"):
        assert (report / name).stat().st_size > 0, name
    summary = json.loads((report / "summary.json").read_text())
    gt_dir = out / "data" / "Test" / "GT_Object"
    for stage in ("before", "after"):
        result = summary[stage]
        assert all(math.isfinite(v) for v in result["metrics"].values())
        assert 0.0 <= result["usable_rate"] <= 1.0
        rescored = score_folders(out / f"eval_{stage}" / "masks", gt_dir)
        assert rescored["count"] == result["count"]
        for key in ("Sm", "meanEm", "wFm", "MAE", "IoU"):
            assert result["metrics"][key] == pytest.approx(rescored[key], abs=1e-9)
    paired = summary["paired_Sm_change"]
    assert paired["better"] + paired["worse"] + paired["equal"] == summary["before"]["count"]
    assert paired["mean"] == pytest.approx(summary["delta_Sm"], abs=1e-9)
    assert paired["ci95"][0] <= paired["mean"] <= paired["ci95"][1]
    reference = summary["reference_gt_box"]  # the segmenter given the ground-truth box
    objects = summary["reference_object_boxes"]  # ... one box per object
    whole = summary["reference_whole_frame_box"]  # ... and given a whole-frame box
    for ref in (reference, objects, whole):
        assert ref["count"] == summary["before"]["count"]
        assert 0.0 <= ref["Sm"] <= 1.0 and 0.0 <= ref["IoU"] <= 1.0
    text = (report / "report.md").read_text()
    assert f"{reference['Sm']:.4f}" in text and f"{whole['IoU']:.4f}" in text
    assert f"{objects['IoU']:.4f}" in text
    n_objects = sum("empty" not in s for s in (p.stem for p in gt_dir.iterdir()))
    for stage in ("before", "after"):  # the grounding table is the eval folders' boxes
        g = summary["grounding"][stage]
        assert g["n"] == summary[stage]["count"] and g["n_scored"] == n_objects
        assert len(g["box_iou_per_image"]) == n_objects
        for key in ("box_iou", "object_box_iou"):
            per_image = g[f"{key}_per_image"]
            assert len(per_image) == n_objects and all(0.0 <= v <= 1.0 for v in per_image)
            assert g[f"mean_{key}"] == pytest.approx(sum(per_image) / n_objects)
        assert 1 <= g["distinct"] <= g["n"]
        (row,) = [line for line in text.splitlines() if line.startswith(f"| {stage} RL |")]
        cells = row.split(" | ")
        assert cells[1:4] == [f"{g['mean_box_iou']:.3f}", f"{g['mean_object_box_iou']:.3f}",
                              f"{g['mean_boxes']:.2f}"]  # fmt: skip
        side = g["median_side_ratio"]  # the table's sixth column
        assert cells[5] == ("-" if side is None else f"{side:.2f}")
    for key in ("paired_box_iou_change", "paired_object_box_iou_change"):
        box = summary[key]
        assert box["better"] + box["worse"] + box["equal"] == n_objects
    assert isinstance(summary["flags"], list)
    assert ("none raised" in text) == (not summary["flags"])
    assert f"{summary['after']['metrics']['Sm']:.4f}" in text
    assert "segr1 demo" in text and "segr1 train" in text
    return summary


def test_demo_quick_with_grabcut(tmp_path):
    cmd = ["demo", "--quick", "--out", str(tmp_path), "--segmenter", "grabcut"]
    res = CliRunner().invoke(app, cmd)
    assert res.exit_code == 0, res.output
    _check_report(tmp_path)
    history = json.loads((tmp_path / "grpo" / "log_history.json").read_text())
    assert any("reward" in h for h in history)
    # the printed RL command runs from any folder: its recipe is the package's own file
    text = (tmp_path / "report" / "report.md").read_text()
    from segr1.demo import GRPO_CONFIG

    assert f"segr1 train --config {GRPO_CONFIG} " in text and GRPO_CONFIG.is_file()
    # RL interrupted after its last checkpoint was saved: a re-run goes on from it
    grpo = tmp_path / "grpo"
    logged = (grpo / "rollouts.jsonl").read_text()
    steps = [h for h in history if "reward" in h]
    shutil.rmtree(grpo / "final")
    (grpo / "log_history.json").unlink()
    res = CliRunner().invoke(app, cmd)
    assert res.exit_code == 0, res.output
    assert f"resuming GRPO from {grpo / 'checkpoint-3'}" in res.output
    assert (grpo / "rollouts.jsonl").read_text() == logged  # no step is trained again here
    assert (grpo / "final" / "model.safetensors").exists()
    again = json.loads((grpo / "log_history.json").read_text())
    # the run's steps and none more: Trainer would take one past max_steps when resumed there
    assert [h for h in again if "reward" in h] == steps


def test_demo_interrupted_says_how_to_continue(monkeypatch, tmp_path):
    import segr1.demo as demo

    def stop(cfg):
        raise KeyboardInterrupt

    monkeypatch.setattr(demo, "run_demo", stop)
    res = CliRunner().invoke(app, ["demo", "--quick", "--out", str(tmp_path / "run")])
    assert res.exit_code == 130
    assert (
        f"interrupted: run the same command again to continue in {tmp_path / 'run'}" in res.output
    )


def test_a_demo_config_is_checked_when_made():
    from dataclasses import replace

    from segr1.demo import FULL

    for bad, said in (({"seed": -1}, "seed must be >= 0"), ({"pretrain_seed": -3}, "pretrain_seed"),
                      ({"out": ""}, "non-empty string"), ({"segmenter": "sam"}, "choose one of")):  # fmt: skip
        with pytest.raises(ValueError, match=said):
            replace(FULL, **bad)


def test_demo_refuses_bad_settings_and_foreign_folders_before_writing(tmp_path):
    theirs = tmp_path / "mine"
    (theirs / "report").mkdir(parents=True)
    (theirs / "report" / "report.md").write_text("my report")
    res = CliRunner().invoke(app, ["demo", "--quick", "--out", str(theirs)])
    assert res.exit_code == 2 and "holds files that are not a demo run (report)" in res.output
    assert sorted(p.name for p in theirs.rglob("*")) == ["report", "report.md"]
    assert (theirs / "report" / "report.md").read_text() == "my report"
    for bad, said in ((["--seed", "-1"], "--seed"), (["--pretrain-seed", "-2"], "--pretrain-seed")):
        res = CliRunner().invoke(app, ["demo", "--quick", "--out", str(tmp_path / "new"), *bad])
        assert res.exit_code == 2 and said in res.output and not (tmp_path / "new").exists()
    res = CliRunner().invoke(app, ["demo", "--quick", "--out", ""])
    assert res.exit_code == 2 and "(--out, DemoConfig.out) must be a non-empty string" in res.output
    torn = tmp_path / "torn"
    torn.mkdir()
    (torn / "demo_config.json").write_text("{not json")
    res = CliRunner().invoke(app, ["demo", "--quick", "--out", str(torn)])
    assert res.exit_code == 2 and "demo_config.json is not a demo run's record" in res.output


def test_demo_quick_with_the_default_sam2_stand_in(tmp_path):
    """The default segmenter end to end: the quick recipe is not the shipped one, so the demo
    trains its SAM2 stand-in and warms up its policy in OUT, every later stage loads that
    stand-in, a re-run reuses every stage, and a run of other settings is refused there."""
    cmd = ["demo", "--quick", "--out", str(tmp_path)]
    res = CliRunner().invoke(app, cmd)
    assert res.exit_code == 0, res.output
    summary = _check_report(tmp_path)
    seg = tmp_path / "segmenter"
    record = json.loads((seg / "pretrain.json").read_text())
    assert record["config"]["steps"] == 20 and (seg / "model.safetensors").exists()
    assert not (seg / "pretrain.building").exists()
    assert "SAM2" in summary["segmenter"]
    assert f"--segmenter {seg}" in (tmp_path / "report" / "report.md").read_text()
    stages = {p: p.stat().st_mtime_ns for p in (seg / "model.safetensors",
              tmp_path / "policy" / "warmup" / "model.safetensors",
              tmp_path / "grpo" / "final" / "model.safetensors",
              tmp_path / "eval_after" / "completions.jsonl")}  # fmt: skip
    res = CliRunner().invoke(app, cmd)
    assert res.exit_code == 0, res.output
    assert "reusing policy" in res.output and "reusing GRPO run" in res.output
    assert {p: p.stat().st_mtime_ns for p in stages} == stages  # reused, not redone (scores are
    # recomputed from the written masks)
    again = json.loads((tmp_path / "report" / "summary.json").read_text())
    assert again["after"] == summary["after"]
    # the wall time is the run's, summed over its calls, not the re-run's few seconds
    assert (summary["calls"], again["calls"]) == (1, 2) and again["seconds"] > summary["seconds"]
    assert "summed over the 2 calls" in (tmp_path / "report" / "report.md").read_text()
    # a grabcut run in the same folder would mix two runs' stages
    res = CliRunner().invoke(app, [*cmd, "--segmenter", "grabcut"])
    assert res.exit_code == 2 and "made with other settings (segmenter)" in res.output
    assert {p: p.stat().st_mtime_ns for p in stages} == stages  # nothing was touched


def test_demo_refuses_a_file_as_its_output_folder(tmp_path):
    target = tmp_path / "report.txt"
    target.write_text("keep me")
    res = CliRunner().invoke(app, ["demo", "--quick", "--out", str(target)])
    assert res.exit_code == 2 and "is a file" in res.output
    assert target.read_text() == "keep me"


def test_the_report_command_line_names_every_non_default_stand_in_setting():
    from dataclasses import replace

    from segr1.demo import FULL, QUICK, WARMUP_BOXES, cli_config, command_line

    assert command_line(FULL) == "segr1 demo --out demo_out --seed 0"
    boxes = "one" if FULL.warmup_per_object else "per-object"
    cfg = replace(QUICK, seed=2, pretrain_seed=1, warmup_box_scale=1.0, segmenter="grabcut",
                  **WARMUP_BOXES[boxes])  # fmt: skip
    words = command_line(cfg).split()
    assert words[words.index("--warmup-boxes") + 1] == boxes
    assert words[words.index("--pretrain-seed") + 1] == "1"
    assert words[words.index("--warmup-box-scale") + 1] == "1.0"
    assert words[words.index("--segmenter") + 1] == "grabcut" and words[-1] == "--quick"
    # what no option sets is said, not dropped; a per-object run's longer answers are the option's
    assert "#" not in command_line(replace(FULL, **WARMUP_BOXES["per-object"]))
    api = replace(FULL, max_completion_length=80, grpo_steps=7)
    line = command_line(api)
    assert line.endswith("  # and through the API: grpo_steps=7, max_completion_length=80")
    assert cli_config("demo_out", 0) == FULL


def test_the_cli_builds_its_run_with_the_function_the_report_reads(monkeypatch, tmp_path):
    import segr1.demo as demo

    made = []
    monkeypatch.setattr(demo, "run_demo", lambda cfg: made.append(cfg) or tmp_path)
    (tmp_path / "report.md").write_text("report")
    args = ["--out", "x", "--seed", "3", "--warmup-boxes", "per-object", "--quick"]
    res = CliRunner().invoke(app, ["demo", *args])
    assert res.exit_code == 0, res.output
    assert made == [demo.cli_config("x", 3, True, warmup_boxes="per-object")]
    assert demo.command_line(made[0]).split()[2:] == [
        "--out", "x", "--seed", "3", "--warmup-boxes", "per-object", "--quick"]  # fmt: skip
    # an unknown value is refused before anything is made
    res = CliRunner().invoke(app, ["demo", "--warmup-boxes", "three", "--out", str(tmp_path / "y")])
    assert (
        res.exit_code == 2 and "--warmup-boxes 'three': choose one of one, per-object" in res.output
    )
    assert not (tmp_path / "y").exists() and len(made) == 1


def test_the_benchmarks_pin_the_first_stand_in_and_policy():
    """formats_compare / refine_compare document results made with the first SAM2 stand-in and
    the first policy settings; their pins must keep rebuilding exactly those, whatever the
    demo's defaults become (docs/sam2_standin_measured.md, "the first default")."""
    from dataclasses import replace

    from segr1.demo import FULL, MEASURED_POLICY, MEASURED_SEGMENTER

    pinned = replace(FULL, **MEASURED_POLICY, **MEASURED_SEGMENTER)
    sam2 = pinned.sam2
    assert (sam2.steps, sam2.n_scenes, sam2.stride, sam2.width) == (1500, 2000, 4, 8)
    assert sam2.hidden in (None, 4 * sam2.width) and sam2.learning_rate == 3e-3
    assert (sam2.stuff_fraction, sam2.two_object_fraction) == (0.0, 0.2)
    assert (pinned.arch, pinned.grpo_lr, pinned.warmup_box_scale) == ("qwen2_5_vl", 2e-4, 1.0)


@pytest.mark.slow
def test_demo_full_improves_held_out_s_measure(tmp_path):
    res = CliRunner().invoke(app, ["demo", "--out", str(tmp_path)])
    assert res.exit_code == 0, res.output
    summary = _check_report(tmp_path)
    assert summary["before"]["count"] >= 100
    assert "shipped" in (tmp_path / "report" / "report.md").read_text()
    # the shipped warm-up localises before RL (the grounding targets) ...
    before = summary["grounding"]["before"]
    assert before["mean_box_iou"] >= 0.35 and before["distinct_share"] >= 0.8
    # ... and RL finds no whole-frame or constant answer
    after = summary["grounding"]["after"]
    assert after["whole_frame_share"] <= 0.05 and after["distinct_share"] >= 0.5
    # RL sharpens the loose boxes the warm-up leaves: S-measure and box IoU both rise, each
    # paired 95 % interval above zero (docs/demo.md: three seeds), and no hack flag is raised
    assert summary["paired_Sm_change"]["ci95"][0] > 0.0, summary["paired_Sm_change"]
    assert summary["paired_box_iou_change"]["ci95"][0] > 0.0, summary["paired_box_iou_change"]
    assert summary["flags"] == []
