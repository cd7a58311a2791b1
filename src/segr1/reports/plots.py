"""Curve figures: per dataset, one figure with three panels - precision-recall, F-measure
against threshold, E-measure against threshold - one line per run (PNG and PDF). Drawing only:
the numbers come from the runs' ``curves.json``."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from segr1.curves import thresholds
from segr1.reports.runs import Entry

FORMATS = ("png", "pdf")


def plot_dataset(dataset: str, entries: Sequence[Entry], stem: Path) -> list[Path]:
    """Draw ``entries`` (runs on ``dataset`` that have curves) to ``stem.png`` / ``stem.pdf``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    x = np.asarray(thresholds())
    fig, axes = plt.subplots(1, 3, figsize=(13, 4.2), constrained_layout=True)
    pr, fm, em = axes
    for i, e in enumerate(entries):
        c = e.curves
        style = {"color": f"C{i % 10}", "label": e.label, "linewidth": 1.6}
        # binary predictions: thresholds 255..1 give one operating point (a marker); threshold
        # 0 (everything foreground) is left off the PR plot
        if len(np.unique(np.round(c["Recall"][:-1], 9))) == 1:
            pr.plot(c["Recall"][:1], c["Precision"][:1], marker="o", linestyle="none", **style)
        else:
            pr.plot(c["Recall"], c["Precision"], **style)
        fm.plot(x, c["Fm"], **style)
        em.plot(x, c["Em"], **style)
    pr.set(xlabel="recall", ylabel="precision", title=f"{dataset}: PR curve",
           xlim=(0, 1.01), ylim=(0, 1.01))  # fmt: skip
    fm.set(xlabel="threshold (0-255)", ylabel="F-measure (beta^2 = 0.3)",
           title=f"{dataset}: F-measure vs threshold", xlim=(0, 255), ylim=(0, 1.01))  # fmt: skip
    em.set(xlabel="threshold (0-255)", ylabel="E-measure",
           title=f"{dataset}: E-measure vs threshold", xlim=(0, 255), ylim=(0, 1.01))  # fmt: skip
    for ax in axes:
        ax.grid(alpha=0.3)
    pr.legend(loc="lower left", fontsize=8)
    stem.parent.mkdir(parents=True, exist_ok=True)
    paths = [stem.with_suffix(f".{fmt}") for fmt in FORMATS]
    for path in paths:
        fig.savefig(path, dpi=110)
    plt.close(fig)
    return paths
