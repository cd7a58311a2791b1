"""The Pipeline over a dataset -> mask PNGs -> metrics -> report. Every sample is counted.

Output folder layout (``out``)::

    run.json                 what produced the masks: model, segmenter, dataset, profile, ...
    masks/<sample id>.png    8-bit mask at the image's resolution (0 / 255, or soft levels
                             when the profile saves soft foreground masks)
    probs/<sample id>.png    with --save-prob: the segmenter's mask probability x 255
                             (inference.PROB_DESCRIPTION), scored as "metrics_prob"
    masks_turn1/<id>.png     with --max-turns N > 1: the FIRST answer's mask (the final one is in
                             masks/), scored as "metrics_turn1"
    completions.jsonl        one record per sample: id, completion, parsed answer, usable (and,
                             with --max-turns N > 1, "turns": every answer, revised, kept)
    metrics.json             numbers + the profile + the conventions used to get them
    curves.json              foreground: PR / F / E curves per threshold (segr1.curves)
    report.md                the same as a Markdown table

Contract:

* nothing is skipped: an answer that fails the answer format's validity gate becomes an empty
  mask and is counted (``unusable``); an unreadable image stops the run with its path named
  (fix the file or remove the sample, then resume);
* resumable: a mask PNG is written atomically before its completion record is appended, and a
  sample counts as finished only when both exist, so a re-run after an interruption continues
  where it stopped and ends with the same report as an uninterrupted run. ``run.json`` must
  match: resuming with another model, dtype, segmenter, dataset, prompt, side or any profile
  switch that changes masks is refused (the old masks would be reported as the new run's); the
  scoring-only switches (ignore rule, empty / empty score) and the sample selection may change,
  so a finished run can be re-scored or extended without predicting again;
* metrics are computed from the PNGs on disk by :func:`segr1.scoring.score_items`, the loop
  ``segr1 score`` runs, after all predictions exist, so the report describes exactly the files a
  user can re-score;
* several processes (``accelerate launch -m segr1.cli eval``, :class:`segr1.ranks.Ranks`): rank
  ``r`` of ``n`` predicts samples ``r, r + n, ...`` and appends to its own
  ``completions.rank<r>.jsonl``; a sample finished in ANY log of the folder is not redone, so a
  re-run (with any number of processes) continues where every rank stopped. Rank 0 waits for
  all, merges the logs into ``completions.jsonl`` (in sample order; the rank logs are then
  removed) and scores: the same files and report as one process.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from segr1.data.io import write_mask
from segr1.data.sample import Sample, check_unique_ids
from segr1.profiles import DEFAULT, Profile
from segr1.ranks import LOG_NAME, RANK_LOG_GLOB, Ranks
from segr1.scoring import Item, conventions, kind_of, score_items

RUN_NAME = "run.json"
PROBS_DIR = "probs"
TURN1_DIR = "masks_turn1"  # refinement episodes: the first turn's masks, scored as metrics_turn1
#: Report column order: the four numbers COD papers report first, then the rest.
REPORT_KEYS = ("Sm", "meanEm", "wFm", "MAE", "adpEm", "maxEm", "adpFm", "meanFm", "maxFm",
               "IoU", "Dice", "cIoU", "gIoU", "cIoU_ignore_excluded", "gIoU_ignore_excluded",
               "cIoU_ignore_background", "gIoU_ignore_background", "N_acc", "T_acc")  # fmt: skip


@dataclass(frozen=True)
class Record:
    """One line of completions.jsonl."""

    id: str
    completion: str
    answer: dict
    usable: bool  # passed the validity gate (else: an empty mask)
    error: str | None = None  # the image could not be read: an empty mask, redone on resume
    turns: dict | None = None  # a refinement episode: Prediction.turns_dict() (absent otherwise)

    def to_json(self) -> str:
        fields = {k: v for k, v in self.__dict__.items() if k != "turns" or v is not None}
        return json.dumps(fields, ensure_ascii=False)


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


def completion_logs(out: Path) -> list[Path]:
    """The completion logs in ``out``: ``completions.jsonl`` and every rank's own log."""
    return [p for p in [out / LOG_NAME, *sorted(out.glob(RANK_LOG_GLOB))] if p.exists()]


def read_all_records(out: Path) -> dict[str, dict]:
    """Finished records by id from every completion log in ``out``."""
    done: dict[str, dict] = {}
    for path in completion_logs(out):
        done.update(read_records(path))
    return done


