"""`segr1 eval` end to end with a tiny policy whose answers parse and differ per image (see
tests/answering.py) + GrabCut: on 120 x 80 images seen at S = 96, real non-empty masks at the
image's size under the right ids, and an interrupted run resumes to the same report; on 96 x 96
images at S = 96 (where the S x S frame IS the image's frame), the reward computes, on eval's
own completions, exactly the numbers `segr1 score` reports for the masks eval wrote."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from conftest import wide_samples
from interrupting import Interrupt, StopsAfter
from segr1.cli import app
from segr1.data.io import read_mask
from segr1.data.registry import load_dataset
from segr1.evaluate import evaluate, read_records
from segr1.inference import Pipeline
from segr1.scoring import Item, score_items

SIDE = 96
runner = CliRunner()


@pytest.fixture(scope="module")
def pipe(answering_policy_dir):
    return Pipeline.from_pretrained(str(answering_policy_dir), segmenter="grabcut", side=SIDE)


@pytest.fixture(scope="module")
def samples(wide_root):
    return wide_samples(wide_root)


@pytest.fixture(scope="module")
def full_run(pipe, samples, tmp_path_factory):
    out = tmp_path_factory.mktemp("eval_full")
    return out, evaluate(pipe, samples, out, batch_size=4, progress=False)


@pytest.fixture(scope="module")
def square_run(pipe, synth_root, tmp_path_factory):
    out = tmp_path_factory.mktemp("eval_square")
    samples = load_dataset("synth", synth_root, split="test")
    return out, samples, evaluate(pipe, samples, out, batch_size=5, progress=False)


def test_masks_are_real_and_written_under_their_own_ids(pipe, samples, full_run):
    out, result = full_run
    assert result["count"] == len(samples) == 10 and result["unusable"] == 0
    records = read_records(out / "completions.jsonl")
    boxes = {json.dumps(r["answer"]["boxes"]) for r in records.values()}
    assert len(boxes) == len(samples)  # the policy looks at the image: one box per image
    for s in samples:
        saved = read_mask(out / "masks" / f"{s.id}.png")
        again = pipe.segment_completion(s.load_image(), records[s.id]["completion"])
        np.testing.assert_array_equal(saved, again.levels)  # this id's own answer made it
        assert saved.shape == s.load_mask().shape == (80, 120)
        if "empty" not in s.id:
            assert saved.any(), f"{s.id}: empty mask for a usable answer on an object"
    areas = {int(read_mask(out / "masks" / f"{s.id}.png").sum()) for s in samples}
    assert len(areas) > len(samples) // 2  # masks differ between images


def test_interrupted_and_resumed_equals_uninterrupted(pipe, samples, full_run, tmp_path):
    out, full = full_run
    with pytest.raises(Interrupt):
        evaluate(StopsAfter(pipe, 1), samples, tmp_path, batch_size=4, progress=False)
    assert len(read_records(tmp_path / "completions.jsonl")) == 4
    with (tmp_path / "completions.jsonl").open("a") as f:
        f.write('{"id": "torn')  # a line cut by the kill
    resumed = evaluate(pipe, samples, tmp_path, batch_size=4, progress=False)
    assert resumed == full
    lines = (tmp_path / "completions.jsonl").read_text().splitlines()
    assert len(lines) == 10 and all(json.loads(line)["id"] for line in lines)
    for s in samples:
        np.testing.assert_array_equal(
            read_mask(tmp_path / "masks" / f"{s.id}.png"), read_mask(out / "masks" / f"{s.id}.png")
        )


def test_resume_with_other_masks_is_refused_but_rescoring_is_not(
    pipe, samples, full_run, answering_policy_dir, tmp_path
):
    out, full = full_run
    released = Pipeline.from_pretrained(
        str(answering_policy_dir), segmenter="grabcut", side=SIDE, profile="released"
    )
    with pytest.raises(ValueError, match="profile_switches"):
        evaluate(released, samples, out, progress=False)
    import shutil

    from segr1.profiles import with_overrides

    out = shutil.copytree(out, tmp_path / "copy")
    rescore = Pipeline(pipe.model, pipe.processor, pipe.segmenter, side=SIDE,
                       profile=with_overrides("default", ["empty_iou=0"]))  # fmt: skip
    before = (out / "completions.jsonl").read_text()
    again = evaluate(rescore, samples, out, progress=False)
    assert (out / "completions.jsonl").read_text() == before  # nothing predicted again
    assert again["metrics"] == full["metrics"] and again["profile"] == "default+empty_iou=0.0"


def test_reward_equals_score_of_the_masks_eval_wrote(square_run, synth_root):
    """End to end: the training reward, given eval's completions for the same images and masks,
    computes per image the IoU and S-measure the scoring loop computes on eval's mask files,
    and `segr1 score` reports their means."""
    from segr1.rewards import build_rewards
    from segr1.segment import build_segmenter

    out, samples, result = square_run
    records = read_records(out / "completions.jsonl")
    _, reward = build_rewards(build_segmenter("grabcut"), side=SIDE)
    images = [s.load_image() for s in samples]
    masks = [s.load_mask() for s in samples]
    reward(completions=[records[s.id]["completion"] for s in samples], image=images, mask=masks)
    scored = reward.last
    assert all(x.rewardable for x in scored) and len({round(x.iou, 6) for x in scored}) > 5
    for s, x in zip(samples, scored, strict=True):
        item = Item(s.id, out / "masks" / f"{s.id}.png", s.load_mask)
        one = score_items([item], progress=False)
        assert x.iou == pytest.approx(one["IoU"], abs=1e-12), s.id
        assert x.s == pytest.approx(one["Sm"], abs=1e-9), s.id
    cli = runner.invoke(
        app, ["score", str(out / "masks"), str(synth_root / "Test" / "GT_Object"), "--json",
              str(out / "rescored.json")],
    )  # fmt: skip
    assert cli.exit_code == 0, cli.output
    rescored = json.loads((out / "rescored.json").read_text())
    assert rescored["IoU"] == pytest.approx(np.mean([x.iou for x in scored]), abs=1e-12)
    assert rescored["Sm"] == pytest.approx(np.mean([x.s for x in scored]), abs=1e-9)
    for key in ("Sm", "IoU", "MAE", "meanEm", "wFm"):
        assert result["metrics"][key] == pytest.approx(rescored[key], abs=1e-12)


def test_metrics_and_report_name_the_profile_and_its_conventions(full_run):
    out, _ = full_run
    saved = json.loads((out / "metrics.json").read_text())
    assert saved["profile"] == "default" and saved["template"] == "released/eval/foreground"
    conv = saved["conventions"]
    assert conv["profile"] == "default" and "RGB" in conv["segmenter input"]
    assert "level > 128" in conv["ground truth"] and "alpha 0.5" in conv["metrics"]
    report = (out / "report.md").read_text()
    assert "profile `default`" in report and "## Conventions" in report
    run = json.loads((out / "run.json").read_text())
    from segr1.profiles import DEFAULT

    assert (
        run["profile_switches"] == DEFAULT.generation() and "ignore" not in run["profile_switches"]
    )
    assert saved["count"] == 10 and saved["sampling"] == "every sample, in order"


def test_eval_cli_released_profile(answering_policy_dir, wide_root, tmp_path):
    """The released profile's mask-side switches reach the files: soft foreground masks, BGR
    recorded; the policy-side switches are turned off here so the memorised answers stay."""
    policy_side = ["policy_resample=none", "policy_jpeg_quality=none", "policy_qwen_vl_utils=false"]
    res = runner.invoke(
        app,
        [
            "eval",
            "--model", str(answering_policy_dir),
            "--dataset", "folder",
            "--images", str(wide_root / "images"),
            "--masks", str(wide_root / "masks"),
            "--out", str(tmp_path),
            "--side", str(SIDE),
            "--profile", "released",
            *[x for opt in policy_side for x in ("--profile-opt", opt)],
            "--limit", "3",
        ],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    saved = json.loads((tmp_path / "metrics.json").read_text())
    assert saved["count"] == 3 and saved["unusable"] == 0
    assert saved["profile"].startswith("released+") and saved["max_new_tokens"] == 1024
    assert saved["profile_switches"]["bgr"] is True
    assert "BGR" in saved["conventions"]["segmenter input"]
    assert "soft" in saved["conventions"]["saved prediction"]
    levels = [read_mask(p) for p in sorted((tmp_path / "masks").glob("*.png"))]
    assert len(levels) == 3 and all(m.shape == (80, 120) for m in levels)
    assert any(len(np.unique(m)) > 2 for m in levels)  # soft edges were saved
    assert "--profile" in runner.invoke(app, ["eval", "--help"]).output


def test_files_left_out_by_the_reader_are_reported(pipe, wide_root, tmp_path):
    import shutil

    from segr1.data.registry import load_dataset

    root = tmp_path / "data"
    shutil.copytree(wide_root, root)
    shutil.copy(root / "images" / sorted(p.name for p in (root / "images").iterdir())[0],
                root / "images" / "orphan.png")  # fmt: skip
    samples = load_dataset("folder", root, images="images", masks="masks", unpaired="drop")
    assert [d.split(":")[0] for d in samples.dropped] == [str(root / "images" / "orphan.png")]
    result = evaluate(pipe, samples[:2], tmp_path / "out", dropped=samples.dropped, progress=False)
    assert result["dropped"] == samples.dropped and result["count"] == 2
    assert "orphan.png" in (tmp_path / "out" / "report.md").read_text()
