"""The Pipeline over a dataset -> mask PNGs -> metrics -> report. Every sample is counted.

Output folder layout (``out``)::

    masks/<sample id>.png   8-bit mask at the ground truth's resolution (0 / 255)
    completions.jsonl        one record per sample: id, completion, parsed answer, parseable
    metrics.json             numbers + the conventions used to get them
    report.md                the same as a Markdown table

Contract:

* nothing is skipped: an unparseable answer becomes an empty mask and is counted; an unreadable
  image stops the run with its path named (fix the file or remove the sample, then resume);
* resumable: a mask PNG is written atomically before its completion record is appended, and a
  sample counts as finished only when both exist, so a re-run after an interruption continues
  where it stopped and ends with the same report as an uninterrupted run;
* metrics are computed from the PNGs on disk with the same code as ``segr1 score``, after all
  predictions exist, so the report describes exactly the files a user can re-score.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from segr1.data.io import read_mask, write_mask
from segr1.data.sample import Sample, check_unique_ids

FOREGROUND_KEYS = ("Sm", "meanEm", "wFm", "MAE", "adpEm", "maxEm", "adpFm", "meanFm", "maxFm")
CONVENTIONS_FOREGROUND = {
    "resize": "the policy sees the image stretched to S x S; the S x S mask is upsampled to the "
    "original (ground-truth) size before saving; scoring never resizes the ground truth",
    "normalisation": "PySODMetrics default: each prediction min-max normalised to [0, 1]",
    "E-measure": "PySODMetrics 1.6.2 (adaptive threshold 2 x mean, mean/max over 256 thresholds)",
    "F-measure": "beta^2 = 0.3; adaptive / mean / max over 256 thresholds",
    "weighted F": "beta = 1 (Margolin et al.), as PySODMetrics",
    "IoU / Dice": "prediction thresholded at 0.5 (> 127); 0 when both masks are empty",
    "empty ground truth": "scored as PySODMetrics does (S = 1 - mean(pred)); never skipped",
    "unparseable answers": "empty mask, counted in 'unparseable', never skipped",
}
CONVENTIONS_REFERRING = {
    "resize": "S x S mask upsampled to the original size",
    "cIoU": "total intersection / total union over every sample",
    "gIoU": "mean of per-sample IoU; a sample with empty prediction and empty ground truth "
    "scores 1.0 (documented in segr1.metrics)",
    "ignore pixels": "ReasonSeg 'ignore' regions are excluded from intersection and union",
    "samples": "every expression (RefCOCO family) / every query (ReasonSeg), in file order, "
    "deterministic; no sampling",
    "unparseable answers": "empty mask, counted in 'unparseable', never skipped",
}


@dataclass(frozen=True)
class Record:
    """One line of completions.jsonl."""

    id: str
    completion: str
    answer: dict
    parseable: bool  # the answer held a usable box or point (else: empty mask)

    def to_json(self) -> str:
        return json.dumps(self.__dict__, ensure_ascii=False)


def read_records(path: Path) -> dict[str, dict]:
    """Finished records by id; a torn last line (killed mid-write) is ignored and redone."""
    done: dict[str, dict] = {}
    if not path.exists():
        return done
    with path.open(encoding="utf-8") as f:
        for line in f:
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(rec, dict) and "id" in rec:
                done[rec["id"]] = rec
    return done


def _append(path: Path, records: Sequence[Record]) -> None:
    with path.open("a", encoding="utf-8") as f:
        for r in records:
            f.write(r.to_json() + "\n")
        f.flush()
        os.fsync(f.fileno())


def _repair_tail(path: Path) -> None:
    """Drop a torn final line so appended records start on a fresh line."""
    if not path.exists() or path.stat().st_size == 0:
        return
    data = path.read_bytes()
    if not data.endswith(b"\n"):
        path.write_bytes(data[: data.rfind(b"\n") + 1])


def predict_dataset(
    pipeline: Any,
    samples: Sequence[Sample],
    out: Path,
    batch_size: int = 8,
    progress: bool = True,
) -> dict[str, dict]:
    """Write a mask and a completion record for every sample not already finished."""
    masks_dir = out / "masks"
    masks_dir.mkdir(parents=True, exist_ok=True)
    log = out / "completions.jsonl"
    _repair_tail(log)
    done = read_records(log)
    todo = [s for s in samples if not (s.id in done and (masks_dir / f"{s.id}.png").exists())]
    bar = tqdm(
        total=len(samples),
        initial=len(samples) - len(todo),
        desc="eval",
        unit="img",
        disable=not progress,
    )
    for start in range(0, len(todo), batch_size):
        batch = todo[start : start + batch_size]
        images = [s.load_image() for s in batch]
        preds = pipeline.predict_batch(
            images, queries=[s.query for s in batch], is_sentence=[s.is_sentence for s in batch]
        )
        records = []
        for sample, pred in zip(batch, preds, strict=True):
            write_mask(masks_dir / f"{sample.id}.png", pred.mask)
            records.append(Record(sample.id, pred.completion, pred.answer.to_dict(), pred.parsed))
        _append(log, records)
        done.update({r.id: r.__dict__ for r in records})
        bar.update(len(batch))
    bar.close()
    return done


def score_dataset(samples: Sequence[Sample], masks_dir: Path, task: str) -> dict[str, float]:
    """Metrics of the saved masks against each sample's ground truth (the ``score`` code path)."""
    from segr1.metrics import ForegroundMetrics, ReferringMetrics

    fg = task == "foreground"
    acc = ForegroundMetrics() if fg else ReferringMetrics()
    for s in tqdm(samples, desc="score", unit="img", leave=False):
        pred, gt = read_mask(masks_dir / f"{s.id}.png"), s.load_mask()
        if pred.shape != gt.shape:
            raise ValueError(
                f"{masks_dir / (s.id + '.png')}: size {pred.shape} differs from its ground truth "
                f"{gt.shape}; delete it and re-run to predict it again"
            )
        if fg:
            acc.step(pred, gt)
        else:
            acc.step(pred > 127, gt > 127, s.load_ignore())
    return acc.results()


