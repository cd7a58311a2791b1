"""The one scoring loop: saved prediction PNGs against ground truths -> metrics, counts and the
conventions that produced them. ``segr1 score`` (two folders, :func:`score_folders`) and
``segr1 eval`` (a dataset's samples, :func:`segr1.evaluate.score_samples`) both build
:class:`Item` s and call :func:`score_items`; nothing else scores saved masks.

Rules of the loop (the same for both commands):

* predictions and ground truths are read by one rule (:func:`segr1.data.io.read_mask`: levels
  0..255, a 0/1 mask as 0/255);
* ``foreground``: :class:`segr1.metrics.ForegroundMetrics` (PySODMetrics' conventions: ground
  truth > 128, each prediction min-max normalised); ``referring``:
  :class:`segr1.metrics.ReferringMetrics` (cIoU / gIoU) on prediction and ground truth read as
  levels (a 0/1 mask is 0/255, for both) and binarised with :func:`segr1.imaging.binarize`
  (> 128), the profile deciding ignore pixels and the empty / empty score; when any sample has
  ignore pixels (ReasonSeg), cIoU / gIoU are ALSO reported under both ignore rules
  (``*_ignore_excluded``, ``*_ignore_background``);
* a prediction whose size differs from its ground truth is resized to it (bilinear, OpenCV
  ``INTER_LINEAR``, as PySODEvalToolkit does) and counted in ``"resized"``, or is an error
  (``size_mismatch="error"``);
* an item without a prediction is scored as an all-zero mask and counted in ``"missing"``;
* an item whose prediction or ground truth cannot be read is not scored; it is listed, with the
  reason naming the file, in ``"unreadable"`` (never dropped silently);
* no-target samples (an empty ground truth; gRefCOCO-style): when a split has any, ``"N_acc"``
  (the share of them predicted empty) and ``"T_acc"`` (the share of samples with a target
  predicted non-empty) are reported, with the counts; masks binarised at > 128;
* ``curves=True`` (foreground): the result also holds ``"curves"``, the split's 256-point
  precision, recall, F-measure and E-measure curves (:meth:`ForegroundMetrics.curves`).

:func:`conventions` writes the rules in words from the metric constants and the profile, so the
report and the code cannot disagree.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from segr1.data.io import IMAGE_SUFFIXES, ImageReadError, read_mask
from segr1.profiles import DEFAULT, Profile

KINDS: tuple[str, ...] = ("foreground", "referring")
IGNORE_RULES: tuple[str, ...] = ("excluded", "background")
MISSING_POLICIES = ("error", "empty")
SIZE_MISMATCH = ("resize", "error")
_SHOW = 50  # stems listed in an error message


class ScoringError(ValueError):
    """The predictions cannot be scored as asked; the message says which files and what to do."""


@dataclass(frozen=True)
class Item:
    """One scored sample: its prediction file (None: missing) and how to load its truth."""

    id: str
    pred: Path | None
    gt: Callable[[], np.ndarray]  # () -> (H, W) uint8 levels
    ignore: Callable[[], np.ndarray | None] = lambda: None  # () -> (H, W) bool or None


def kind_of(task: str) -> str:
    """The metric family of a task: foreground (and pre-RL) or referring (and reasoning)."""
    return "foreground" if task in ("foreground", "prerl") else "referring"


def score_items(
    items: Iterable[Item],
    kind: str = "foreground",
    *,
    profile: Profile = DEFAULT,
    size_mismatch: str = "resize",
    progress: bool = True,
    total: int | None = None,
    curves: bool = False,
) -> dict:
    """Metrics of every item (see the module docstring). Returns the metric values plus
    ``"count"``, ``"resized"``, ``"missing"``, ``"unreadable"`` (one message per item) and, with
    ``curves``, ``"curves"``."""
    import cv2
    from tqdm.auto import tqdm

    from segr1.imaging import binarize
    from segr1.metrics import ForegroundMetrics, ReferringMetrics

    if kind not in KINDS:
        raise ScoringError(f"kind must be one of {KINDS}, got {kind!r}")
    if size_mismatch not in SIZE_MISMATCH:
        raise ScoringError(f"size_mismatch must be one of {SIZE_MISMATCH}, got {size_mismatch!r}")
    fg = kind == "foreground"
    metrics = ForegroundMetrics() if fg else ReferringMetrics(empty_iou=profile.empty_iou)
    by_rule = {rule: ReferringMetrics(empty_iou=profile.empty_iou) for rule in IGNORE_RULES}
    has_ignore = False
    resized = missing = 0
    unreadable: list[str] = []
    targets = {"no_target": 0, "no_target_right": 0, "target": 0, "target_right": 0}
    for item in tqdm(items, total=total, desc="score", unit="mask", disable=not progress):
        try:
            gt = item.gt()  # (H, W) uint8 levels
            pred = None if item.pred is None else read_mask(item.pred)  # (h, w) uint8 as saved
        except ImageReadError as e:
            unreadable.append(f"{item.id}: {e}")
            continue
        if pred is None:
            pred, missing = np.zeros_like(gt), missing + 1
        if pred.shape != gt.shape:
            if size_mismatch == "error":
                raise ScoringError(
                    f"{item.pred}: size {pred.shape[::-1]} differs from its ground truth "
                    f"{gt.shape[::-1]} (width, height): predictions are made at the image's "
                    f"size, so sample {item.id!r}'s image and ground truth differ in size (fix "
                    "the pair), or this file is not this run's (delete it and run again)"
                )
            pred = cv2.resize(pred, gt.shape[::-1], interpolation=cv2.INTER_LINEAR)
            resized += 1
        has_target, predicted = bool(binarize(gt).any()), bool(binarize(pred).any())
        key = "target" if has_target else "no_target"
        targets[key] += 1
        targets[f"{key}_right"] += predicted == has_target
        if fg:
            metrics.step(pred, gt)
            continue
        pred_fg, gt_fg, ignore = binarize(pred), binarize(gt), item.ignore()
        metrics.step(pred_fg, gt_fg, ignore if profile.ignore == "exclude" else None)
        has_ignore = has_ignore or (ignore is not None and bool(ignore.any()))
        by_rule["excluded"].step(pred_fg, gt_fg, ignore)
        by_rule["background"].step(pred_fg, gt_fg, None)
    if not metrics.count:
        shown = "; ".join(unreadable[:5])
        raise ScoringError(
            f"nothing to score{': every file was unreadable: ' + shown if shown else ''}"
        )
    results = metrics.results()
    if has_ignore:
        for rule, acc in by_rule.items():
            both = acc.results()
            results.update(
                {f"cIoU_ignore_{rule}": both["cIoU"], f"gIoU_ignore_{rule}": both["gIoU"]}
            )
    if targets["no_target"]:
        results["N_acc"] = targets["no_target_right"] / targets["no_target"]
        results["T_acc"] = targets["target_right"] / max(targets["target"], 1)
    out = {"count": results.pop("count"), **results, "resized": resized, "missing": missing,
           "no_target_samples": targets["no_target"], "unreadable": unreadable}  # fmt: skip
    if curves and fg:
        out["curves"] = metrics.curves()  # {"Precision", "Recall", "Fm", "Em"}: (256,) each
    return out


def score_folders(
    pred_dir: str | os.PathLike,
    gt_dir: str | os.PathLike,
    missing: str = "error",
    kind: str = "foreground",
    profile: Profile = DEFAULT,
    progress: bool = True,
) -> dict:
    """Metrics of PRED_DIR against GT_DIR, files paired by stem (``a.png`` scores against
    ``a.png`` / ``a.jpg`` ...; flat folders, hidden files ignored, image suffixes only).

    A ground truth without a prediction raises :class:`ScoringError` listing the stems, unless
    ``missing="empty"`` (scored as an all-zero mask and counted); predictions without a ground
    truth are listed in ``"unmatched_predictions"``, not scored; two files with one stem in one
    folder raise. Returns the metrics, the counts, ``"unmatched_predictions"`` and
    ``"conventions"``."""
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
    items = [Item(stem, preds.get(stem), lambda p=gts[stem]: read_mask(p)) for stem in sorted(gts)]
    result = score_items(items, kind, profile=profile, progress=progress, total=len(items))
    return {
        **result,
        "task": kind,
        "profile": profile.name,
        "unmatched_predictions": sorted(set(preds) - set(gts)),
        "conventions": conventions(kind, profile, missing=missing, ignore_source=False),
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


def conventions(
    kind: str,
    profile: Profile = DEFAULT,
    *,
    task: str | None = None,
    missing: str = "error",
    size_mismatch: str = "resize",
    ignore_source: bool = True,
    segment_at: str = "model",
    max_new_tokens: int | None = None,
) -> dict[str, str]:
    """The scoring rules in words, generated from the metric constants and the profile's
    scoring switches; with ``task`` (an evaluation) also every other switch of the profile."""
    from segr1.metrics import convert as c

    out: dict[str, str] = {}
    if task is not None:
        out.update(profile.conventions(task, segment_at, max_new_tokens))
    level = f"level > {c.GT_THRESHOLD} is foreground; a 0/1 mask is read as 0/255"
    if kind == "foreground":
        out["metrics"] = (
            f"PySODMetrics {c.PYSODMETRICS_VERSION} definitions: S-measure alpha {c.S_ALPHA}, "
            f"weighted F beta {c.WF_BETA:g}, F-measure beta^2 {c.F_BETA2}, E/F curves over "
            f"{c.N_THRESHOLDS} thresholds (mean / max of the dataset curve), adaptive threshold "
            f"min({c.ADAPTIVE_FACTOR} x mean(pred), 1)"
        )
        out["ground truth"] = level
        out["prediction"] = "level / 255, min-max normalised per image (PySODMetrics)"
        out["IoU / Dice"] = (
            f"normalised prediction > {c.BINARY_THRESHOLD}; 0 when both masks are empty"
        )
        out["empty ground truth"] = "scored as PySODMetrics does (S = 1 - mean(pred)); kept"
    else:
        out["binarisation"] = f"prediction and ground truth: {level}"
        out["cIoU"] = "total intersection / total union over every sample"
        out["gIoU"] = (
            "mean of per-sample IoU; an empty prediction on an empty ground truth scores "
            f"{profile.empty_iou:g}"
        )
        rule = (
            "excluded from intersection and union"
            if profile.ignore == "exclude"
            else "counted as background"
        )
        out["ignore pixels"] = (
            f"{rule} in cIoU / gIoU; both rules also reported (*_ignore_excluded, "
            "*_ignore_background) when a sample has ignore pixels (ReasonSeg)"
            if ignore_source
            else "none: mask folders carry no ignore regions"
        )
    out["size"] = (
        "a prediction of another size is resized to the ground truth (bilinear, "
        "cv2.INTER_LINEAR) and counted"
        if size_mismatch == "resize"
        else "a prediction of another size is an error"
    )
    out["missing"] = {
        "error": "a ground truth without a prediction is an error",
        "empty": "a ground truth without a prediction is scored as an empty mask and counted",
        "never": "every sample has a prediction; an unusable answer is an empty mask, counted",
    }[missing]
    return out
