"""Seg-Zero vs Seg-R1 answer format, and abstention on vs off, on the demo's synthetic data.

One synthetic set (``segr1.demo.build_data`` with ``--empty-rate`` empty scenes), one frozen
segmenter (the demo's: the SAM2 stand-in it trains, or GrabCut), one tiny base policy. Three arms,
each warmed up in its own way for the same steps (``segr1.policy.warmup`` with the arm's
``answer_format`` / ``abstain``; one seed, so every arm sees the same noisy boxes and object
points), then GRPO for the same budget (steps, prompts per step, G, learning rate, temperature,
completion length, seed) with the same mask reward, evaluated with ``segr1.evaluate`` on the same
held-out scenes before and after GRPO:

* ``seg-r1``: Seg-R1 tags, rewards ``format`` + ``segmentation``;
* ``seg-zero``: Seg-Zero JSON (one box, two object points), rewards ``thinking_format`` +
  ``segmentation``;
* ``seg-r1+abstain``: as ``seg-r1`` with ``abstain`` in warm-up, GRPO and evaluation.

``segmentation`` is ``0.7 IoU + 0.3 S-measure`` of the frozen segmenter's mask (an abstention on an
empty ground truth earns 1, where an object exists 0). Per held-out image: S-measure and IoU of
the saved mask against the ground truth, whether the mask is non-empty, whether the answer was
usable. Table (a) compares the formats, table (b) abstention; each cell is a mean with its 95 %
interval (mean +- 1.96 sd / sqrt(n)); paired rows are the per-image differences of two arms on
the same images. Object scenes: ground truth non-empty; empty scenes: ground truth empty.
N_acc = share of empty scenes with an empty mask, T_acc = share of object scenes with a
non-empty one.

Run: ``OMP_NUM_THREADS=1 python benchmarks/formats_compare.py --out runs/formats_compare``
(``--help`` lists the sizes). Every stage is reused when its output exists. Prints the two
Markdown tables, the command and the wall time; writes them to ``OUT/formats_compare.md`` and the
per-image values to ``OUT/formats_compare.json``.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from dataclasses import replace
from pathlib import Path

from refine_compare import interval

ARMS = {  # name: (answer format, abstain, rewards)
    "seg-r1": ("seg-r1", False, ["format", "segmentation"]),
    "seg-zero": ("seg-zero", False, ["thinking_format", "segmentation"]),
    "seg-r1+abstain": ("seg-r1", True, ["format", "segmentation"]),
}


def per_image(out: Path, samples) -> dict[str, list]:
    """Per sample: S-measure, IoU, mask non-empty (``pred``) or empty (``none``), ground truth
    empty, answer usable, answer abstained."""
    from segr1.data.io import read_mask
    from segr1.imaging import binarize
    from segr1.metrics import iou, s_measure

    records = {}
    for line in (out / "completions.jsonl").read_text().splitlines():
        r = json.loads(line)
        records[r["id"]] = r
    keys = ("Sm", "IoU", "pred", "none", "empty", "usable", "abstain", "boxes")
    rows: dict[str, list] = {k: [] for k in keys}
    for s in samples:
        pred, gt = binarize(read_mask(out / "masks" / f"{s.id}.png")), binarize(s.load_mask())
        rows["Sm"].append(float(s_measure(pred, gt)))
        rows["IoU"].append(float(iou(pred, gt)))
        rows["pred"].append(float(pred.any()))
        rows["none"].append(float(not pred.any()))
        rows["empty"].append(not gt.any())
        rows["usable"].append(float(records[s.id]["usable"]))
        rows["abstain"].append(float(records[s.id]["answer"].get("abstain", False)))
        rows["boxes"].append(json.dumps(records[s.id]["answer"]["boxes"]))
    return rows


def pick(m: dict[str, list], key: str, empty: bool | None) -> list[float]:
    """``m[key]`` on empty scenes (True), object scenes (False) or all (None)."""
    return [v for v, e in zip(m[key], m["empty"], strict=True) if empty is None or e == empty]


def cell(values: list[float], signed: bool = False) -> str:
    if not values:  # e.g. no empty scene with --empty-rate 0
        return "-"
    mean, half = interval(values)
    return f"{mean:+.3f} ± {half:.3f}" if signed else f"{mean:.3f} ± {half:.3f}"


def table(results: dict, columns: list[tuple[str, str, bool | None]], rows, paired) -> list[str]:
    """Markdown: one row per (arm, stage), then paired difference rows (b - a)."""
    lines = ["| arm | " + " | ".join(h for h, _, _ in columns) + " |"]
    lines.append("|---|" + "---|" * len(columns))
    for label, key in rows:
        m = results[key]
        lines.append(
            f"| {label} | " + " | ".join(cell(pick(m, k, e)) for _, k, e in columns) + " |"
        )
    for label, a, b in paired:
        cells = []
        for _, k, e in columns:
            d = [y - x for x, y in zip(pick(results[a], k, e), pick(results[b], k, e), strict=True)]
            cells.append(cell(d, signed=True))
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return lines


def check_reuse(out: Path, args: argparse.Namespace) -> None:
    """Stages are reused by folder name: refuse a folder made with other sizes."""
    path, mine = out / "formats_compare_args.json", {**vars(args), "arms": None}
    if path.exists():
        theirs = {**json.loads(path.read_text()), "arms": None}
        if theirs != mine:
            diff = sorted(k for k in mine if theirs.get(k) != mine[k])
            raise SystemExit(
                f"{out} was made with other settings ({', '.join(diff)}): use another --out"
            )
    out.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(mine, indent=1))


def grpo_line(out: Path, arm: str, key: str, k: int = 5) -> str:
    """Mean of a logged GRPO value over the first and the last ``k`` steps."""
    path = out / f"grpo_{arm}" / "log_history.json"
    values = [h[key] for h in json.loads(path.read_text()) if key in h] if path.exists() else []
    if len(values) < 2 * k:
        return f"{arm}: {key} not logged"
    first, last = sum(values[:k]) / k, sum(values[-k:]) / k
    return f"{arm}: {key} {first:.3f} (steps 1-{k}) -> {last:.3f} (last {k})"


def main(argv: list[str]) -> str:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default="runs/formats_compare")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--segmenter", choices=("sam2", "grabcut"), default="sam2")
    ap.add_argument("--n-train", type=int, default=320)
    ap.add_argument("--n-test", type=int, default=120)
    ap.add_argument("--empty-rate", type=float, default=0.25)
    ap.add_argument("--warmup-steps", type=int, default=300)
    ap.add_argument("--grpo-steps", type=int, default=30)
    ap.add_argument("--num-generations", type=int, default=8)
    ap.add_argument("--prompts-per-step", type=int, default=4)
    ap.add_argument("--max-completion-length", type=int, default=80)
    ap.add_argument("--arms", nargs="+", choices=tuple(ARMS), default=list(ARMS))
    args = ap.parse_args(argv)

    import torch

    from segr1.data.registry import load_dataset
    from segr1.demo import (
        FULL,
        MEASURED_POLICY,
        MEASURED_SEGMENTER,
        build_data,
        build_frozen_segmenter,
        build_policy,
        evaluate_policy,
        grpo_args,
        segmenter_label,
    )
    from segr1.segment import build_segmenter
    from segr1.train.config import parse_config
    from segr1.train.main import train

    torch.set_num_threads(1)
    cfg = replace(
        FULL,
        out=args.out,
        seed=args.seed,
        segmenter=args.segmenter,
        n_train=args.n_train,
        n_test=args.n_test,
        warmup_steps=args.warmup_steps,
        grpo_steps=args.grpo_steps,
        num_generations=args.num_generations,
        prompts_per_step=args.prompts_per_step,
        max_completion_length=args.max_completion_length,
    )
    cfg = replace(cfg, pretrain_seed=cfg.seed, **MEASURED_POLICY, **MEASURED_SEGMENTER)
    out = Path(args.out)
    t0 = time.perf_counter()
    times: dict[str, float] = {}
    check_reuse(out, args)
    build_data(cfg, out / "data", empty_fraction=args.empty_rate)
    train_set = load_dataset("synth", out / "data", split="train")
    test = load_dataset("synth", out / "data", split="test")
    seg_name = build_frozen_segmenter(cfg, out)
    segmenter = build_segmenter(seg_name)
    times["data + segmenter"] = time.perf_counter() - t0
    results: dict[str, dict] = {}
    for arm in args.arms:
        t = time.perf_counter()
        fmt, abstain, rewards = ARMS[arm]
        warm_cfg = replace(cfg.warmup, answer_format=fmt, abstain=abstain)
        warm = build_policy(cfg, out, train_set, warm_cfg, name=f"warmup_{arm}")
        kw = {"answer_format": fmt, "abstain": abstain}
        evaluate_policy(cfg, warm, test, out / f"eval_{arm}_before", segmenter, **kw)
        run = out / f"grpo_{arm}"
        grpo = grpo_args(cfg, warm, out / "data", run, seg_name)
        grpo += ["--answer_format", fmt, "--rewards", *rewards, "--abstain", str(abstain).lower(),
                 "--save_strategy", "no", "--rollout_log_steps", "0"]  # fmt: skip
        if not (run / "final" / "config.json").exists():
            history = train(parse_config(grpo)).log_history
            (run / "log_history.json").write_text(json.dumps(history, indent=1))
        evaluate_policy(cfg, run / "final", test, out / f"eval_{arm}_after", segmenter, **kw)
        for stage in ("before", "after"):
            results[f"{arm}/{stage}"] = per_image(out / f"eval_{arm}_{stage}", test)
        times[arm] = time.perf_counter() - t
    wall = time.perf_counter() - t0

    n_empty = sum(results[next(iter(results))]["empty"])
    n_obj, n = len(test) - n_empty, len(test)
    lines = [
        f"Held-out: {n} synthetic scenes ({n_obj} with objects, {n_empty} empty); segmenter: "
        f"{segmenter_label(cfg)}; warm-up {cfg.warmup_steps} steps per arm; GRPO "
        f"{cfg.grpo_steps} steps x {cfg.prompts_per_step} prompts x G = {cfg.num_generations}, "
        f"lr {cfg.grpo_lr}, temperature {cfg.temperature}, {cfg.max_completion_length} new "
        f"tokens, seed {cfg.seed}. Mean ± 95 % interval (1.96 sd / sqrt(n)) per image.",
        "",
    ]
    if {"seg-r1", "seg-zero"} <= set(args.arms):
        columns = [
            (f"S-measure, objects (n={n_obj})", "Sm", False),
            (f"IoU, objects (n={n_obj})", "IoU", False),
            (f"S-measure, empty (n={n_empty})", "Sm", True),
            (f"usable answers (n={n})", "usable", None),
        ]
        rows = [
            ("Seg-R1, warm-up only", "seg-r1/before"),
            ("Seg-R1, after GRPO", "seg-r1/after"),
            ("Seg-Zero, warm-up only", "seg-zero/before"),
            ("Seg-Zero, after GRPO", "seg-zero/after"),
        ]
        paired = [
            ("paired: Seg-R1 GRPO gain (after - before)", "seg-r1/before", "seg-r1/after"),
            ("paired: Seg-Zero GRPO gain", "seg-zero/before", "seg-zero/after"),
            ("paired: Seg-Zero - Seg-R1, after GRPO", "seg-r1/after", "seg-zero/after"),
        ]
        lines += [
            "(a) Seg-Zero vs Seg-R1 format, same mask reward (`segmentation` = 0.7 IoU + 0.3 "
            "S-measure) plus each format's own format reward (Seg-R1: `format`; Seg-Zero: "
            "`thinking_format`):",
            "",
            *table(results, columns, rows, paired),
            "",
        ]
    if {"seg-r1", "seg-r1+abstain"} <= set(args.arms):
        columns = [
            (f"S-measure, empty (n={n_empty})", "Sm", True),
            (f"N_acc, empty (n={n_empty})", "none", True),
            (f"abstained, empty (n={n_empty})", "abstain", True),
            (f"T_acc, objects (n={n_obj})", "pred", False),
            (f"abstained, objects (n={n_obj})", "abstain", False),
            (f"S-measure, objects (n={n_obj})", "Sm", False),
            (f"IoU, objects (n={n_obj})", "IoU", False),
        ]
        rows = [
            ("no abstention, warm-up only", "seg-r1/before"),
            ("no abstention, after GRPO", "seg-r1/after"),
            ("abstention, warm-up only", "seg-r1+abstain/before"),
            ("abstention, after GRPO", "seg-r1+abstain/after"),
        ]
        paired = [("paired: abstention - none, after GRPO", "seg-r1/after", "seg-r1+abstain/after")]
        lines += [
            "(b) abstention off vs on (Seg-R1 format; with it: the abstain sentence in warm-up, "
            "GRPO and evaluation prompts, empty training scenes answered `<bbox>none</bbox>` in "
            "the warm-up):",
            "",
            *table(results, columns, rows, paired),
            "",
        ]
    command = "OMP_NUM_THREADS=1 python benchmarks/formats_compare.py " + shlex.join(argv)
    distinct = ", ".join(f"{key} {len(set(m['boxes']))}" for key, m in results.items())
    logged = [(arm, "reward") for arm in args.arms]
    logged += [(arm, "abstain_rate") for arm in args.arms if ARMS[arm][1]]
    lines += [
        f"Distinct box answers over the {n} held-out images: {distinct}.",
        "",
        "GRPO rollouts: " + "; ".join(grpo_line(out, arm, key) for arm, key in logged) + ".",
        "",
        "Stage times: "
        + ", ".join(f"{k} {v / 60:.1f} min" for k, v in times.items())
        + f"; wall time {wall / 60:.1f} min (stages reused from an earlier run count as ~0).",
        "",
        f"Command: `{command}`",
    ]
    text = "\n".join(lines)
    (out / "formats_compare.md").write_text(text + "\n", encoding="utf-8")
    (out / "formats_compare.json").write_text(json.dumps({"args": vars(args), "times": times,
                                                          "results": results}))  # fmt: skip
    return text


if __name__ == "__main__":
    print(main(sys.argv[1:]))
