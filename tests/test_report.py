"""Several datasets in one `segr1 eval`, soft probability maps (--save-prob), curves.json, and
`segr1 report` over two "checkpoints" (GrabCut masks; SAM2 masks + probabilities): the tables'
numbers are metrics.json's, the curves are curves.json's and agree with metrics.json, the best
value per column is bold, figures exist as PNG and PDF."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from typer.testing import CliRunner

from segr1.cli import app
from segr1.curves import read_curves
from segr1.data.io import read_mask
from segr1.data.registry import load_dataset
from segr1.eval_many import DatasetChoice, parse_datasets
from segr1.evaluate import read_records
from segr1.inference import Pipeline
from segr1.reports.tables import Table, to_latex, to_markdown

SIDE = 96
DATASETS = ("synth-test", "synth-train")
runner = CliRunner()


def _eval(policy, root, out, *extra):
    res = runner.invoke(
        app,
        ["eval", "--model", str(policy), "--dataset", "synth:test,synth:train",
         "--root", str(root), "--out", str(out), "--side", str(SIDE), "--limit", "4",
         "--batch-size", "4", *extra],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    return out


@pytest.fixture(scope="module")
def runs(answering_policy_dir, synth_root, tmp_path_factory):
    base = tmp_path_factory.mktemp("runs")
    grabcut = _eval(answering_policy_dir, synth_root, base / "grabcut")
    sam2 = _eval(answering_policy_dir, synth_root, base / "sam2",
                 "--segmenter", "sam2-official-random-tiny", "--save-prob")  # fmt: skip
    return grabcut, sam2


@pytest.fixture(scope="module")
def report(runs, tmp_path_factory):
    out = tmp_path_factory.mktemp("report")
    res = runner.invoke(app, ["report", *map(str, runs), "--out", str(out)])
    assert res.exit_code == 0, res.output
    return out


def _metrics(run, dataset):
    return json.loads((run / dataset / "metrics.json").read_text())


def test_parse_datasets():
    assert parse_datasets("cod10k, camo") == [DatasetChoice("cod10k"), DatasetChoice("camo")]
    assert parse_datasets("dis5k:dis-te1,dis5k:dis-te2", "x")[1].label == "dis5k-dis-te2"
    assert parse_datasets("a,b", "test")[0] == DatasetChoice("a", "test")
    with pytest.raises(ValueError, match="more than once"):
        parse_datasets("camo,camo")
    with pytest.raises(ValueError, match="empty"):
        parse_datasets("camo,,cod10k")


def test_one_command_writes_one_run_folder_per_dataset(runs):
    grabcut, _ = runs
    for dataset in DATASETS:
        saved = _metrics(grabcut, dataset)
        assert saved["dataset"] == dataset and saved["count"] == 4
        assert len(list((grabcut / dataset / "masks").glob("*.png"))) == 4
    assert _metrics(grabcut, "synth-test")["unusable"] == 0  # the policy knows these images


def test_curves_agree_with_metrics_json(runs):
    for run in runs:
        for dataset in DATASETS:
            saved, curves = _metrics(run, dataset), read_curves(run / dataset)
            pairs = [("masks", saved["metrics"])]
            if "metrics_prob" in saved:
                pairs.append(("probabilities", saved["metrics_prob"]))
            assert set(curves) == {name for name, _ in pairs}
            for name, m in pairs:
                c = curves[name]
                assert c["Fm"].shape == c["Precision"].shape == (256,)
                assert m["meanFm"] == pytest.approx(c["Fm"].mean(), abs=1e-12)
                assert m["maxFm"] == pytest.approx(c["Fm"].max(), abs=1e-12)
                assert m["meanEm"] == pytest.approx(c["Em"].mean(), abs=1e-12)


def test_probability_maps_are_the_segmenters_and_soft(runs, synth_root, answering_policy_dir):
    _, sam2 = runs
    run = sam2 / "synth-test"
    saved = _metrics(sam2, "synth-test")
    assert "sigmoid" in saved["conventions"]["probability maps"]
    assert json.loads((run / "run.json").read_text())["save_prob"] is True
    pipe = Pipeline.from_pretrained(str(answering_policy_dir), segmenter="sam2-official-random-tiny",
                                    side=SIDE, probabilities=True)  # fmt: skip
    records = read_records(run / "completions.jsonl")
    for s in load_dataset("synth", synth_root, split="test")[:2]:
        prob = read_mask(run / "probs" / f"{s.id}.png")
        again = pipe.segment_completion(s.load_image(), records[s.id]["completion"])
        np.testing.assert_array_equal(prob, again.prob)  # this id's own answer, same path
        np.testing.assert_array_equal(read_mask(run / "masks" / f"{s.id}.png"), again.levels)
        assert len(np.unique(prob)) > 10  # soft
    # the probability source has a real PR curve; the binary masks have one operating point
    curves = read_curves(run)
    assert len(np.unique(curves["probabilities"]["Recall"].round(9))) > 10
    assert len(np.unique(curves["masks"]["Recall"].round(9))) <= 3


def test_resume_with_another_save_prob_is_refused(answering_policy_dir, synth_root, runs):
    _, sam2 = runs
    res = runner.invoke(
        app,
        ["eval", "--model", str(answering_policy_dir), "--dataset", "synth:test",
         "--root", str(synth_root), "--out", str(sam2 / "synth-test"), "--side", str(SIDE),
         "--limit", "4", "--segmenter", "sam2-official-random-tiny"],
    )  # fmt: skip
    assert res.exit_code == 2 and "save_prob" in res.output


def test_report_tables_equal_metrics_json(runs, report):
    grabcut, sam2 = runs
    with (report / "tables" / "foreground.csv").open() as f:
        rows = {r["run"]: r for r in csv.DictReader(f)}
    assert list(rows) == ["grabcut", "sam2", "sam2 (prob)"]
    expected = {"grabcut": (grabcut, "metrics"), "sam2": (sam2, "metrics"),
                "sam2 (prob)": (sam2, "metrics_prob")}  # fmt: skip
    md = (report / "tables" / "foreground.md").read_text()
    for label, (run, key) in expected.items():
        for dataset in DATASETS:
            m = _metrics(run, dataset)[key]
            for metric in ("Sm", "meanEm", "wFm", "MAE", "maxEm", "maxFm"):
                assert float(rows[label][f"{dataset}/{metric}"]) == m[metric]
        line = next(x for x in md.splitlines() if x.startswith(f"| {label} |"))
        shown = [c.strip().strip("*") for c in line.strip("|").split("|")[1:]]
        m = _metrics(run, "synth-test")[key]
        assert shown[:2] == [f"{m['Sm']:.3f}", f"{m['meanEm']:.3f}"]
    assert "synth-test Sm ↑" in md and "synth-test MAE ↓" in md
    assert (report / "tables" / "foreground.tex").read_text().count(r"\textbf{") >= 12
    report_md = (report / "report.md").read_text()
    assert md.strip() in report_md and "![synth-test](curves/synth-test.png)" in report_md


def test_report_curves_and_figures(runs, report):
    _, sam2 = runs
    for dataset in DATASETS:
        for suffix in (".png", ".pdf"):
            assert (report / "curves" / f"{dataset}{suffix}").stat().st_size > 5000
    data = json.loads((report / "curves.json").read_text())
    assert list(data["datasets"]["synth-test"]) == ["grabcut", "sam2", "sam2 (prob)"]
    mine = read_curves(sam2 / "synth-train")["probabilities"]["Fm"]
    np.testing.assert_array_equal(data["datasets"]["synth-train"]["sam2 (prob)"]["Fm"], mine)


def test_report_errors_are_clear(runs, tmp_path):
    res = runner.invoke(app, ["report", str(tmp_path), "--out", str(tmp_path / "r")])
    assert res.exit_code == 2 and "neither a finished run" in res.output
    res = runner.invoke(app, ["report", str(runs[0]), str(runs[0]), "--out", str(tmp_path / "r")])
    assert res.exit_code == 2 and "--label" in res.output
    res = runner.invoke(app, ["report", str(runs[0]), "--label", "a", "--label", "b",
                              "--out", str(tmp_path / "r")])  # fmt: skip
    assert res.exit_code == 2 and "2 --label value(s) for 1 run folder(s)" in res.output


def test_bold_marks_the_best_per_column_lowest_mae():
    cols = [("d", "Sm"), ("d", "MAE")]
    table = Table("foreground", cols, {
        "a": {cols[0]: 0.8, cols[1]: 0.05}, "b": {cols[0]: 0.9, cols[1]: 0.07},
        "c": {cols[0]: 0.9001, cols[1]: 0.05},
    })  # fmt: skip
    md = to_markdown(table, digits=3)
    assert "| a | 0.800 | **0.050** |" in md
    assert "| b | **0.900** | 0.070 |" in md and "| c | **0.900** | **0.050** |" in md
    tex = to_latex(Table("x_y", cols, {"run_1 & 2": table.rows["a"]}))
    assert r"run\_1 \& 2 & \textbf{0.800} & \textbf{0.050} \\" in tex