def merge_logs(out: Path, samples: Sequence[Sample]) -> None:
    """Rewrite ``completions.jsonl`` as every record of every log, ``samples``' order first
    (then any other ids, as found), atomically; then remove the rank logs."""
    rank_logs = sorted(out.glob(RANK_LOG_GLOB))
    if not rank_logs:
        return
    done = read_all_records(out)
    order = list(dict.fromkeys([s.id for s in samples if s.id in done] + list(done)))
    tmp = out / f"{LOG_NAME}.tmp"
    with tmp.open("w", encoding="utf-8") as f:
        f.writelines(json.dumps(done[i], ensure_ascii=False) + "\n" for i in order)
        f.flush()
        os.fsync(f.fileno())
    tmp.replace(out / LOG_NAME)
    for path in rank_logs:
        path.unlink()


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
    log_name: str = LOG_NAME,
) -> dict[str, dict]:
    """Write a mask and a completion record (appended to ``log_name``) for every sample not
    already finished in any completion log of ``out``."""
    masks_dir = out / "masks"
    masks_dir.mkdir(parents=True, exist_ok=True)
    log = out / log_name
    _repair_tail(log)
    done = {k: r for k, r in read_all_records(out).items() if not r.get("error")}
    todo = [s for s in samples if not (s.id in done and (masks_dir / f"{s.id}.png").exists())]
    bar = tqdm(
        total=len(samples),
        initial=len(samples) - len(todo),
        desc="eval",
        unit="img",
        disable=not progress,
    )
    for start in range(0, len(todo), batch_size):
        records = _predict_batch(pipeline, todo[start : start + batch_size], masks_dir)
        _append(log, records)
        done.update({r.id: r.__dict__ for r in records})
        bar.update(len(records))
    bar.close()
    return done


def _predict_batch(pipeline: Any, batch: Sequence[Sample], masks_dir: Path) -> list[Record]:
    """Predict one batch; an unreadable image gets an empty mask at its ground truth's size
    (when that is readable) and a record naming the error, and is tried again on resume."""
    from segr1.data.io import ImageReadError
    from segr1.protocol.parse import Answer

    images, errors = {}, {}
    for s in batch:
        try:
            images[s.id] = s.load_image()
        except ImageReadError as e:
            errors[s.id] = str(e)
            tqdm.write(f"unreadable: {e}")
    ok = [s for s in batch if s.id in images]
    preds = pipeline.predict_batch(
        [images[s.id] for s in ok],
        queries=[s.query for s in ok],
        is_sentence=[s.is_sentence for s in ok],
    ) if ok else []  # fmt: skip
    by_id = dict(zip((s.id for s in ok), preds, strict=True))
    records = []
    for s in batch:
        if s.id in by_id:
            pred = by_id[s.id]
            if pred.prob is not None:  # before the mask: a finished sample has both
                write_mask(masks_dir.parent / PROBS_DIR / f"{s.id}.png", pred.prob)
            if pred.turns:  # before the final mask: a finished sample has both
                write_mask(masks_dir.parent / TURN1_DIR / f"{s.id}.png", pred.turns[0].levels)
            write_mask(masks_dir / f"{s.id}.png", pred.levels)
            turns = pred.turns_dict() if pred.turns else None
            records.append(
                Record(s.id, pred.completion, pred.answer.to_dict(), pred.usable, turns=turns)
            )
            continue
        with contextlib.suppress(ImageReadError):  # unreadable ground truth: scoring lists it
            # an empty prediction keeps the sample in the denominator
            empty = np.zeros(s.load_mask().shape, np.uint8)
            if getattr(pipeline, "max_turns", 1) > 1:
                write_mask(masks_dir.parent / TURN1_DIR / f"{s.id}.png", empty)
            write_mask(masks_dir / f"{s.id}.png", empty)
        records.append(Record(s.id, "", Answer().to_dict(), False, errors[s.id]))
    return records