def write_report(out: Path, result: dict[str, Any]) -> None:
    (out / "metrics.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    m = result["metrics"]
    keys = [k for k in (*FOREGROUND_KEYS, "IoU", "Dice", "cIoU", "gIoU") if k in m]
    lines = [
        f"# Evaluation: {result['dataset']}",
        "",
        f"model `{result['model']}`, segmenter `{result['segmenter']}`, S = {result['side']}, "
        f"{result['count']} samples, {result['unparseable']} unparseable answers "
        f"(scored as empty masks).",
        "",
        "| " + " | ".join(keys) + " |",
        "|" + "---|" * len(keys),
        "| " + " | ".join(f"{m[k]:.4f}" for k in keys) + " |",
        "",
        "## Conventions",
        "",
        *[f"- **{k}**: {v}" for k, v in result["conventions"].items()],
        "",
    ]
    (out / "report.md").write_text("\n".join(lines), encoding="utf-8")


def evaluate(
    pipeline: Any,
    samples: Sequence[Sample],
    out: str | Path,
    *,
    dataset: str = "dataset",
    model: str = "",
    segmenter: str = "",
    batch_size: int = 8,
    progress: bool = True,
) -> dict[str, Any]:
    """Predict every sample (resuming), score the saved masks, write metrics.json + report.md."""
    out = Path(out)
    samples = list(samples)
    if not samples:
        raise ValueError(f"{dataset}: no samples to evaluate")
    check_unique_ids(samples, dataset)
    task = samples[0].task
    records = predict_dataset(pipeline, samples, out, batch_size, progress)
    metrics = score_dataset(samples, out / "masks", task)
    unparseable = sum(not records[s.id]["parseable"] for s in samples)
    result = {
        "dataset": dataset,
        "model": model,
        "segmenter": segmenter,
        "side": getattr(pipeline, "side", None),
        "task": task,
        "count": len(samples),
        "unparseable": unparseable,
        "parse_rate": 1.0 - unparseable / len(samples),
        "format_rate": sum(records[s.id]["answer"]["format_ok"] for s in samples) / len(samples),
        "metrics": {k: float(v) for k, v in metrics.items() if k != "count"},
        "conventions": CONVENTIONS_FOREGROUND if task == "foreground" else CONVENTIONS_REFERRING,
    }
    write_report(out, result)
    return result
