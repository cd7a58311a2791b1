"""Does a larger tiny policy localise better after the demo's warm-up? Box IoU against size.

For each size the demo's own stages run: ``build_tiny_policy`` (``--arch``, size overrides),
the demo's warm-up recipe (``DemoConfig.warmup``: vision-tower steps, answer steps with the
dense objectives, targets 1.3x the object's side) on the demo's training split of ``--seed``,
with the step counts set by ``--vision-steps`` / ``--answer-steps``, then the demo's greedy
evaluation on its 120 held-out images through the shipped SAM2 stand-in and the report's
grounding row (mean box IoU against the box around all objects, distinct answers, whole-frame
share) plus mask S-measure and IoU. One JSON line per size; each size's folder is reused.

Sizes: ``small`` (LM hidden 64, vision 32), ``default`` (the shipped policy's: 128 / 64),
``large`` (256 / 128, twice the layers).

Run: ``OMP_NUM_THREADS=1 python benchmarks/policy_size.py --sizes small default large``
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path

SIZES = {
    "small": {"hidden_size": 64, "intermediate_size": 128, "vision_hidden_size": 32,
              "vision_intermediate_size": 64},
    "default": {},
    "large": {"hidden_size": 256, "intermediate_size": 512, "num_hidden_layers": 4,
              "vision_hidden_size": 128, "vision_intermediate_size": 256, "vision_depth": 4},
}  # fmt: skip


def main(argv: list[str]) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default="runs/policy_size")
    ap.add_argument("--sizes", nargs="+", default=list(SIZES), choices=list(SIZES))
    ap.add_argument("--vision-steps", type=int, default=400)
    ap.add_argument("--answer-steps", type=int, default=600)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)

    import torch

    from segr1 import demo
    from segr1.data.registry import load_dataset
    from segr1.demo_grounding import grounding_row, gt_boxes
    from segr1.outdirs import read_record
    from segr1.policy import load_policy
    from segr1.segment import build_segmenter

    torch.set_num_threads(1)
    cfg = replace(demo.FULL, seed=args.seed, pretrain_seed=args.seed,
                  vision_steps=args.vision_steps, warmup_steps=args.answer_steps)  # fmt: skip
    out = Path(args.out)
    demo.build_data(cfg, out / f"data_{args.seed}")
    train = load_dataset("synth", out / f"data_{args.seed}", split="train")
    test = load_dataset("synth", out / f"data_{args.seed}", split="test")
    segmenter = build_segmenter(str(demo.shipped_models(demo.FULL)["segmenter"]))
    truth = gt_boxes(test, cfg.side)
    for name in args.sizes:
        run = out / f"{name}_{args.vision_steps}_{args.answer_steps}_{args.seed}"
        warm = demo.build_policy(cfg, run, train, sizes=SIZES[name])
        seconds = read_record(warm / demo.POLICY_RECORD)["seconds"]
        result = demo.evaluate_policy(cfg, warm, test, run / "eval", segmenter)
        row = grounding_row(test, run / "eval", cfg.side, truth)
        model, _ = load_policy(str(warm), device="cpu", dtype="float32")
        print(json.dumps({
            "size": name, "parameters": sum(p.numel() for p in model.parameters()),
            "vision_steps": args.vision_steps, "answer_steps": args.answer_steps,
            "seed": args.seed, "mean_box_iou": round(row["mean_box_iou"], 4),
            "distinct": row["distinct"], "n": len(test),
            "whole_frame_share": round(row["whole_frame_share"], 4),
            "Sm": round(result["metrics"]["Sm"], 4), "IoU": round(result["metrics"]["IoU"], 4),
            "warmup_seconds": round(seconds, 1),
        }), flush=True)  # fmt: skip


if __name__ == "__main__":
    main(sys.argv[1:])
