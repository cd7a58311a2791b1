"""The demo's report folder: ``report.md``, ``curves.png``, ``grid.png``, ``summary.json``.

Everything here comes from what the demo run wrote (evaluation outputs, written masks, the
trainer's log history); nothing is typed in by hand. Per-image S-measures (for the per-kind
means and the paired interval) are scored from the written masks with ``segr1.metrics``; the
reference rows run the same segmenter given each test image's ground-truth boxes (one around
all objects, or one per object), which tell how much room is left for a policy that localises
objects, and given a whole-frame box.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from segr1.data.io import read_mask, write_image
from segr1.evaluate import read_records
from segr1.overlay import draw_overlay
from segr1.protocol.parse import parse_answer

WHOLE_FRAME_PAYS = " (a whole-frame box pays: this segmenter invites the whole-frame hack)."
REFERENCE_PROMPTS = ("true-box", "object-boxes", "whole-frame")
REWARD_KEYS = ("reward", "rewards/segmentation/mean", "rewards/format_reward/mean")


def _series(history: list[dict], key: str) -> tuple[list[int], list[float]]:
    pts = [(h["step"], h[key]) for h in history if key in h and "step" in h]
    return [p[0] for p in pts], [float(p[1]) for p in pts]


def plot_curves(history: list[dict], path: Path) -> Path:
    """Mean reward (total and parts), usable-answer rate and IoU over GRPO steps."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.6))
    for key in REWARD_KEYS:
        x, y = _series(history, key)
        if x:
            ax1.plot(x, y, marker=".", label=key)
    ax1.set_xlabel("GRPO step")
    ax1.set_title("reward (mean over the step's rollouts)")
    ax1.legend(fontsize=7)
    for key in ("usable_rate", "rewardable_rate", "mean_iou"):
        x, y = _series(history, key)
        if x:
            ax2.plot(x, y, marker=".", label=key)
    ax2.set_xlabel("GRPO step")
    ax2.set_ylim(-0.02, 1.02)
    ax2.set_title("rollout usable-answer rate and IoU")
    ax2.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _panel(sample, eval_dir: Path, side: int, records: dict) -> np.ndarray:
    image = sample.load_image()
    mask = read_mask(eval_dir / "masks" / f"{sample.id}.png") > 127
    answer = parse_answer(records[sample.id]["completion"])
    return draw_overlay(image, mask, answer, side=side)


