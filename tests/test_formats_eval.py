"""Answer formats through the commands: `segr1 prompt` / `eval` / `train` config take
--answer-format; no-target metrics (N_acc, T_acc); the gRefCOCO reader; synth --empty-rate."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from segr1.cli import app
from segr1.data.io import write_mask
from segr1.scoring import Item, score_items

runner = CliRunner()


def test_prompt_prints_each_formats_messages():
    from test_protocol_formats import SEG_ZERO_EXAMPLE, SEG_ZERO_TEXT

    res = runner.invoke(app, ["prompt", "--task", "referring", "--query", "The Dog.",
                              "--answer-format", "seg-zero"])  # fmt: skip
    assert res.exit_code == 0, res.output
    info = json.loads(res.output)
    text = info["messages"][0]["content"][1]["text"]
    assert text == SEG_ZERO_TEXT.format(Question="the dog", Answer=SEG_ZERO_EXAMPLE)
    assert info["image"]["side"] == 840 and info["generation"]["max_new_tokens"] == 1024
    bad = runner.invoke(app, ["prompt", "--answer-format", "lisa"])
    assert bad.exit_code == 2 and "unknown answer format 'lisa'" in bad.output


def test_json_format_with_the_released_profile_is_refused(tiny_policy_dir):
    from segr1.inference import Pipeline

    with pytest.raises(ValueError, match="use the default profile"):
        Pipeline.from_pretrained(
            str(tiny_policy_dir), answer_format="seg-zero", profile="released", side=56
        )


def test_eval_in_a_json_format_names_its_template(tiny_policy_dir, synth_root, tmp_path):
    res = runner.invoke(app, [
        "eval", "--model", str(tiny_policy_dir), "--dataset", "synth", "--root", str(synth_root),
        "--out", str(tmp_path), "--answer-format", "vision-reasoner", "--side", "96",
        "--max-new-tokens", "8", "--limit", "2",
    ])  # fmt: skip
    assert res.exit_code == 0, res.output
    saved = json.loads((tmp_path / "metrics.json").read_text())
    assert saved["template"] == "segr1/vision-reasoner/foreground" and saved["count"] == 2


def test_training_config_takes_a_format_and_rewards(tmp_path):
    from segr1.train.config import parse_config
    from segr1.train.data import prompt_messages

    cfg = parse_config(["--output_dir", str(tmp_path), "--use_cpu", "true", "--answer_format",
                        "seg-zero", "--rewards", "thinking_format", "segmentation", "--abstain"])  # fmt: skip
    assert cfg.answer_format == "seg-zero" and cfg.rewards == ["thinking_format", "segmentation"]
    msgs = prompt_messages("foreground", "foreground", "", False, cfg.answer_format, cfg.abstain)
    assert msgs[0]["content"][1]["text"].endswith("<answer>none</answer>.")
    with pytest.raises(ValueError, match="unknown"):
        parse_config(["--output_dir", str(tmp_path), "--use_cpu", "true", "--rewards", "iou"])


def test_no_target_accuracy(tmp_path):
    empty, full = np.zeros((8, 8), np.uint8), np.zeros((8, 8), np.uint8)
    full[2:6, 2:6] = 255
    for name, pred in (("e", empty), ("f", full)):
        write_mask(tmp_path / f"{name}.png", pred)
    items = [
        Item("nt-right", tmp_path / "e.png", lambda: empty),  # no target, predicted none
        Item("nt-wrong", tmp_path / "f.png", lambda: empty),  # no target, a mask drawn
        Item("t-right", tmp_path / "f.png", lambda: full),
        Item("t-wrong", tmp_path / "e.png", lambda: full),
        Item("t-right2", tmp_path / "f.png", lambda: full),
    ]
    res = score_items(items, "referring", progress=False)
    assert res["N_acc"] == 0.5 and res["T_acc"] == pytest.approx(2 / 3)
    assert res["no_target_samples"] == 2
    assert res["gIoU"] == pytest.approx((1 + 0 + 1 + 0 + 1) / 5)  # gRefCOCO: empty/empty = 1
    assert "N_acc" not in score_items(items[2:], "referring", progress=False)


@pytest.fixture
def gref_root(tmp_path):
    H, W = 30, 40
    img_dir = tmp_path / "images" / "mscoco" / "images" / "train2014"
    img_dir.mkdir(parents=True)
    Image.fromarray(np.full((H, W, 3), 90, np.uint8)).save(img_dir / "a.jpg")
    square = lambda x, y: [[x, y, x + 8, y, x + 8, y + 8, x, y + 8]]  # noqa: E731
    instances = {
        "images": [{"id": 1, "file_name": "a.jpg", "height": H, "width": W}],
        "annotations": [
            {"id": 10, "image_id": 1, "segmentation": square(2, 2), "iscrowd": 0},
            {"id": 11, "image_id": 1, "segmentation": square(20, 15), "iscrowd": 0},
        ],
    }
    refs = [
        {"ref_id": 1, "ann_id": [10, 11], "image_id": 1, "split": "val", "no_target": False,
         "sentences": [{"sent_id": 1, "sent": "both squares", "raw": "Both squares"}]},
        {"ref_id": 2, "ann_id": [-1], "image_id": 1, "split": "val", "no_target": True,
         "sentences": [{"sent_id": 2, "sent": "the giraffe", "raw": "The giraffe"}]},
    ]  # fmt: skip
    (tmp_path / "grefcoco").mkdir()
    (tmp_path / "grefcoco" / "instances.json").write_text(json.dumps(instances))
    (tmp_path / "grefcoco" / "grefs(unc).json").write_text(json.dumps(refs))
    return tmp_path


def test_grefcoco_reader_unions_targets_and_keeps_no_target_expressions(gref_root):
    from segr1.data.registry import load_dataset

    both, none = load_dataset("grefcoco", gref_root, split="val")
    assert (both.id, both.query, none.query) == ("1_1", "both squares", "the giraffe")
    m = both.load_mask() > 128
    assert m[5, 5] and m[18, 23] and not m[25, 2]  # both annotations, nothing else
    assert not none.load_mask().any()  # the no-target expression: an empty ground truth
    with pytest.raises(ValueError, match="no split 'testA'"):
        load_dataset("grefcoco", gref_root, split="testA")


def test_synth_empty_rate(tmp_path):
    res = runner.invoke(app, ["data", "synth", "--out", str(tmp_path), "--n", "10", "--n-test", "0",
                              "--size", "32", "--empty-rate", "0.5"])  # fmt: skip
    assert res.exit_code == 0, res.output
    meta = json.loads((tmp_path / "meta.json").read_text())
    assert meta["splits"]["train"]["counts"]["empty"] == 5
