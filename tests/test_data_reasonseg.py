"""ReasonSeg reader on LISA-format jpg + json files: queries, target and ignore polygons."""

import json

import numpy as np
import pytest
from PIL import Image

from segr1.data import load_dataset

H, W = 60, 80


def _write(folder, stem, shapes, text, is_sentence=True):
    folder.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((H, W, 3), 90, np.uint8)).save(folder / f"{stem}.jpg")
    anno = {"text": text, "is_sentence": is_sentence, "shapes": shapes}
    (folder / f"{stem}.json").write_text(json.dumps(anno))


def _rect(label, x1, y1, x2, y2):
    pts = [[x1, y1], [x2, y1], [x2, y2], [x1, y2]]
    return {"label": label, "points": pts, "shape_type": "polygon"}


@pytest.fixture
def root(tmp_path):
    val = tmp_path / "ReasonSeg" / "val"
    shapes = [
        _rect("ignore", 20, 20, 40, 40),  # inside the target: smaller, painted last
        _rect("target", 10, 10, 70, 50),
        _rect("flag", 0, 0, 79, 59),  # deprecated, skipped
    ]
    _write(val, "img_b", shapes, ["What would keep me dry?", "Where can I sit?"])
    _write(val, "img_a", [_rect("target", 5, 5, 14, 14)], "the cup", is_sentence=False)
    return tmp_path


def test_every_query_is_a_sample(root):
    samples = load_dataset("reasonseg", root, split="val")
    assert [s.id for s in samples] == ["img_a_0", "img_b_0", "img_b_1"]
    assert samples[0].query == "the cup" and samples[0].is_sentence is False
    assert samples[2].query == "Where can I sit?" and samples[2].is_sentence is True
    assert all(s.task == "reasoning" for s in samples)
    first = load_dataset("reasonseg", root / "ReasonSeg", split="val", first_query_only=True)
    assert [s.id for s in first] == ["img_a_0", "img_b_0"]


def test_target_and_ignore_polygons(root):
    s = load_dataset("reasonseg", root, split="val")[1]
    image, mask = s.load_pair()
    ignore = s.load_ignore()
    assert mask.shape == ignore.shape == image.shape[:2] == (H, W)
    assert ignore.dtype == bool and set(np.unique(mask)) == {0, 255}
    expect_ignore = np.zeros((H, W), bool)
    expect_ignore[20:41, 20:41] = True
    np.testing.assert_array_equal(ignore, expect_ignore)
    expect_target = np.zeros((H, W), bool)
    expect_target[10:51, 10:71] = True
    np.testing.assert_array_equal(mask > 0, expect_target & ~expect_ignore)
    assert not (mask[0, :] > 0).any()  # the "flag" shape drew nothing


def test_bad_files_are_errors(root, tmp_path):
    val = root / "ReasonSeg" / "val"
    (val / "img_a.jpg").unlink()
    with pytest.raises(FileNotFoundError, match=r"img_a\.json"):
        load_dataset("reasonseg", root, split="val")
    with pytest.raises(ValueError, match="train, val, test"):
        load_dataset("reasonseg", root, split="dev")
    bad = tmp_path / "bad"
    _write(bad, "x", [], [])
    with pytest.raises(ValueError, match="'text'"):
        load_dataset("reasonseg", bad, split="test")
