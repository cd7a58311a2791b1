"""Throughput of ``segr1 eval``: images per second, split into generation, segmentation, scoring.

Runs :func:`segr1.evaluate.evaluate` itself - the function ``segr1 eval`` calls - on a generated
COD-style set (``--images`` scenes of ``--image-size`` px, with ground truths), timing the three
phases where eval calls them:

* generation: ``Pipeline.generate`` (greedy, ``--max-new-tokens``; ``min_new_tokens`` is set
  to the same, so every answer costs the full budget: random weights rarely stop early anyway);
* segmentation: ``Pipeline.segment_many`` (parse, one batched SAM2 encoder call per batch,
  batched decodes, masks resized to the image) - with the answers of random weights replaced
  by well-formed ones drawn like a trained policy's, or SAM2 would never run;
* scoring: ``segr1.evaluate.score_samples`` (the one scoring loop, on the PNGs eval wrote);
* other: the rest of the wall time (reading images, writing PNGs and logs).

Scales (random weights: real cost, meaningless answers; nothing is downloaded):

* ``--scale tiny`` (CPU): the tiny Qwen2.5-VL policy and the 64 px test SAM2;
* ``--scale 7b --device cuda``: Qwen2.5-VL-7B (bf16, SDPA) and SAM2.1 hiera-large (bf16).

Run: ``python benchmarks/eval_throughput.py --scale tiny --device cpu`` or
``python benchmarks/eval_throughput.py --scale 7b --device cuda``.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

import archs

PHASES = ("generation", "segmentation", "scoring")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--scale", choices=["tiny", "7b"], default="tiny")
    p.add_argument("--device", default="cpu")
    p.add_argument("--images", type=int, default=16, help="samples evaluated")
    p.add_argument("--batch-size", type=int, default=8, help="images per generation batch")
    p.add_argument("--max-new-tokens", type=int, default=None, help="[tiny: 64, 7b: 400]")
    p.add_argument("--side", type=int, default=None, help="S [tiny: 128, 7b: 768]")
    p.add_argument("--image-size", type=int, default=None, help="scene px [tiny: 128, 7b: 512]")
    p.add_argument("--attn", default="sdpa", help="policy attention implementation")
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: default)")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    big = args.scale == "7b"
    args.max_new_tokens = args.max_new_tokens or (400 if big else 64)
    args.side = args.side or (768 if big else 128)
    args.image_size = args.image_size or (512 if big else 128)
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        p.exit(2, "eval_throughput.py: no CUDA device here\n")
    if big and not args.device.startswith("cuda"):
        p.exit(2, "eval_throughput.py: --scale 7b runs on a GPU only (--device cuda)\n")
    return args


class Timer:
    """Wraps callables and adds up the seconds spent in each (CUDA synchronised)."""

    def __init__(self, device: str) -> None:
        self.seconds = dict.fromkeys(PHASES, 0.0)
        cuda = device.startswith("cuda")
        self.sync: Callable[[], None] = torch.cuda.synchronize if cuda else (lambda: None)

    def wrap(self, phase: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            self.sync()
            start = time.perf_counter()
            out = fn(*args, **kwargs)
            self.sync()
            self.seconds[phase] += time.perf_counter() - start
            return out

        return timed


def build_pipeline(args: argparse.Namespace):  # -> segr1.inference.Pipeline
    from segr1.inference import Pipeline

    model, processor = archs.build_policy(args.scale, args.device, args.attn, args.seed)
    model.generation_config.min_new_tokens = args.max_new_tokens
    cuda = args.device.startswith("cuda")
    sam = archs.build_sam2(
        "hiera-large" if args.scale == "7b" else "test-tiny",
        seed=args.seed,
        device=args.device,
        dtype="bfloat16" if cuda else "float32",
    )
    return Pipeline(model, processor, sam, side=args.side, max_new_tokens=args.max_new_tokens)


def instrument(pipe: Any, timer: Timer, side: int, seed: int) -> Callable[[], None]:
    """Time the pipeline's phases; hand segmentation well-formed answers (see the docstring).
    Returns the function that takes the scoring timer off again."""
    import segr1.evaluate

    rng = np.random.default_rng(seed)
    score_samples = segr1.evaluate.score_samples
    generate = timer.wrap("generation", pipe.generate)
    segment = timer.wrap("segmentation", pipe.segment_many)

    def generate_then_answer(images, *a, **kw):
        generate(images, *a, **kw)  # the real cost; the random text is dropped
        return [archs.answer_text(side, rng) for _ in images]

    pipe.generate = generate_then_answer
    pipe.segment_many = segment
    segr1.evaluate.score_samples = timer.wrap("scoring", score_samples)
    return lambda: setattr(segr1.evaluate, "score_samples", score_samples)


def run(args: argparse.Namespace) -> dict[str, Any]:
    from segr1.data.registry import load_dataset
    from segr1.data.synth import generate
    from segr1.data.synth_scene import SynthConfig
    from segr1.evaluate import evaluate

    cuda = args.device.startswith("cuda")
    with tempfile.TemporaryDirectory() as tmp:
        cfg = SynthConfig(size=args.image_size)
        generate(Path(tmp) / "data", 0, args.images, seed=args.seed, config=cfg, progress=False)
        samples = load_dataset("synth", Path(tmp) / "data", split="test")
        pipe = build_pipeline(args)
        timer = Timer(args.device)
        restore = instrument(pipe, timer, args.side, args.seed)
        if cuda:
            torch.cuda.reset_peak_memory_stats()
        start = time.perf_counter()
        try:
            result = evaluate(pipe, samples, Path(tmp) / "out", batch_size=args.batch_size)
        finally:
            restore()
        total = time.perf_counter() - start
    seconds = {**timer.seconds, "other": total - sum(timer.seconds.values()), "total": total}
    return {
        "images": len(samples),
        "seconds": seconds,
        "images_per_s": {k: len(samples) / v if v > 0 else None for k, v in seconds.items()},
        "unusable": result["unusable"],
        "peak_gpu_gb": torch.cuda.max_memory_allocated() / 1e9 if cuda else None,
        "policy_params_b": sum(p.numel() for p in pipe.model.parameters()) / 1e9,
    }


def report(args: argparse.Namespace, r: dict[str, Any]) -> str:
    sam = "SAM2.1 hiera-large" if args.scale == "7b" else "the 64 px test SAM2"
    lines = [
        f"segr1 eval: {archs.POLICY_NAMES[args.scale]} ({r['policy_params_b']:.2f} B parameters) "
        f"+ {sam}, random weights, {args.device}; {r['images']} generated {args.image_size} px "
        f"scenes, S={args.side}, batches of {args.batch_size}, {args.max_new_tokens} new tokens "
        f"per answer",
        "",
        f"| {'phase':<12} | {'seconds':>8} | {'share':>6} | {'images/s':>9} |",
        f"|{'-' * 14}|{'-' * 9}:|{'-' * 7}:|{'-' * 10}:|",
    ]
    total = r["seconds"]["total"]
    for phase, sec in r["seconds"].items():
        ips = r["images_per_s"][phase]
        lines.append(
            f"| {phase:<12} | {sec:>8.2f} | {sec / total:>6.1%} | "
            f"{'-' if ips is None else f'{ips:.2f}':>9} |"
        )
    if r["peak_gpu_gb"] is not None:
        lines.append(f"\npeak GPU memory: {r['peak_gpu_gb']:.1f} GB")
    lines += [
        "",
        *archs.footer(args.device),
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    archs.run_main(parse_args, run, report, argv)


if __name__ == "__main__":
    main()