def score_samples(
    samples: Sequence[Sample],
    masks_dir: Path,
    task: str,
    profile: Profile = DEFAULT,
    curves: bool = False,
) -> dict[str, Any]:
    """Metrics of the saved masks against each sample's own ground truth (the ``segr1 score``
    loop; a mask of the wrong size is an error here, since eval writes masks at GT size);
    ``curves``: also the foreground curves (see :func:`score_items`)."""
    items = [Item(s.id, masks_dir / f"{s.id}.png", s.load_mask, s.load_ignore) for s in samples]
    return score_items(
        items, kind_of(task), profile=profile, size_mismatch="error", total=len(items),
        curves=curves,
    )  # fmt: skip


def run_manifest(pipeline: Any, samples: Sequence[Sample], **fields: Any) -> dict[str, Any]:
    """What determines a run's masks (compared on resume): ``fields`` (dataset, root, split,
    model, segmenter), the sample ids, the profile's mask-deciding switches, the prompt, S, the
    budget, the dtype. (The sampling description and the scoring switches are not compared.)"""
    import hashlib

    profile = getattr(pipeline, "profile", DEFAULT)
    template = getattr(pipeline, "template", None)
    for key in ("model", "root"):
        value = fields.get(key)
        if value and Path(str(value)).exists():
            fields[key] = str(Path(str(value)).resolve())
    if getattr(pipeline, "probabilities", False):
        fields["save_prob"] = True  # absent otherwise, so older run folders still resume
    if getattr(pipeline, "max_turns", 1) > 1:
        fields["max_turns"] = pipeline.max_turns  # absent for single-turn runs, as before
    ids = hashlib.sha256("\n".join(s.id for s in samples).encode()).hexdigest()[:16]
    return {
        **fields,
        "samples": len(samples),
        "sample_ids_sha256": ids,
        "profile_switches": profile.generation(),
        "side": getattr(pipeline, "side", None),
        "template": template.name if template is not None else None,
        "max_new_tokens": getattr(pipeline, "max_new_tokens", None),
        "segment_at": getattr(pipeline, "segment_at", None),
        "dtype": str(getattr(getattr(pipeline, "model", None), "dtype", None)),
    }


def _differences(old: dict, new: dict, prefix: str = "") -> dict[str, tuple]:
    """``key -> (old, new)`` for every differing value; nested dicts compared key by key."""
    out: dict[str, tuple] = {}
    for key in sorted(set(old) | set(new)):
        a, b = old.get(key), new.get(key)
        if isinstance(a, dict) and isinstance(b, dict):
            out.update(_differences(a, b, f"{prefix}{key}."))
        elif a != b:
            out[f"{prefix}{key}"] = (a, b)
    return out


def clear_run(out: Path) -> list[Path]:
    """Delete what an evaluation wrote into ``out`` (run.json, completions, reports, and the
    masks its completion log names) and nothing else; returns the deleted files."""
    ids = list(read_all_records(out))
    files = [out / d / f"{i}.png" for d in ("masks", TURN1_DIR) for i in ids]
    files += [out / n for n in (RUN_NAME, "metrics.json", "report.md")] + completion_logs(out)
    gone = [p for p in files if p.is_file()]
    for p in gone:
        p.unlink()
    for d in ("masks", TURN1_DIR):
        if (out / d).is_dir() and not any((out / d).iterdir()):
            (out / d).rmdir()
    return gone


def check_outputs_apart(out: Path, samples: Sequence[Sample]) -> None:
    """Refuse an output folder that is one of the folders the samples are read from."""
    inputs = {p.parent.resolve() for s in samples for p in (s.image_path, s.mask_path) if p}
    for target in (out, out / "masks"):
        if target.resolve() in inputs:
            raise ValueError(
                f"--out {out}: {target} is where the dataset's images or masks are read from; "
                "write the evaluation elsewhere (outputs never go where inputs are read from)"
            )


def check_run(out: Path, manifest: dict[str, Any], force_new: bool = False) -> None:
    """Write ``run.json``, or refuse to resume into a folder made by another run
    (``force_new``: delete that run's own files and start over)."""
    path = out / RUN_NAME
    if force_new:
        clear_run(out)
    if path.exists():
        try:
            old = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as e:
            raise ValueError(
                f"{path}: unreadable ({e}); use another --out, or --force-new to start over"
            ) from None
        diff = _differences(old, manifest)
        if diff:
            shown = "; ".join(f"{k}: {a!r} -> {b!r}" for k, (a, b) in diff.items())
            raise ValueError(
                f"{out} holds a run with other settings ({shown}); its masks would be reported "
                "as this run's. Use another --out, or --force-new to delete that run's files "
                "and start over."
            )
        return
    if not force_new and ((out / "masks").exists() or completion_logs(out)):
        raise ValueError(
            f"{out} holds masks or completions but no {RUN_NAME} (made by another tool or an "
            "older segr1); use another --out, or --force-new to delete them and start over"
        )
    out.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")


