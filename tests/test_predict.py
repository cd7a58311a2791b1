"""``segr1 predict`` on a folder writes mask / overlay / JSON per image and names unreadable
images; ``draw_overlay`` draws the mask, boxes and label-coloured points."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from segr1.cli import app
from segr1.data.io import read_image, read_mask, write_image
from segr1.inference import collect_images
from segr1.overlay import BOX_COLOR, POINT_COLORS, draw_overlay
from segr1.policy import build_tiny_policy
from segr1.protocol.geometry import Prompts
from segr1.protocol.parse import parse_answer


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory):
    return build_tiny_policy(tmp_path_factory.mktemp("tiny") / "policy", seed=0)


def _images(folder):
    rng = np.random.default_rng(0)
    folder.mkdir()
    write_image(folder / "a.png", rng.integers(0, 256, (40, 64, 3), dtype=np.uint8))
    write_image(folder / "b.jpg", rng.integers(0, 256, (72, 48, 3), dtype=np.uint8))
    (folder / "notes.txt").write_text("not an image")
    return folder


def test_predict_folder_writes_mask_overlay_json(tiny_dir, tmp_path):
    images, out = _images(tmp_path / "imgs"), tmp_path / "out"
    args = ["predict", str(images), "--model", str(tiny_dir), "--out", str(out)]
    result = CliRunner().invoke(app, [*args, "--side", "64", "--max-new-tokens", "6"])
    assert result.exit_code == 0, result.output
    for stem, shape in (("a", (40, 64)), ("b", (72, 48))):
        assert read_mask(out / f"{stem}.png").shape == shape
        assert read_image(out / f"{stem}_overlay.jpg").shape == (*shape, 3)
        record = json.loads((out / f"{stem}.json").read_text())
        assert record["image"].endswith(stem + (".png" if stem == "a" else ".jpg"))
        assert parse_answer(record["completion"]).to_dict() == record["answer"]
    assert not (out / "notes.png").exists()


def test_predict_names_unreadable_images(tiny_dir, tmp_path):
    images, out = _images(tmp_path / "imgs"), tmp_path / "out"
    (images / "broken.png").write_bytes(b"\x89PNG not really")
    args = ["predict", str(images), "--model", str(tiny_dir), "--out", str(out)]
    result = CliRunner().invoke(app, [*args, "--side", "64", "--max-new-tokens", "2"])
    assert result.exit_code == 1
    assert "broken.png" in result.output
    assert (out / "a.png").exists() and (out / "b.png").exists()


def test_collect_images_errors_name_the_input(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"missing\.png"):
        collect_images([tmp_path / "missing.png"])
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(FileNotFoundError, match="no images"):
        collect_images([empty])
    images = _images(tmp_path / "imgs")
    with pytest.raises(ValueError, match="share the name"):
        collect_images([images, images / "a.png"])


def test_draw_overlay_tints_mask_and_draws_prompts():
    image = np.full((100, 120, 3), 128, np.uint8)
    mask = np.zeros((100, 120), bool)
    mask[20:60, 30:90] = True
    prompts = Prompts(
        boxes=np.array([[10, 10, 110, 90]], np.float32),
        points=np.array([[50, 40], [100, 80]], np.float32),
        labels=np.array([1, 0]),
    )
    out = draw_overlay(image, mask, prompts)
    assert out.shape == image.shape and out.dtype == np.uint8
    assert tuple(out[40, 50]) == POINT_COLORS[1] and tuple(out[80, 100]) == POINT_COLORS[0]
    assert tuple(out[50, 10]) == BOX_COLOR
    assert not np.array_equal(out[30, 60], image[30, 60])  # tinted inside the mask
    assert np.array_equal(out[95, 5], image[95, 5])  # untouched outside everything
    answer = parse_answer(
        "<bbox>[0,0,64,64]</bbox> <points>[[32,32]]</points> <labels>[1]</labels>"
    )
    scaled = draw_overlay(image, None, answer, side=128)  # model frame 128 -> 120 x 100
    assert tuple(scaled[25, 30]) == POINT_COLORS[1]


def test_predict_bad_settings_exit_cleanly(tiny_dir, tmp_path):
    images = _images(tmp_path / "imgs")
    args = ["predict", str(images), "--model", str(tiny_dir), "--out", str(tmp_path / "out")]
    result = CliRunner().invoke(app, [*args, "--task", "referring", "--side", "64"])
    assert result.exit_code == 2
    assert "needs a query" in result.output
    result = CliRunner().invoke(app, [*args[:3], "./no/such/policy", *args[4:]])
    assert result.exit_code == 2 and "no/such/policy" in result.output
