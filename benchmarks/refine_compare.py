"""Single-turn vs two-turn refinement after the same GRPO budget, on the demo's synthetic data.

Both arms start from ONE warmed-up tiny policy (``segr1.demo``'s data and warm-up stages) and get
the same GRPO budget (steps, prompts per step, G, learning rate, seed); arm "1 turn" trains and
is evaluated with ``max_turns=1``, arm "2 turns" with ``max_turns=2`` (the final answer's mask
is scored; its first answer is scored too). Per test image S-measure and IoU are computed from
the saved masks against the ground truth; the table gives each arm's mean with a 95 % interval
and the paired difference (2 turns - 1 turn) with its 95 % interval (mean +- 1.96 sd / sqrt(n)
of the per-image differences). The segmenter is GrabCut (the demo's); the policy is the tiny
offline Qwen2.5-VL with the demo's warm-up, so the numbers measure the machinery at toy scale,
not what refinement does for a real LMM with SAM2.

Run: ``OMP_NUM_THREADS=1 python benchmarks/refine_compare.py --out runs/refine_compare``
(``--help`` lists the sizes). Prints a Markdown table and the command that made it.
"""

from __future__ import annotations

import argparse
import json
import math
import shlex
import sys
import time
from dataclasses import replace
from pathlib import Path


def per_image(out: Path, samples, masks: str = "masks") -> dict[str, list[float]]:
    """S-measure and IoU of each sample's saved mask against its ground truth."""
    from segr1.data.io import read_mask
    from segr1.imaging import binarize
    from segr1.metrics import iou, s_measure

    sm, jj = [], []
    for s in samples:
        pred, gt = binarize(read_mask(out / masks / f"{s.id}.png")), binarize(s.load_mask())
        sm.append(float(s_measure(pred, gt)))
        jj.append(float(iou(pred, gt)))
    return {"Sm": sm, "IoU": jj}


def interval(values: list[float]) -> tuple[float, float]:
    """(mean, 1.96 x standard error)."""
    n = len(values)
    mean = sum(values) / n
    var = sum((v - mean) ** 2 for v in values) / max(n - 1, 1)
    return mean, 1.96 * math.sqrt(var / n)


def main(argv: list[str]) -> str:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default="runs/refine_compare")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--n-train", type=int, default=64)
    ap.add_argument("--n-test", type=int, default=40)
    ap.add_argument("--image-size", type=int, default=96)
    ap.add_argument("--side", type=int, default=96)
    ap.add_argument("--warmup-steps", type=int, default=150)
    ap.add_argument("--grpo-steps", type=int, default=20)
    ap.add_argument("--num-generations", type=int, default=4)
    ap.add_argument("--prompts-per-step", type=int, default=2)
    ap.add_argument("--max-completion-length", type=int, default=48)
    args = ap.parse_args(argv)

    import torch

    from segr1.data.registry import load_dataset
    from segr1.demo import (
        FULL,
        MEASURED_POLICY,
        MEASURED_SEGMENTER,
        build_data,
        build_policy,
        evaluate_policy,
        grpo_args,
    )
    from segr1.evaluate import evaluate
    from segr1.inference import Pipeline
    from segr1.segment import build_segmenter
    from segr1.train.config import parse_config
    from segr1.train.main import train

    torch.set_num_threads(1)
    cfg = replace(
        FULL, out=args.out, seed=args.seed, n_train=args.n_train, n_test=args.n_test,
        image_size=args.image_size, side=args.side, warmup_steps=args.warmup_steps,
        grpo_steps=args.grpo_steps, num_generations=args.num_generations,
        prompts_per_step=args.prompts_per_step,
        max_completion_length=args.max_completion_length,
    )  # fmt: skip
    cfg = replace(cfg, pretrain_seed=cfg.seed, **MEASURED_POLICY, **MEASURED_SEGMENTER)
    out = Path(args.out)
    t0 = time.perf_counter()
    build_data(cfg, out / "data")
    train_set = load_dataset("synth", out / "data", split="train")
    test = load_dataset("synth", out / "data", split="test")
    warm = build_policy(cfg, out, train_set)
    rows, extra = {}, {}
    before = evaluate_policy(cfg, warm, test, out / "eval_warm", build_segmenter("grabcut"))
    rows["warm-up, 1 turn (no GRPO)"] = per_image(out / "eval_warm", test)
    for turns in (1, 2):
        run = out / f"grpo_turns{turns}"
        grpo = grpo_args(cfg, warm, out / "data", run, "grabcut")
        grpo += ["--max_turns", str(turns), "--save_strategy", "no", "--rollout_log_steps", "0"]
        final = run / "final"
        if not (final / "config.json").exists():
            train(parse_config(grpo))
        pipe = Pipeline.from_pretrained(
            str(final), segmenter="grabcut", side=cfg.side, stage="train",
            max_new_tokens=cfg.max_completion_length, max_turns=turns,
        )  # fmt: skip
        result = evaluate(pipe, test, out / f"eval_turns{turns}", dataset="synth-test",
                          model=str(final), segmenter="grabcut", progress=False)  # fmt: skip
        rows[f"GRPO {turns} turn{'s' * (turns > 1)}: final answer"] = per_image(
            out / f"eval_turns{turns}", test
        )
        if turns > 1:
            rows["GRPO 2 turns: its first answer"] = per_image(
                out / "eval_turns2", test, "masks_turn1"
            )
            extra = result["episodes"]
    del before
    one, two = rows["GRPO 1 turn: final answer"], rows["GRPO 2 turns: final answer"]
    lines = [
        f"| arm (n = {len(test)} test images) | S-measure | IoU |",
        "|---|---|---|",
    ]
    for name, m in rows.items():
        cells = [f"{a:.3f} +- {b:.3f}" for a, b in (interval(m["Sm"]), interval(m["IoU"]))]
        lines.append(f"| {name} | {cells[0]} | {cells[1]} |")
    diffs = [interval([b - a for a, b in zip(one[k], two[k], strict=True)]) for k in ("Sm", "IoU")]
    lines.append(
        "| paired difference, 2 turns - 1 turn | "
        + " | ".join(f"{d:+.3f} +- {h:.3f}" for d, h in diffs)
        + " |"
    )
    lines += [
        "",
        f"2-turn episodes at evaluation: mean {extra.get('mean_turns', 0):.2f} answers, "
        f"{extra.get('revised_rate', 0):.1%} revised, {extra.get('kept_rate', 0):.1%} kept. "
        f"Intervals: 95 %, mean +- 1.96 sd / sqrt(n). Wall time {time.perf_counter() - t0:.0f} s.",
        "",
        "Command: `OMP_NUM_THREADS=1 python benchmarks/refine_compare.py " + shlex.join(argv) + "`",
    ]
    text = "\n".join(lines)
    (out / "refine_compare.md").write_text(text + "\n", encoding="utf-8")
    (out / "refine_compare.json").write_text(json.dumps({"rows": rows, "episodes": extra}))
    return text


if __name__ == "__main__":
    print(main(sys.argv[1:]))