def write_report(out: Path, result: dict[str, Any]) -> None:
    (out / "metrics.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    lines = [
        f"# Evaluation: {result['dataset']}",
        "",
        f"model `{result['model']}`, segmenter `{result['segmenter']}`, profile "
        f"`{result['profile']}`, prompt `{result['template']}`, S = {result['side']}, "
        f"{result['count']} samples ({result['sampling']}), {result['unusable']} unusable "
        "answers (scored as empty masks).",
        "",
        *_metric_table(result["metrics"]),
        *_turn_lines(result),
        *_prob_lines(result),
        *(
            [f"**{len(result['unreadable'])} unreadable file(s)** (an unreadable image scores as an "
             "empty mask; an unreadable ground truth is not scored):", "",
             *[f"- {m}" for m in result["unreadable"]], ""]
            if result.get("unreadable") else []
        ),
        *(
            [f"**{len(result['dropped'])} file(s) left out by the reader** (unpaired):", "",
             *[f"- {m}" for m in result["dropped"]], ""]
            if result.get("dropped") else []
        ),
        "## Conventions",
        "",
        *[f"- **{k}**: {v}" for k, v in result["conventions"].items()],
        "",
    ]  # fmt: skip
    (out / "report.md").write_text("\n".join(lines), encoding="utf-8")


def episode_summary(
    samples: Sequence[Sample], records: dict[str, dict], max_turns: int
) -> dict[str, Any]:
    """Refinement episodes of a run: mean turns, share revised / kept (an unreadable image's
    record has no turns: it counts as one unrevised turn)."""
    turns = [records[s.id].get("turns") or {} for s in samples]
    n = len(samples)
    return {
        "max_turns": max_turns,
        "mean_turns": sum(len(t.get("turns", [None])) for t in turns) / n,
        "revised_rate": sum(bool(t.get("revised")) for t in turns) / n,
        "kept_rate": sum(bool(t.get("kept")) for t in turns) / n,
    }


def _turn_lines(result: dict[str, Any]) -> list[str]:
    """Refinement episodes: the first turn's metrics and the episode counts."""
    m, e = result.get("metrics_turn1"), result.get("episodes")
    if not (m and e):
        return []
    return [
        f"Refinement: at most {e['max_turns']} answers per sample; mean {e['mean_turns']:.2f} "
        f"answers, {e['revised_rate']:.1%} of episodes revised their prompts, "
        f"{e['kept_rate']:.1%} kept an answer. The table above scores the FINAL masks; the "
        "first answer's masks score:",
        "",
        *_metric_table(m),
    ]


def _prob_lines(result: dict[str, Any]) -> list[str]:
    """The probability maps' metrics (``--save-prob``), as a second table."""
    m = result.get("metrics_prob")
    return ["Probability maps (probs/, --save-prob):", "", *_metric_table(m)] if m else []


def _metric_table(m: dict[str, float]) -> list[str]:
    """One row of metrics in :data:`REPORT_KEYS` order, as Markdown lines."""
    keys = [k for k in REPORT_KEYS if k in m]
    return [
        "| " + " | ".join(keys) + " |",
        "|" + "---|" * len(keys),
        "| " + " | ".join(f"{m[k]:.4f}" for k in keys) + " |",
        "",
    ]


def _scalars(metrics: dict[str, Any]) -> dict[str, float]:
    return {
        k: float(v)
        for k, v in metrics.items()
        if k not in ("count", "missing", "resized", "curves", "no_target_samples")
    }


