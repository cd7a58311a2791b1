"""Report tables: one per task, a row per run, a column per (dataset, metric); the best value
of each column in bold (lowest for MAE, highest otherwise). Markdown and LaTeX show values at
``digits`` decimals; CSV keeps the full values of ``metrics.json``."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass

from segr1.reports.runs import Entry

#: Default columns per task: the numbers each literature reports first.
DEFAULT_METRICS: dict[str, tuple[str, ...]] = {
    "foreground": ("Sm", "meanEm", "wFm", "MAE", "maxEm", "maxFm"),
    "prerl": ("Sm", "meanEm", "wFm", "MAE", "maxEm", "maxFm"),
    "referring": ("cIoU", "gIoU"),
    "reasoning": ("gIoU", "cIoU"),
}
LOWER_IS_BETTER = frozenset({"MAE"})
LATEX_NAMES = {
    "Sm": r"$S_\alpha$", "wFm": r"$F^w_\beta$", "MAE": r"$M$",
    "adpEm": r"$E^{adp}_\phi$", "meanEm": r"$E^{mean}_\phi$", "maxEm": r"$E^{max}_\phi$",
    "adpFm": r"$F^{adp}_\beta$", "meanFm": r"$F^{mean}_\beta$", "maxFm": r"$F^{max}_\beta$",
}  # fmt: skip
Column = tuple[str, str]  # (dataset, metric)


@dataclass(frozen=True)
class Table:
    """One task's table: rows (label -> {column: value}) in run order."""

    task: str
    columns: list[Column]
    rows: dict[str, dict[Column, float]]

    def best(self, column: Column) -> float | None:
        values = [r[column] for r in self.rows.values() if column in r]
        if not values:
            return None
        return min(values) if column[1] in LOWER_IS_BETTER else max(values)


def build_tables(entries: Sequence[Entry], metrics: Sequence[str] = ()) -> list[Table]:
    """One :class:`Table` per task, in first-seen order; ``metrics``: the columns (default
    :data:`DEFAULT_METRICS`), each kept only where some run has it."""
    tables = []
    for task in dict.fromkeys(e.task for e in entries):
        mine = [e for e in entries if e.task == task]
        wanted = metrics or DEFAULT_METRICS.get(task, ())
        datasets = list(dict.fromkeys(e.dataset for e in mine))
        columns = [(d, m) for d in datasets for m in wanted
                   if any(e.dataset == d and m in e.metrics for e in mine)]  # fmt: skip
        rows: dict[str, dict[Column, float]] = {}
        for e in mine:
            row = rows.setdefault(e.label, {})
            row.update({(e.dataset, m): float(e.metrics[m]) for m in wanted if m in e.metrics})
        tables.append(Table(task, columns, rows))
    return tables


def _shown(table: Table, label: str, column: Column, digits: int, bold: str) -> str:
    """A cell at ``digits`` decimals, ``bold`` (a format with {}) when it ties the best."""
    value = table.rows[label].get(column)
    if value is None:
        return "-"
    text = f"{value:.{digits}f}"
    best = table.best(column)
    return bold.format(text) if best is not None and text == f"{best:.{digits}f}" else text


def _arrow(metric: str) -> str:
    return "↓" if metric in LOWER_IS_BETTER else "↑"


def to_markdown(table: Table, digits: int = 3) -> str:
    header = ["run", *(f"{d} {m} {_arrow(m)}" for d, m in table.columns)]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for label in table.rows:
        cells = [_shown(table, label, c, digits, "**{}**") for c in table.columns]
        lines.append("| " + " | ".join([label.replace("|", "\\|"), *cells]) + " |")
    return "\n".join(lines) + "\n"


def to_csv(table: Table) -> str:
    """Full-precision values (as in metrics.json); an empty cell where a run lacks a dataset."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["run", *(f"{d}/{m}" for d, m in table.columns)])
    for label, row in table.rows.items():
        writer.writerow([label, *(repr(row[c]) if c in row else "" for c in table.columns)])
    return buf.getvalue()


_LATEX = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#",
          "_": r"\_", "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}",
          "^": r"\textasciicircum{}"}  # fmt: skip


def latex_escape(text: str) -> str:
    return "".join(_LATEX.get(c, c) for c in text)


def to_latex(table: Table, digits: int = 3) -> str:
    """A ``tabular`` (plain \\hline rules, no package needed) with dataset column groups."""
    datasets = list(dict.fromkeys(d for d, _ in table.columns))
    per = {d: [m for dd, m in table.columns if dd == d] for d in datasets}
    spec = "l" + "".join("|" + "c" * len(per[d]) for d in datasets)
    groups = " & ".join(rf"\multicolumn{{{len(per[d])}}}{{c}}{{{latex_escape(d)}}}"
                        for d in datasets)  # fmt: skip
    arrows = {True: r"$\downarrow$", False: r"$\uparrow$"}
    names = " & ".join(
        LATEX_NAMES.get(m, latex_escape(m)) + arrows[m in LOWER_IS_BETTER] for _, m in table.columns
    )
    lines = [
        f"% segr1 report: task {table.task}; best value per column in bold",
        rf"\begin{{tabular}}{{{spec}}}",
        r"\hline",
        rf" & {groups} \\",
        rf"Run & {names} \\",
        r"\hline",
    ]
    for label in table.rows:
        cells = [_shown(table, label, c, digits, r"\textbf{{{}}}") for c in table.columns]
        cells = ["--" if c == "-" else c for c in cells]
        lines.append(" & ".join([latex_escape(label), *cells]) + r" \\")
    lines += [r"\hline", r"\end{tabular}"]
    return "\n".join(lines) + "\n"
