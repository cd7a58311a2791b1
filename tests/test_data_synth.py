"""Synthetic camouflage benchmark: determinism, layout, kinds, and that camouflage is harder."""

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from segr1.cli import app
from segr1.data import load_dataset
from segr1.data.synth import generate, scene, scene_kinds
from segr1.data.synth_scene import SynthConfig, render_scene

CFG = SynthConfig(size=64)


def _files(root):
    return {p.relative_to(root): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_same_seed_same_bytes_other_seed_differs(tmp_path):
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    for out, seed in ((a, 3), (b, 3), (c, 4)):
        generate(out, 6, 2, seed=seed, config=CFG, progress=False)
    fa, fb, fc = _files(a), _files(b), _files(c)
    assert fa == fb
    images = [k for k in fa if "Image" in str(k)]
    assert len(images) == 8
    assert any(k not in fc or fa[k] != fc[k] for k in images)


def test_layout_meta_and_reader(tmp_path):
    meta = generate(tmp_path, 10, 4, seed=0, config=CFG, progress=False)
    train = load_dataset("synth", tmp_path, split="train")
    test = load_dataset("synth", tmp_path, split="test")
    assert len(train) == 10 and len(test) == 4
    on_disk = json.loads((tmp_path / "meta.json").read_text())
    assert on_disk["seed"] == 0 and on_disk["splits"]["train"]["n"] == 10
    kinds = {r["id"]: r["kind"] for r in meta["splits"]["train"]["scenes"]}
    assert sorted(kinds) == [s.id for s in train]
    for s in train:
        image, mask = s.load_pair()
        assert image.shape == (64, 64, 3) and set(np.unique(mask)) <= {0, 255}
        assert mask.any() == (kinds[s.id] != "empty")
    with pytest.raises(FileExistsError, match="overwrite"):
        generate(tmp_path, 2, 1, config=CFG, progress=False)
    generate(tmp_path, 2, 1, config=CFG, progress=False, overwrite=True)
    assert len(load_dataset("synth", tmp_path, split="train")) == 2  # no stale files


def test_kind_proportions_and_scene_independence():
    kinds = scene_kinds(200, 1, "train", SynthConfig())
    assert kinds.count("empty") == 6 and kinds.count("camouflage") == 116
    assert kinds != scene_kinds(200, 1, "test", SynthConfig())
    s1, s2 = scene(1, "train", 7, "salient", CFG), scene(1, "train", 7, "salient", CFG)
    np.testing.assert_array_equal(s1.image, s2.image)
    for box in s1.boxes:
        x1, y1, x2, y2 = box
        assert 0 <= x1 < x2 < 64 and 0 <= y1 < y2 < 64


def _contrast(kind: str, strength: float = 0.7, n: int = 24) -> float:
    """Mean distance between object and background mean colours (RGB levels)."""
    cfg = SynthConfig(size=96, camo_strength=strength, two_object_fraction=0.0)
    dists = []
    for i in range(n):
        sc = render_scene(np.random.default_rng([11, i]), kind, cfg)
        img, obj = sc.image.astype(np.float64), sc.mask > 0
        dists.append(np.linalg.norm(img[obj].mean(0) - img[~obj].mean(0)))
    return float(np.mean(dists))


def test_camouflage_is_closer_to_background_than_salient():
    camo, salient = _contrast("camouflage"), _contrast("salient")
    assert camo < 0.5 * salient
    assert _contrast("camouflage", strength=1.0) < _contrast("camouflage", strength=0.0)


def test_cli_synth(tmp_path):
    runner = CliRunner()
    args = ["data", "synth", "--out", str(tmp_path), "--n", "3", "--n-test", "1", "--size", "48"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert len(load_dataset("synth", tmp_path, split="test")) == 1
    again = runner.invoke(app, args)
    assert again.exit_code == 2 and "overwrite" in again.output
    inspect = runner.invoke(app, ["data", "inspect", "--dataset", "synth", "--root", str(tmp_path)])
    assert inspect.exit_code == 0 and "samples: 1" in inspect.output
