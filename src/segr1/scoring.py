"""Score a folder of predicted mask PNGs against a folder of ground-truth masks.

Contract: :func:`score_folders` pairs files by stem (``a.png`` in PRED_DIR scores against
``a.png`` / ``a.jpg`` ... in GT_DIR; flat folders, hidden files ignored, image suffixes only)
and returns the foreground metrics (:class:`segr1.metrics.ForegroundMetrics`, PySODMetrics'
conventions) plus what happened on the way, so nothing is silently skipped:

* a prediction whose size differs from its ground truth is resized to it (bilinear, OpenCV
  ``INTER_LINEAR``, as PySODEvalToolkit does) and counted in ``"resized"``;
* a ground truth without a prediction raises :class:`ScoringError` listing the stems, unless
  ``missing="empty"``: then it is scored as an all-zero mask and counted in ``"missing"``;
* predictions without a ground truth are listed in ``"unmatched_predictions"``, not scored;
* two files with the same stem in one folder raise :class:`ScoringError`;
* an unreadable file raises :class:`segr1.data.io.ImageReadError` naming its path.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from segr1.data.io import IMAGE_SUFFIXES, read_mask
from segr1.metrics import ForegroundMetrics

MISSING_POLICIES = ("error", "empty")
_SHOW = 50  # stems listed in an error message


class ScoringError(ValueError):
    """The folders cannot be scored as asked; the message says which files and what to do."""


def score_folders(
    pred_dir: str | os.PathLike,
    gt_dir: str | os.PathLike,
    missing: str = "error",
    progress: bool = True,
) -> dict:
    """Foreground metrics of PRED_DIR against GT_DIR; see the module docstring for the rules.

    Returns ``{"count", "Sm", "wFm", "MAE", "adpEm", "meanEm", "maxEm", "adpFm", "meanFm",
    "maxFm", "IoU", "Dice", "resized", "missing", "unmatched_predictions", "conventions"}``.
    """
    import cv2
    from tqdm import tqdm

    if missing not in MISSING_POLICIES:
        raise ScoringError(f"missing must be one of {MISSING_POLICIES}, got {missing!r}")
    preds, gts = _masks_by_stem(pred_dir, "prediction"), _masks_by_stem(gt_dir, "ground truth")
    if not gts:
        raise ScoringError(f"{gt_dir}: no ground-truth masks ({', '.join(IMAGE_SUFFIXES)})")
    absent = sorted(set(gts) - set(preds))
    if absent and missing == "error":
        raise ScoringError(
            f"{len(absent)} ground truth(s) in {gt_dir} have no prediction in {pred_dir}: "
            f"{_listing(absent)}. Predict them, or score them as empty masks "
            "(missing='empty', CLI --missing empty)."
        )
    metrics, resized = ForegroundMetrics(), 0
    for stem in tqdm(sorted(gts), desc="scoring", unit="mask", disable=not progress):
        gt = read_mask(gts[stem])  # (H, W) uint8
        pred = read_mask(preds[stem]) if stem in preds else np.zeros_like(gt)
        if pred.shape != gt.shape:
            pred = cv2.resize(pred, gt.shape[::-1], interpolation=cv2.INTER_LINEAR)
            resized += 1
        metrics.step(pred, gt)
    results = metrics.results()
    return {
        "count": results.pop("count"),
        **results,
        "resized": resized,
        "missing": len(absent),
        "unmatched_predictions": sorted(set(preds) - set(gts)),
        "conventions": _conventions(missing),
    }


def _masks_by_stem(folder: str | os.PathLike, what: str) -> dict[str, Path]:
    root = Path(folder)
    if not root.is_dir():
        raise ScoringError(f"{root}: {what} folder not found")
    found: dict[str, list[Path]] = {}
    for p in sorted(root.iterdir()):
        if p.is_file() and not p.name.startswith(".") and p.suffix.lower() in IMAGE_SUFFIXES:
            found.setdefault(p.stem, []).append(p)
    clashes = {stem: paths for stem, paths in found.items() if len(paths) > 1}
    if clashes:
        names = [" / ".join(p.name for p in paths) for paths in clashes.values()]
        raise ScoringError(
            f"{root}: {len(clashes)} {what} stem(s) match several files: {_listing(names)}; "
            "keep one file per stem"
        )
    return {stem: paths[0] for stem, paths in found.items()}


def _listing(items: list[str]) -> str:
    shown = ", ".join(items[:_SHOW])
    return shown if len(items) <= _SHOW else f"{shown} ... and {len(items) - _SHOW} more"


def _conventions(missing: str) -> dict[str, str]:
    return {
        "metrics": "PySODMetrics 1.6.2 defaults (values equal to 1e-6)",
        "ground_truth": "foreground is gt > 128",
        "prediction": "per-image min-max normalisation of value / 255 (PySODMetrics)",
        "IoU_Dice": "prediction > 0.5 after normalisation; 0 when both masks are empty",
        "resize": "prediction resized to the ground truth size, bilinear (cv2.INTER_LINEAR)",
        "missing": {"error": "missing predictions are an error", "empty": "scored as empty"}[
            missing
        ],
    }
