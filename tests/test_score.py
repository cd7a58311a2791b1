"""`segr1 score` and segr1.scoring.score_folders on generated mask folders."""

import json

import cv2
import numpy as np
import pytest
from typer.testing import CliRunner

from segr1.cli import app
from segr1.data.io import write_mask
from segr1.metrics import FOREGROUND_KEYS, ForegroundMetrics
from segr1.scoring import ScoringError, score_folders

runner = CliRunner()


def _pair(rng, h=40, w=50):
    gt = np.zeros((h, w), np.uint8)
    y, x = rng.integers(0, h // 2), rng.integers(0, w // 2)
    gt[y : y + h // 3, x : x + w // 3] = 255
    pred = np.clip(gt * 0.8 + rng.normal(0, 30, gt.shape), 0, 255).astype(np.uint8)
    return pred, gt


@pytest.fixture
def folders(tmp_path):
    """3 ground truths; predictions for all, one at half resolution."""
    rng = np.random.default_rng(0)
    pred_dir, gt_dir = tmp_path / "pred", tmp_path / "gt"
    arrays = {}
    for stem in ("a", "b", "c"):
        pred, gt = _pair(rng)
        if stem == "b":
            pred = cv2.resize(pred, (25, 20), interpolation=cv2.INTER_AREA)
        write_mask(pred_dir / f"{stem}.png", pred)
        write_mask(gt_dir / f"{stem}.png", gt)
        arrays[stem] = (pred, gt)
    return pred_dir, gt_dir, arrays


def test_scores_and_counts_a_resized_prediction(folders, tmp_path):
    pred_dir, gt_dir, arrays = folders
    out = tmp_path / "res" / "score.json"
    result = runner.invoke(app, ["score", str(pred_dir), str(gt_dir), "--json", str(out)])
    assert result.exit_code == 0, result.output
    assert "resized 1" in result.output and "Sm" in result.output
    saved = json.loads(out.read_text())
    assert saved["count"] == 3 and saved["resized"] == 1 and saved["missing"] == 0
    assert set(FOREGROUND_KEYS) <= set(saved)
    expected = ForegroundMetrics()
    for pred, gt in arrays.values():
        if pred.shape != gt.shape:
            pred = cv2.resize(pred, gt.shape[::-1], interpolation=cv2.INTER_LINEAR)
        expected.step(pred, gt)
    for key, value in expected.results().items():
        assert saved[key] == pytest.approx(value, abs=1e-12)


def test_missing_prediction_is_an_error_listing_the_stem(folders):
    pred_dir, gt_dir, _ = folders
    (pred_dir / "c.png").unlink()
    result = runner.invoke(app, ["score", str(pred_dir), str(gt_dir)])
    assert result.exit_code == 2
    assert "no prediction" in result.output and ": c." in result.output
    assert "--missing empty" in result.output


def test_missing_empty_scores_the_gap_as_an_empty_mask(folders):
    pred_dir, gt_dir, _ = folders
    (pred_dir / "c.png").unlink()
    res = score_folders(pred_dir, gt_dir, missing="empty", progress=False)
    assert res["count"] == 3 and res["missing"] == 1
    full = score_folders(gt_dir, gt_dir, progress=False)  # perfect predictions
    assert res["IoU"] < full["IoU"] == 1.0


def test_unmatched_prediction_is_listed_not_scored(folders, tmp_path):
    pred_dir, gt_dir, arrays = folders
    write_mask(pred_dir / "extra.png", arrays["a"][0])
    out = tmp_path / "s.json"
    result = runner.invoke(app, ["score", str(pred_dir), str(gt_dir), "--json", str(out)])
    assert result.exit_code == 0, result.output
    assert "without ground truth" in result.output and "extra" in result.output
    saved = json.loads(out.read_text())
    assert saved["count"] == 3 and saved["unmatched_predictions"] == ["extra"]


def test_unreadable_file_names_its_path(folders):
    pred_dir, gt_dir, _ = folders
    bad = pred_dir / "a.png"
    bad.write_bytes(b"not a png")
    result = runner.invoke(app, ["score", str(pred_dir), str(gt_dir)])
    assert result.exit_code == 1  # the others are scored; the unreadable one is listed
    assert str(bad) in result.output and "scored 2 mask(s)" in result.output
    res = score_folders(pred_dir, gt_dir, progress=False)
    assert res["count"] == 2 and len(res["unreadable"]) == 1 and "a.png" in res["unreadable"][0]
    for p in pred_dir.iterdir():
        p.write_bytes(b"junk")
    with pytest.raises(ScoringError, match="every file was unreadable"):
        score_folders(pred_dir, gt_dir, progress=False)


def test_folder_problems_are_clear_errors(folders, tmp_path):
    pred_dir, gt_dir, arrays = folders
    with pytest.raises(ScoringError, match="folder not found"):
        score_folders(tmp_path / "nope", gt_dir, progress=False)
    with pytest.raises(ScoringError, match="missing must be"):
        score_folders(pred_dir, gt_dir, missing="skip", progress=False)
    (tmp_path / "empty").mkdir()
    with pytest.raises(ScoringError, match="no ground-truth masks"):
        score_folders(pred_dir, tmp_path / "empty", progress=False)
    cv2.imwrite(str(pred_dir / "a.jpg"), arrays["a"][0])
    with pytest.raises(ScoringError, match=r"a\.jpg / a\.png|a\.png / a\.jpg"):
        score_folders(pred_dir, gt_dir, progress=False)
