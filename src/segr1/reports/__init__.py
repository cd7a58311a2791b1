"""``segr1 report RUN_DIR...``: tables and curves from finished ``segr1 eval`` runs.

:func:`build_report` reads run folders (:mod:`segr1.reports.runs`: metrics.json for numbers,
curves.json for curves; nothing is recomputed) and writes into ``out``::

    report.md                     the runs, every table, every figure, how to read them
    tables/<task>.md .csv .tex    one table per task: a row per run, columns (dataset, metric),
                                  best per column in bold (md, tex); csv at full precision
    curves/<dataset>.png .pdf     PR, F-vs-threshold, E-vs-threshold, one line per run
    curves.json                   the plotted curve data, per dataset and run

Two checkpoints compare side by side: ``segr1 report runs/ckpt-a runs/ckpt-b --out report``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path

from segr1.curves import THRESHOLD_RULE, thresholds
from segr1.reports.plots import plot_dataset
from segr1.reports.runs import Entry, collect_entries
from segr1.reports.tables import Table, build_tables, to_csv, to_latex, to_markdown

__all__ = ["Entry", "Table", "build_report", "build_tables", "collect_entries"]


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_") or "dataset"


def build_report(
    run_dirs: Sequence[str | Path],
    out: str | Path,
    *,
    labels: Sequence[str] = (),
    metrics: Sequence[str] = (),
    digits: int = 3,
) -> Path:
    """Write the report (see the module docstring) for ``run_dirs`` into ``out``; returns
    ``out/report.md``. ``labels``: one row name per RUN_DIR; ``metrics``: table columns."""
    out = Path(out)
    entries = collect_entries(run_dirs, labels)
    tables = build_tables(entries, metrics)
    (out / "tables").mkdir(parents=True, exist_ok=True)
    lines = ["# segr1 report", "", "## Runs", "", "| run | dataset | task | model | segmenter "
             "| profile | samples | folder |", "|---|---|---|---|---|---|---|---|"]  # fmt: skip
    for e in entries:
        a = e.about
        lines.append(f"| {e.label} | {e.dataset} | {e.task} | `{a.get('model')}` | "
                     f"`{a.get('segmenter')}` | {a.get('profile')} | {a.get('count')} | "
                     f"`{e.folder}` |")  # fmt: skip
    for table in tables:
        stem = out / "tables" / _slug(table.task)
        md = to_markdown(table, digits)
        stem.with_suffix(".md").write_text(md, encoding="utf-8")
        stem.with_suffix(".csv").write_text(to_csv(table), encoding="utf-8")
        stem.with_suffix(".tex").write_text(to_latex(table, digits), encoding="utf-8")
        lines += ["", f"## Table: {table.task}", "", f"Best per column in bold; {digits} "
                  f"decimals (full values in `tables/{stem.name}.csv`).", "", md.rstrip()]  # fmt: skip
    lines += _curves(entries, out)
    path = out / "report.md"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _curves(entries: Sequence[Entry], out: Path) -> list[str]:
    """Draw every dataset that has curves; write curves.json; the report's lines about them."""
    with_curves = [e for e in entries if e.curves]
    if not with_curves:
        return ["", "No curves: these runs have no curves.json (referring / reasoning tasks, "
                "or runs made before segr1 wrote curves)."]  # fmt: skip
    lines = ["", "## Curves", "", f"Thresholds: {THRESHOLD_RULE}. A run with binary masks has "
             "one operating point (a marker on the PR plot; flat F / E lines). Rows marked "
             "(prob) are the segmenter's probability maps (--save-prob).", ""]  # fmt: skip
    data: dict[str, dict[str, dict[str, list[float]]]] = {}
    for dataset in dict.fromkeys(e.dataset for e in with_curves):
        mine = [e for e in with_curves if e.dataset == dataset]
        stem = out / "curves" / _slug(dataset)
        plot_dataset(dataset, mine, stem)
        lines += [f"### {dataset}", "", f"![{dataset}](curves/{stem.name}.png)",
                  f"(PDF: `curves/{stem.name}.pdf`)", ""]  # fmt: skip
        data[dataset] = {e.label: {k: v.tolist() for k, v in e.curves.items()} for e in mine}
    payload = {"thresholds": thresholds(), "threshold_rule": THRESHOLD_RULE, "datasets": data}
    (out / "curves.json").write_text(json.dumps(payload) + "\n", encoding="utf-8")
    return lines
