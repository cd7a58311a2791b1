"""Bad input, table-driven: every case ends with exit code 2, one message naming the culprit,
no traceback, and nothing loaded or written first; ``--debug`` shows the traceback instead."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from segr1.cli import app

runner = CliRunner()
CPU = ["--use_cpu", "true", "--report_to", "none", "--bf16", "false"]


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """Files the bad commands point at: a COD-style folder pair, one unpaired, a bad YAML..."""
    root = tmp_path_factory.mktemp("world")
    for sub in ("images", "masks", "unpaired_images", "unpaired_masks", "empty"):
        (root / sub).mkdir()
    img = np.zeros((16, 16, 3), np.uint8)
    for stem in ("a", "b"):
        Image.fromarray(img).save(root / "images" / f"{stem}.png")
        Image.fromarray(img[..., 0]).save(root / "masks" / f"{stem}.png")
    Image.fromarray(img).save(root / "unpaired_images" / "x.png")
    Image.fromarray(img[..., 0]).save(root / "unpaired_masks" / "y.png")
    (root / "syntax.yaml").write_text("policy: [unclosed\n")
    (root / "typo.yaml").write_text("per_device_train_batch_size: many\n")
    (root / "notes.txt").write_text("not an image")
    (root / "real" / "Train" / "Image").mkdir(parents=True)  # a user's dataset, not synth's
    Image.fromarray(img).save(root / "real" / "Train" / "Image" / "keep.png")
    return root


def cases(root):
    """(argv, text the message must contain)."""
    r = str(root)
    model = ["--model", f"{r}/no-such-policy"]
    return [
        (["score", f"{r}/nope", f"{r}/masks"], "nope: prediction folder not found"),
        (["score", f"{r}/masks", f"{r}/empty"], "no ground-truth masks"),
        (["score", f"{r}/masks", f"{r}/masks", "--task", "bogus"], "--task 'bogus'"),
        (["score", f"{r}/images", f"{r}/masks", "--missing", "skip"], "missing must be"),
        (["score", f"{r}/masks", f"{r}/masks", "--profile", "paper"], "unknown profile 'paper'"),
        (["eval", *model, "--dataset", "nosuch", "--out", f"{r}/o"], "unknown dataset 'nosuch'"),
        (["eval", *model, "--dataset", "cod10k", "--root", f"{r}/gone", "--out", f"{r}/o"], "gone"),
        (["eval", *model, "--dataset", "folder", "--images", f"{r}/unpaired_images",
          "--masks", f"{r}/unpaired_masks", "--out", f"{r}/o"], "do not pair up"),
        (["eval", *model, "--dataset", "folder", "--images", f"{r}/images", "--masks",
          f"{r}/masks", "--out", f"{r}/images"], "where the dataset's images or masks are read"),
        (["eval", *model, "--dataset", "folder", "--images", f"{r}/images", "--masks",
          f"{r}/masks", "--out", f"{r}/o"], "no-such-policy"),
        (["eval", *model, "--dataset", "folder", "--images", f"{r}/images", "--masks",
          f"{r}/masks", "--out", f"{r}/o", "--profile-opt", "bgr=maybe"], "expected true or false"),
        (["eval", *model, "--dataset", "folder", "--images", f"{r}/images", "--masks",
          f"{r}/masks", "--out", f"{r}/o", "--data-opt", "colour"], "expected KEY=VALUE"),
        (["eval", *model, "--dataset", "synth", "--out", f"{r}/o", "--side", "0"], "--side"),
        (["eval", *model, "--dataset", "synth", "--out", f"{r}/o", "--limit", "-1"], "--limit"),
        (["eval", *model, "--dataset", "synth", "--out", f"{r}/o", "--batch-size", "0"],
         "--batch-size"),
        (["predict", f"{r}/images", *model, "--out", f"{r}/images"], "the images are read from"),
        (["predict", f"{r}/missing.png", *model, "--out", f"{r}/p"], "missing.png"),
        (["predict", f"{r}/images", *model, "--out", f"{r}/p", "--task", "referring"],
         "needs a query"),
        (["predict", f"{r}/images", *model, "--out", f"{r}/p", "--max-new-tokens", "0"],
         "--max-new-tokens"),
        (["train", "--config", f"{r}/syntax.yaml"], "syntax.yaml"),
        (["train", "--config", f"{r}/gone.yaml"], "gone.yaml: config file not found"),
        (["train", "--config", f"{r}/typo.yaml"], "invalid int value: 'many'"),
        (["train", "--output_dir", f"{r}/t", *CPU, "--nonsense", "3"], "--nonsense"),
        (["train", "--output_dir", f"{r}/t", *CPU, "--datasets", f"cod10k:{r}/gone:train"],
         "gone"),
        (["train", "--output_dir", f"{r}/t", *CPU, "--per_device_train_batch_size", "-1"],
         "per_device_train_batch_size must be at least 1"),
        (["train", "--output_dir", f"{r}/t", *CPU, "--w_iou", "-0.5"], "w_iou"),
        (["data", "synth", "--out", f"{r}/real", "--overwrite"], "not a synthetic set segr1 made"),
        (["data", "inspect", "--dataset", "folder", "--images", f"{r}/unpaired_images",
          "--masks", f"{r}/unpaired_masks"], "do not pair up"),
        (["prompt", "--task", "reasoning"], "needs a query"),
        (["prompt", "--task", "segment"], "unknown task 'segment'"),
    ]  # fmt: skip


def test_every_bad_input_is_one_clear_message(world):
    failures = []
    for argv, expected in cases(world):
        res = runner.invoke(app, argv)
        out = res.output
        clean = res.exception is None or isinstance(res.exception, SystemExit)
        ok = res.exit_code == 2 and expected in out and "Traceback" not in out and clean
        if not ok:
            failures.append(f"{' '.join(argv)}\n  exit {res.exit_code}: {out.strip()[-300:]!r}")
    assert not failures, "\n".join(failures)
    assert sorted(p.name for p in (world / "images").iterdir()) == ["a.png", "b.png"]
    assert (world / "real" / "Train" / "Image" / "keep.png").is_file()


def test_debug_shows_the_traceback(world):
    res = runner.invoke(app, ["--debug", "score", f"{world}/nope", f"{world}/masks"])
    assert res.exit_code != 2 and res.exception is not None  # raised, not reduced to a line
    assert "folder not found" in str(res.exception)