def score_run(
    out: Path,
    samples: Sequence[Sample],
    task: str,
    profile: Profile,
    probabilities: bool,
    turns: bool = False,
) -> tuple[dict[str, Any], list[str]]:
    """Score a run folder's masks (and probability maps; with ``turns``, the first turn's masks
    of refinement episodes): ``({"metrics", "metrics_prob"?, "metrics_turn1"?}, unreadable
    files)``; writes ``curves.json`` for a foreground task."""
    from segr1.curves import curve_record, write_curves

    found = {"metrics": score_samples(samples, out / "masks", task, profile, curves=True)}
    if probabilities:
        found["metrics_prob"] = score_samples(samples, out / PROBS_DIR, task, profile, True)
    if turns:
        found["metrics_turn1"] = score_samples(samples, out / TURN1_DIR, task, profile)
    unreadable = found["metrics"].pop("unreadable")
    for m in found.values():
        m.pop("unreadable", None)
    sources = {"metrics": "masks", "metrics_prob": "probabilities"}
    curves = {
        sources[key]: curve_record(m["curves"], m["count"])
        for key, m in found.items()
        if "curves" in m
    }
    if curves:
        write_curves(out, curves)
    return {key: _scalars(m) for key, m in found.items()}, unreadable


def evaluate(
    pipeline: Any,
    samples: Sequence[Sample],
    out: str | Path,
    *,
    dataset: str = "dataset",
    model: str = "",
    segmenter: str = "",
    root: str | None = None,
    split: str | None = None,
    sampling: str = "every sample, in order",
    dropped: Sequence[str] = (),
    batch_size: int = 8,
    progress: bool = True,
    force_new: bool = False,
    ranks: Ranks | None = None,
) -> dict[str, Any] | None:
    """Predict every sample (resuming), score the saved masks, write metrics.json + report.md.
    ``sampling`` describes how ``samples`` were chosen; ``dropped`` names the files the reader
    left out (both reported as given). ``force_new`` starts over in a folder holding another
    run. With ``ranks`` of several processes, each predicts its shard and only rank 0 scores;
    the others return None."""
    ranks = ranks or Ranks()
    out = Path(out)
    dropped = list(dropped) or list(getattr(samples, "dropped", []))
    samples = list(samples)
    if not samples:
        raise ValueError(f"{dataset}: no samples to evaluate")
    check_unique_ids(samples, dataset)
    check_outputs_apart(out, samples)
    task = samples[0].task
    profile = getattr(pipeline, "profile", DEFAULT)
    manifest = run_manifest(
        pipeline, samples, dataset=dataset, root=root, split=split, model=model,
        segmenter=segmenter,
    )  # fmt: skip
    ranks.first(check_run, out, manifest, force_new)
    predict_dataset(
        pipeline, ranks.shard(samples), out, batch_size, progress, log_name=ranks.log_name()
    )
    ranks.barrier()
    if not ranks.main:
        return None
    merge_logs(out, samples)
    records = read_all_records(out)
    probabilities = bool(getattr(pipeline, "probabilities", False))
    max_turns = int(getattr(pipeline, "max_turns", 1))
    scored, unreadable_scores = score_run(
        out, samples, task, profile, probabilities, turns=max_turns > 1
    )
    unreadable = [
        f"{s.id}: {records[s.id]['error']}" for s in samples if records[s.id].get("error")
    ]
    unreadable += unreadable_scores
    unusable = sum(not records[s.id]["usable"] for s in samples)
    result = {
        **manifest,
        "profile": profile.name,
        "sampling": sampling,
        "task": task,
        "count": len(samples),
        "unusable": unusable,
        "unreadable": unreadable,
        "dropped": dropped,
        "usable_rate": 1.0 - unusable / len(samples),
        "format_rate": sum(records[s.id]["answer"]["format_ok"] for s in samples) / len(samples),
        **scored,
        "conventions": conventions(
            kind_of(task),
            profile,
            task=task,
            missing="never",
            size_mismatch="error",
            segment_at=getattr(pipeline, "segment_at", "model"),
            max_new_tokens=getattr(pipeline, "max_new_tokens", None),
        ),
    }
    if max_turns > 1:
        result["episodes"] = episode_summary(samples, records, max_turns)
        from segr1.episode import KEEP_RULE

        result["conventions"]["refinement"] = (
            f"at most {max_turns} answers per sample; after each answer the policy is shown the "
            f"mask it made and answers again; {KEEP_RULE}. metrics: the FINAL answer's masks "
            f"(masks/); metrics_turn1: the first answer's ({TURN1_DIR}/), scored the same way"
        )
    if probabilities:
        from segr1.inference import PROB_DESCRIPTION

        result["conventions"]["probability maps"] = (
            f"probs/<id>.png: {PROB_DESCRIPTION}; scored by the same rules into metrics_prob"
        )
    write_report(out, result)
    return result