def plot_grid(samples, before_dir: Path, after_dir: Path, side: int, path: Path) -> Path:
    """Rows: test images. Columns: image + ground truth, before RL, after RL."""
    from segr1.overlay import tint

    rb = read_records(before_dir / "completions.jsonl")
    ra = read_records(after_dir / "completions.jsonl")
    rows = []
    for s in samples:
        gt = tint(s.load_image(), s.load_mask() > 127, color=(255, 255, 255))
        row = [gt, _panel(s, before_dir, side, rb), _panel(s, after_dir, side, ra)]
        h = max(p.shape[0] for p in row)
        pad = [np.pad(p, ((0, h - p.shape[0]), (0, 4), (0, 0)), constant_values=255) for p in row]
        rows.append(np.concatenate(pad, axis=1))
    w = max(r.shape[1] for r in rows)
    rows = [np.pad(r, ((0, 4), (0, w - r.shape[1]), (0, 0)), constant_values=255) for r in rows]
    header = _header(["ground truth", "before RL", "after RL"], w, rows[0].shape[1] // 3)
    write_image(path, np.concatenate([header, *rows], axis=0))
    return path


def _header(titles: list[str], width: int, column: int) -> np.ndarray:
    import cv2

    bar = np.full((22, width, 3), 255, np.uint8)
    for i, title in enumerate(titles):
        (w, _), _ = cv2.getTextSize(title, cv2.FONT_HERSHEY_SIMPLEX, 0.45, 1)
        scale = 0.45 * min(1.0, (column - 8) / w)  # a narrow column shrinks its title to fit
        cv2.putText(bar, title, (i * column + 4, 16), cv2.FONT_HERSHEY_SIMPLEX, scale,
                    (0, 0, 0), 1, cv2.LINE_AA)  # fmt: skip
    return bar


def per_image_s(test, eval_dir: Path) -> np.ndarray:
    """(N,) S-measure of each test image's written mask, in test order."""
    from segr1.metrics import SMeasure

    acc = SMeasure()
    scores = [acc.step(read_mask(eval_dir / "masks" / f"{s.id}.png"), s.load_mask())["Sm"]
              for s in test]  # fmt: skip
    return np.asarray(scores, dtype=np.float64)


def per_kind(test, scores: np.ndarray) -> dict[str, float]:
    """Mean S-measure per scene kind (the synthetic ids end with their kind)."""
    out = {}
    for kind in ("camouflage", "salient", "empty"):
        rows = [i for i, s in enumerate(test) if s.id.endswith(kind)]
        if rows:
            out[kind] = float(np.mean(scores[rows]))
    return out


def paired_change(before: np.ndarray, after: np.ndarray, resamples: int = 10_000) -> dict:
    """Per-item change from ``before`` to ``after`` (the report's per-image S-measure or box
    IoU; a benchmark's per-scene IoU of two segmenters): items better / worse / equal, and a
    95 % paired bootstrap interval of the mean change (seeded, so it is reproducible)."""
    diff = after - before  # (N,)
    rng = np.random.default_rng(0)
    means = diff[rng.integers(0, len(diff), (resamples, len(diff)))].mean(axis=1)
    low, high = np.percentile(means, [2.5, 97.5])
    return {"better": int((diff > 1e-9).sum()), "worse": int((diff < -1e-9).sum()),
            "equal": int((np.abs(diff) <= 1e-9).sum()), "mean": float(diff.mean()),
            "ci95": [float(low), float(high)]}  # fmt: skip


def reference_scores(test, side: int, segmenter, prompt: str = "true-box") -> dict[str, float]:
    """Metrics of ``segmenter`` given one fixed prompt per test image, no policy: ``true-box``
    (the tight box around all ground-truth pixels: the room left for a policy that localises),
    ``object-boxes`` (one tight box per object, :func:`segr1.metrics.grounding.object_boxes`:
    the protocol's several-box answer, masks OR-ed) or ``whole-frame`` (a box over the whole
    S x S frame: what the whole-frame hack earns).

    The box is written in the S x S frame the policy sees; segmentation runs there and the mask
    is upsampled to the original size, exactly as the evaluated pipeline does. An image without
    an object gets an empty mask under ``true-box`` and ``object-boxes``.
    """
    from segr1.metrics import ForegroundMetrics

    acc = ForegroundMetrics()
    for mask, gt in reference_masks(test, side, segmenter, prompt):
        acc.step(mask.astype(np.uint8) * 255, gt)
    return acc.results()


def reference_masks(
    test, side: int, segmenter, prompt: str = "true-box"
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """:func:`reference_scores`' masks, lazily: ``(mask, gt)`` per test image, the (H, W) bool
    mask at the ground truth's size (all False for an image without an object, but under
    ``whole-frame``) beside the ground truth as read. An unknown ``prompt`` is refused here,
    before any image is read."""
    if prompt not in REFERENCE_PROMPTS:
        raise ValueError(f"prompt={prompt!r}; choose one of {', '.join(REFERENCE_PROMPTS)}")
    return _reference_masks(test, side, segmenter, prompt)


def _reference_masks(test, side: int, segmenter, prompt: str):
    from segr1.imaging import binarize, resize_mask, stretch
    from segr1.metrics.grounding import mask_box, object_boxes
    from segr1.protocol.geometry import Prompts, scale_boxes, square

    for s in test:
        image, gt = s.load_pair()
        h, w = gt.shape
        truth = binarize(gt)
        mask = np.zeros((h, w), bool)
        if prompt == "whole-frame":
            box = np.array([[0, 0, side, side]], np.float32)
        elif truth.any():
            boxes = object_boxes(truth) if prompt == "object-boxes" else [mask_box(truth)]
            box = scale_boxes(np.array(boxes, np.float32), (w, h), square(side))  # -> model frame
        else:
            box = None
        if box is not None:
            prompts = Prompts(box, np.zeros((0, 2), np.float32), np.zeros(0, np.int64))
            small = segmenter(stretch(image, side), [prompts])[0]  # (S, S)
            mask = resize_mask(small, (w, h))
        yield mask, gt


def pick_grid_samples(test, n: int) -> list:
    """The first ``n`` test scenes that have an object, camouflaged ones first."""
    withobj = [s for s in test if "empty" not in s.id]
    camo = [s for s in withobj if "camouflage" in s.id]
    rest = [s for s in withobj if s not in camo]
    return (camo[: (n + 1) // 2] + rest)[:n] if camo else withobj[:n]


def _row(name: str, r: dict) -> str:
    m = r["metrics"]
    cells = [f"{m[k]:.4f}" for k in ("Sm", "meanEm", "wFm", "MAE", "IoU")]
    usable = f"{r['usable_rate']:.3f}" if "usable_rate" in r else "-"
    return f"| {name} | " + " | ".join(cells) + f" | {usable} |"


def _side_ratio(g: dict) -> str:
    """The median box / object side, or "-" when no image had both boxes."""
    ratio = g.get("median_side_ratio")
    return "-" if ratio is None else f"{ratio:.2f}"


def _grounding_line(name: str, g: dict, r: dict) -> str:
    m = r["metrics"]
    return (
        f"| {name} | {g['mean_box_iou']:.3f} | {g.get('mean_object_box_iou', 0.0):.3f} | "
        f"{g.get('mean_boxes', 0.0):.2f} | {g['distinct']} / {g['n']} | "
        f"{_side_ratio(g)} | {g['whole_frame_share']:.1%} | {g['no_box']} | "
        f"{m['Sm']:.4f} | {m['IoU']:.4f} |"
    )


def provenance(out: Path, warm: Path, segmenter_spec: str) -> str:
    """Where the two pretraining stand-ins came from (shipped or built by this run), with the
    rebuild's byte comparison when there was one."""
    from segr1.demo import SHIPPED

    def where(path: Path) -> str:
        p = Path(path).resolve()
        return "shipped (segr1/assets/demo)" if p.is_relative_to(SHIPPED) else f"built in {path}"

    parts = [f"warmed-up policy: {where(warm)}"]
    if segmenter_spec != "grabcut":
        parts.append(f"SAM2 stand-in: {where(Path(segmenter_spec))}")
    rebuilt = out / "rebuild.json"
    if rebuilt.exists():
        for name, row in json.loads(rebuilt.read_text()).items():
            if row.get("shipped") is None:
                parts.append(f"rebuilt {name}: no shipped model of this recipe")
            else:
                same = "byte for byte identical to" if row["identical"] else "DIFFERENT from"
                parts.append(f"rebuilt {name}: {same} the shipped one")
    return "Stand-ins: " + "; ".join(parts) + "."


def write_report(cfg, out: Path, test, before: dict, after: dict, history: list[dict],
                 seconds: float, segmenter, segmenter_name: str,
                 segmenter_spec: str, warm: Path | None = None, calls: int = 1,
                 unfinished: int = 0) -> Path:  # fmt: skip
    """Write ``out/report`` from the run's outputs; ``segmenter`` (the frozen one the run used,
    described as ``segmenter_name``, loaded from ``segmenter_spec``) scores the two no-policy
    reference rows; ``warm`` is the warmed-up policy RL started from (default
    ``out/policy/warmup``); ``seconds``: the run's wall time over its ``calls`` calls, of which
    ``unfinished`` were interrupted or failed (a re-run reuses finished stages)."""
    from segr1.demo import command_line, grpo_args
    from segr1.demo_grounding import describe_change, grounding_row, gt_boxes, hack_flags

    rep = out / "report"
    rep.mkdir(parents=True, exist_ok=True)
    plot_curves(history, rep / "curves.png")
    grid = pick_grid_samples(test, cfg.grid_images)
    plot_grid(grid, out / "eval_before", out / "eval_after", cfg.side, rep / "grid.png")
    delta = after["metrics"]["Sm"] - before["metrics"]["Sm"]
    warm = Path(warm) if warm is not None else out / "policy" / "warmup"
    s_image = {k: per_image_s(test, out / f"eval_{k}") for k in ("before", "after")}
    kinds = {k: per_kind(test, scores) for k, scores in s_image.items()}
    truth = gt_boxes(test, cfg.side)  # read once for both rows
    ground = {k: grounding_row(test, out / f"eval_{k}", cfg.side, truth)
              for k in ("before", "after")}  # fmt: skip
    reference = {p: reference_scores(test, cfg.side, segmenter, p) for p in REFERENCE_PROMPTS}
    paired = paired_change(s_image["before"], s_image["after"])
    box_paired, object_paired = (
        paired_change(*(np.asarray(ground[k][key]) for k in ("before", "after")))
        for key in ("box_iou_per_image", "object_box_iou_per_image")
    )
    flags = hack_flags(ground["before"], ground["after"], paired, box_paired, object_paired)
    quick = cfg.n_test < 100
    train_cmd = grpo_args(cfg, warm, out / "data", out / "grpo", segmenter_spec)
    room = reference["true-box"]["Sm"] - after["metrics"]["Sm"]
    hack_gap = reference["true-box"]["IoU"] - reference["whole-frame"]["IoU"]
    lines = [
        "# Seg-R1 demo report",
        "",
        f"Held-out synthetic test split: {before['count']} images "
        f"({'quick run: too few images for a conclusion' if quick else 'seeded, generated'}). "
        f"Policy: tiny {cfg.arch} (random init + supervised warm-up: "
        f"{cfg.vision_steps} vision-tower steps, {cfg.warmup_steps} answer steps"
        + (
            f" with target boxes {cfg.warmup_box_scale} times the object's side"
            if cfg.warmup_box_scale != 1.0
            else ""
        )
        + (", one target box per object" if cfg.warmup_per_object else "")
        + "), "
        f"segmenter: {segmenter_name}, frozen, S = {cfg.side}. "
        f"GRPO: {cfg.grpo_steps} steps. Wall time {seconds / 60:.1f} min"
        + (
            f", summed over the {calls} calls of segr1 demo in this folder"
            + (f" ({unfinished} of them interrupted or failed)" if unfinished else "")
            + "; later calls reuse finished stages."
            if calls > 1
            else "."
        ),
        "",
        provenance(out, warm, segmenter_spec),
        "",
        "## Masks",
        "",
        "| policy | S-measure ↑ | mean E ↑ | weighted F ↑ | MAE ↓ | IoU ↑ | usable answers ↑ |",
        "|---|---|---|---|---|---|---|",
        _row("before RL (warm-up only)", before),
        _row(f"after GRPO ({cfg.grpo_steps} steps)", after),
        _row(
            "reference: segmenter given the ground-truth box (no policy)",
            {"metrics": reference["true-box"]},
        ),
        _row(
            "reference: segmenter given one box per object (no policy)",
            {"metrics": reference["object-boxes"]},
        ),
        _row(
            "reference: segmenter given a whole-frame box (no policy)",
            {"metrics": reference["whole-frame"]},
        ),
        "",
        describe_change("S-measure", paired),
        "",
        "S-measure per scene kind: "
        + ", ".join(
            f"{k} {kinds['before'][k]:.3f} -> {kinds['after'][k]:.3f}" for k in kinds["before"]
        )
        + ".",
        "",
        f"Given the ground-truth box (one box around all of an image's objects) the segmenter "
        f"reaches S-measure "
        f"{reference['true-box']['Sm']:.4f}, {abs(room):.4f} "
        f"{'above' if room >= 0 else 'below'} the policy after RL; a whole-frame "
        f"box gets IoU {reference['whole-frame']['IoU']:.4f} against the true box's "
        f"{reference['true-box']['IoU']:.4f}"
        + (WHOLE_FRAME_PAYS if hack_gap <= 0.1 else ".")
        + f" Given one box per object it reaches IoU {reference['object-boxes']['IoU']:.4f}.",
        "",
        "## Grounding",
        "",
        "The policy's boxes against the ground truth's, in the S x S frame. Box IoU: the box "
        "around all of an answer's boxes against the box around all ground-truth pixels; "
        "object box IoU: the answer's boxes paired with the objects' boxes (one per connected "
        "region; a missing or a surplus box costs); box / object side: the median of "
        "sqrt(box area / ground-truth box area) of those two enclosing boxes, 1.00 is the "
        "object's size; distinct: different answers (all their boxes); whole-frame: an answer "
        "with a box over more than 90 % of the frame.",
        "",
        "| policy | mean box IoU ↑ | object box IoU ↑ | boxes / answer | distinct answers "
        "| box / object side | whole-frame answers | no box | S-measure ↑ | IoU ↑ |",
        "|---|---|---|---|---|---|---|---|---|---|",
        _grounding_line("before RL", ground["before"], before),
        _grounding_line("after RL", ground["after"], after),
        "",
        describe_change("Mean box IoU", box_paired, digits=3),
        "",
        describe_change("Object box IoU", object_paired, digits=3),
        "",
        "**Reward-hack flags:** "
        + ("none raised." if not flags else "")
        + "".join(f"\n- {f}" for f in flags),
        "",
        "![reward, usable-answer rate and IoU over the GRPO steps](curves.png)",
        "",
        "Columns: ground truth (white), before RL, after RL (mask tinted, box, points: "
        "green = object, red = background).",
        "",
        "![test images](grid.png)",
        "",
        "## Reproduce",
        "",
        "```bash",
        command_line(cfg),
        "# the RL stage alone:",
        "segr1 train " + shlex.join(train_cmd),
        "# re-score the written masks:",
        f"segr1 score {out / 'eval_after/masks'} {out / 'data/Test/GT_Object'}",
        "```",
        "",
    ]
    (rep / "report.md").write_text("\n".join(lines), encoding="utf-8")
    summary = {"before": before, "after": after, "delta_Sm": delta, "seconds": seconds, "calls": calls, "unfinished_calls": unfinished,
               "segmenter": segmenter_name, "per_kind_Sm": kinds, "grounding": ground,
               "reference_gt_box": reference["true-box"],
               "reference_object_boxes": reference["object-boxes"],
               "reference_whole_frame_box": reference["whole-frame"],
               "paired_Sm_change": paired, "paired_box_iou_change": box_paired,
               "paired_object_box_iou_change": object_paired,
               "flags": flags}  # fmt: skip
    (rep / "summary.json").write_text(json.dumps(summary, indent=1, default=str))
    return rep


def load_summary(report_dir: Path) -> dict[str, Any]:
    return json.loads((Path(report_dir) / "summary.json").read_text())
