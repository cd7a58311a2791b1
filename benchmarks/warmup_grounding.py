"""Does the demo's warm-up leave a policy whose boxes follow the objects? A measurement curve.

Builds the tiny policy (``--arch``), runs the demo's supervised warm-up on generated scenes
(``segr1.policy.warmup``: noisy answers from the training masks, loss on the answer tokens), and
every ``--steps / 4`` steps answers the held-out scenes greedily and scores the FIRST box against
the tight ground-truth box (``segr1.metrics.grounding``): mean box IoU (all / camouflaged /
salient scenes), distinct boxes, whole-frame share, answers without a box. ``--vision-steps N``
first pretrains the vision tower alone (:mod:`segr1.policy.vision_pretrain`: token objectness
and, weighted by ``--position-weight``, token position). Two optional dense objectives of the
pretraining stand-in ride along the answer steps on temporary heads that are not saved:

* ``--objectness W``: each image token's last hidden state predicts the object share of its
  cell (binary cross-entropy against the mask area-resized to the token grid);
* ``--box-regression W``: the hidden state of the token after ``<bbox>`` regresses the true box
  (smooth L1, coordinates / S); with it, every 50 steps a JSON line compares that regression's
  L1 error with a constant (median) box's, i.e. whether the state before the first coordinate
  digit encodes where the object is at all.

A constant box, the median ground-truth box of the test scenes, is printed first as the bar a
policy that localises must clear.

Run: ``OMP_NUM_THREADS=1 python benchmarks/warmup_grounding.py --arch qwen2_5_vl --steps 600``
(one JSON line per measurement; ``--help`` for the sizes).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import numpy as np


def main(argv: list[str]) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default="runs/warmup_grounding")
    ap.add_argument("--arch", default="qwen2_5_vl", choices=("qwen2_5_vl", "qwen3_vl"))
    ap.add_argument("--steps", type=int, default=600)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--learning-rate", type=float, default=2e-3)
    ap.add_argument("--n-train", type=int, default=2000)
    ap.add_argument("--n-test", type=int, default=60)
    ap.add_argument("--camo-strength", type=float, default=0.7)
    ap.add_argument("--objectness", type=float, default=0.0)
    ap.add_argument("--box-regression", type=float, default=0.0)
    ap.add_argument("--vision-steps", type=int, default=0)
    ap.add_argument("--position-weight", type=float, default=5.0)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)

    import torch

    from segr1.data.registry import load_dataset
    from segr1.data.synth import generate
    from segr1.data.synth_scene import SynthConfig
    from segr1.imaging import binarize, resize_levels
    from segr1.inference import Pipeline
    from segr1.metrics.grounding import box_iou, grounding_stats, mask_box
    from segr1.policy import build_tiny_policy, load_policy
    from segr1.policy.vision_pretrain import cell_shares
    from segr1.policy.warmup import WarmupConfig, _examples, noisy_answer
    from segr1.protocol.parse import parse_answer
    from segr1.protocol.templates import Template

    torch.set_num_threads(1)
    side, out = 100, Path(args.out)
    root = out / f"data_{args.n_train}_{args.n_test}_{args.camo_strength}_{args.seed}"
    if not (root / "meta.json").exists():
        generate(root, args.n_train, args.n_test, seed=args.seed, progress=False, overwrite=True,
                 config=SynthConfig(size=128, camo_strength=args.camo_strength))  # fmt: skip
    train = load_dataset("synth", root, split="train")
    test = load_dataset("synth", root, split="test")
    gts = [mask_box(binarize(resize_levels(s.load_mask(), (side, side))), None) for s in test]
    camo = ["camouflage" in s.id for s in test]
    median = np.median(np.array([g for g in gts if g]), axis=0)
    const = np.mean([box_iou(median, g) for g in gts if g])
    print(json.dumps({"constant_box": median.round(1).tolist(), "box_iou": round(const, 3)}))

    policy = build_tiny_policy(out / f"policy_{args.arch}", arch=args.arch, seed=args.seed)
    model, proc = load_policy(str(policy), device="cpu", dtype="float32")
    tok, hidden = proc.tokenizer, model.config.text_config.hidden_size
    cfg = WarmupConfig(steps=args.steps, side=side, seed=args.seed,
                       learning_rate=args.learning_rate)  # fmt: skip
    rng = np.random.default_rng(args.seed)
    torch.manual_seed(args.seed)
    examples = _examples(train, side, Template("foreground", "train"), proc)
    if args.vision_steps:
        from segr1.policy.vision_pretrain import VisionPretrainConfig, pretrain_vision

        vcfg = VisionPretrainConfig(steps=args.vision_steps, position_weight=args.position_weight,
                                    seed=args.seed)  # fmt: skip
        pretrain_vision(model, proc, [e[0] for e in examples], [e[1] for e in examples], vcfg)
    image_id, bbox_id = model.config.image_token_id, tok.convert_tokens_to_ids("<bbox>")
    obj_head, box_head = torch.nn.Linear(hidden, 1), torch.nn.Linear(hidden, 4)
    params = [*model.parameters(), *obj_head.parameters(), *box_head.parameters()]
    opt = torch.optim.AdamW(params, lr=args.learning_rate, weight_decay=0.0)
    warm = max(1, args.steps // 20)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda t: min(1.0, (t + 1) / warm) * 0.5 * (
        1 + math.cos(math.pi * min(t, args.steps) / args.steps)))  # fmt: skip
    t0 = time.perf_counter()

    def measure(step: int) -> None:
        model.eval()
        tok.padding_side = "left"
        pipe = Pipeline(model, proc, None, side=side, stage="train", max_new_tokens=64)
        boxes = []
        for text in pipe.generate([s.load_image() for s in test], batch_size=20):
            answer = parse_answer(text)
            boxes.append(answer.boxes[0] if answer.boxes else None)
        st = grounding_stats(boxes, gts, side)

        def part(want: bool) -> float:
            ious = [box_iou(b, g) if b else 0.0
                    for b, g, c in zip(boxes, gts, camo, strict=True) if g and c == want]  # fmt: skip
            return round(float(np.mean(ious)), 3) if ious else float("nan")

        print(json.dumps({"arch": args.arch, "step": step, "box_iou": round(st.mean_box_iou, 3),
                          "camouflage": part(True), "salient": part(False),
                          "distinct": st.distinct, "n": st.n,
                          "whole_frame": st.whole_frame_share, "no_box": st.no_box,
                          "seconds": round(time.perf_counter() - t0)}), flush=True)  # fmt: skip
        model.train()
        tok.padding_side = "right"

    model.train()
    tok.padding_side = "right"
    dense = bool(args.objectness or args.box_regression)
    for step in range(args.steps):
        batch = [examples[i] for i in rng.choice(len(examples), args.batch_size, replace=False)]
        texts = [p + noisy_answer(m, rng, cfg) + tok.eos_token for _, m, p, _ in batch]
        enc = proc(text=texts, images=[e[0] for e in batch], return_tensors="pt", padding=True)
        labels = enc["input_ids"].clone()
        for row, e in enumerate(batch):
            labels[row, : e[3]] = -100
        labels[enc["attention_mask"] == 0] = -100
        res = model(**enc, labels=labels, output_hidden_states=dense)
        loss, ids = res.loss, enc["input_ids"]
        if args.objectness:
            g = round(math.sqrt(int((ids[0] == image_id).sum())))
            cells = [cell_shares(e[1], (g, g)) for e in batch]
            h = res.hidden_states[-1][ids == image_id].view(len(batch), g * g, hidden)
            target = torch.tensor(np.stack([c.reshape(-1) for c in cells]))
            loss = loss + args.objectness * torch.nn.functional.binary_cross_entropy_with_logits(
                obj_head(h).squeeze(-1), target)  # fmt: skip
        if args.box_regression:
            at = (ids == bbox_id).float().argmax(1) + 1
            h = res.hidden_states[-1][torch.arange(len(batch)), at]
            target = torch.tensor(np.stack([np.float32(mask_box(e[1], side=1)) for e in batch]))
            pred = box_head(h).sigmoid()
            loss = loss + args.box_regression * torch.nn.functional.smooth_l1_loss(
                pred, target, beta=0.05)  # fmt: skip
            if step % 50 == 0:
                const_l1 = (target - target.median(0).values).abs().mean()
                print(json.dumps({"step": step, "answer_ce": round(float(res.loss), 3),
                                  "box_l1": round(float((pred - target).abs().mean()), 4),
                                  "constant_l1": round(float(const_l1), 4)}), flush=True)  # fmt: skip
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        sched.step()
        if (step + 1) % max(args.steps // 4, 1) == 0:
            measure(step + 1)


if __name__ == "__main__":
    main(sys.argv[1:])
