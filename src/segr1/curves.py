"""Curve data of a finished foreground run: ``curves.json`` beside ``metrics.json``.

``segr1 eval`` writes it (foreground tasks) from the same scoring loop that makes
``metrics.json``; ``segr1 report`` draws PR, F-measure-vs-threshold and E-measure-vs-threshold
curves from it without the data or the masks. Layout::

    {
      "thresholds": [255, 254, ..., 0],
      "threshold_rule": "...",
      "sources": {
        "masks":         {"count": N, "Precision": [...], "Recall": [...], "Fm": [...], "Em": [...]},
        "probabilities": {...}     # only with --save-prob
      }
    }

Each list has 256 entries aligned with ``thresholds`` (PySODMetrics' order): the dataset mean
over images of that image's value with its prediction binarised at that threshold. So
``mean(Fm) == metrics.meanFm`` and ``max(Fm) == metrics.maxFm`` (and ``metrics_prob`` for the
``probabilities`` source). A binary prediction has two distinct levels, so its curves are flat
except at the last threshold: a PR "curve" of one point. Soft predictions (``--save-prob``, or
the ``released`` profile's soft foreground masks) give real curves.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

CURVES_NAME = "curves.json"
CURVE_KEYS: tuple[str, ...] = ("Precision", "Recall", "Fm", "Em")
#: Sources of a run: the saved masks, and the segmenter's probability maps (--save-prob).
SOURCES: tuple[str, ...] = ("masks", "probabilities")
THRESHOLD_RULE = (
    "index i: each prediction min-max normalised (PySODMetrics), quantised to q = uint8(255 x "
    "value), binarised at q >= thresholds[i]; values are means over the images"
)


def thresholds() -> list[int]:
    """The 256 thresholds in curve order (255 down to 0)."""
    return [255 - i for i in range(256)]


def curve_record(curves: dict[str, np.ndarray], count: int) -> dict[str, Any]:
    """One source's JSON record from :meth:`ForegroundMetrics.curves` arrays."""
    missing = [k for k in CURVE_KEYS if k not in curves]
    if missing:
        raise ValueError(f"curves lack {missing}")
    return {"count": int(count), **{k: [float(v) for v in curves[k]] for k in CURVE_KEYS}}


def write_curves(run_dir: str | Path, sources: dict[str, dict[str, Any]]) -> Path:
    """Write ``curves.json`` with ``sources`` (name -> :func:`curve_record`)."""
    unknown = sorted(set(sources) - set(SOURCES))
    if unknown:
        raise ValueError(f"unknown curve sources {unknown}; choose from {SOURCES}")
    path = Path(run_dir) / CURVES_NAME
    data = {"thresholds": thresholds(), "threshold_rule": THRESHOLD_RULE, "sources": sources}
    path.write_text(json.dumps(data) + "\n", encoding="utf-8")
    return path


def read_curves(run_dir: str | Path) -> dict[str, dict[str, np.ndarray]]:
    """``{source: {key: (256,) array}}`` of a run folder; empty when it has no curves (a
    referring / reasoning run, or one made before curves were written)."""
    path = Path(run_dir) / CURVES_NAME
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return {
            name: {k: np.asarray(rec[k], np.float64) for k in CURVE_KEYS}
            for name, rec in data["sources"].items()
        }
    except (json.JSONDecodeError, KeyError, TypeError) as e:
        raise ValueError(f"{path}: not a segr1 curves file ({e})") from None
