"""Image encoder throughput: SAM2 embeddings one image at a time vs one batched encoder call.

The real SAM2.1 hiera-tiny architecture (``--arch hiera-tiny``; ``hiera-large`` on a GPU;
``test-tiny`` = the 0.1 M-parameter test model) with seeded random weights: real cost,
meaningless masks. ``--images`` B smooth random images of ``--side`` px are embedded

  one-by-one: ``Segmenter.embed`` per image (B encoder forwards of batch 1);
  batched:    ``Segmenter.embed_batch`` (one forward per ``--batch`` images),

each ``--repeats`` times, alternating, after one untimed warm-up of each. Printed: images per
second (median wall clock, and median process CPU time: on a shared machine the CPU time is the
steadier figure), the largest embedding difference, and the mask pixels that differ when the
same prompts (1-2 boxes, 3-8 points per image, seeded) are decoded on both embeddings.

Run: ``python benchmarks/embed_batch.py [--images 4 --batch 4 --repeats 3]``.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import numpy as np
import torch

from archs import build_sam2, footer, run_main
from reward_path import make_images, make_prompts
from segr1.segment.base import Embedding


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--images", type=int, default=4, help="B: images embedded per repeat")
    p.add_argument("--batch", type=int, default=4, help="images per batched encoder forward")
    p.add_argument("--repeats", type=int, default=3, help="timed repeats of each way")
    p.add_argument("--side", type=int, default=1024, help="image side in pixels")
    p.add_argument(
        "--arch", default="hiera-tiny", choices=["hiera-tiny", "hiera-large", "test-tiny"]
    )
    p.add_argument("--device", default="cpu")
    p.add_argument("--dtype", default="float32", choices=["float32", "bfloat16", "float16"])
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: default)")
    p.add_argument("--seed", type=int, default=0)
    return p.parse_args(argv)


def clock(fn: Callable[[], object], device: str) -> tuple[float, float, object]:
    """(wall seconds, process CPU seconds, result), synchronising CUDA around ``fn``."""
    sync = torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)
    sync()
    wall, cpu = time.perf_counter(), time.process_time()
    out = fn()
    sync()
    return time.perf_counter() - wall, time.process_time() - cpu, out


def largest_difference(a: list[Embedding], b: list[Embedding]) -> float:
    return max(
        float((x.float() - y.float()).abs().max())
        for ea, eb in zip(a, b, strict=True)
        for x, y in zip(ea.data, eb.data, strict=True)
    )


def run(args: argparse.Namespace) -> dict[str, object]:
    rng = np.random.default_rng(args.seed)
    images = make_images(args.images, args.side, rng)
    prompts = [[make_prompts(args.side, rng) for _ in range(4)] for _ in images]
    seg = build_sam2(args.arch, args.seed, args.device, args.dtype)
    seg.max_embed_batch = args.batch
    ways: dict[str, Callable[[], list[Embedding]]] = {
        "one-by-one": lambda: [seg.embed(im) for im in images],
        "batched": lambda: seg.embed_batch(images),
    }
    if args.device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()
    times: dict[str, list[tuple[float, float]]] = {k: [] for k in ways}
    last: dict[str, list[Embedding]] = {k: fn() for k, fn in ways.items()}  # warm-up
    for _ in range(args.repeats):
        for name, fn in ways.items():
            wall, cpu, last[name] = clock(fn, args.device)
            times[name].append((wall, cpu))
    masks = {
        k: np.stack([seg.segment(e, p) for e, p in zip(v, prompts, strict=True)])
        for k, v in last.items()
    }
    rows = {}
    for name, samples in times.items():
        wall = statistics.median(t[0] for t in samples)
        cpu = statistics.median(t[1] for t in samples)
        rows[name] = {"wall_s": wall, "cpu_s": cpu, "images_per_s": args.images / wall}
    return {
        "rows": rows,
        "max_embedding_difference": largest_difference(last["one-by-one"], last["batched"]),
        "mask_pixels_differing": int((masks["one-by-one"] != masks["batched"]).sum()),
        "mask_pixels": int(masks["batched"].size),
        "peak_gpu_gb": torch.cuda.max_memory_allocated() / 1e9
        if args.device.startswith("cuda")
        else None,
    }


def report(args: argparse.Namespace, result: dict[str, object]) -> str:
    rows = result["rows"]
    base = rows["one-by-one"]["wall_s"]
    lines = [
        f"{args.images} images of {args.side}x{args.side}, batches of {args.batch}; SAM2 "
        f"{args.arch} architecture, random weights; {args.device} {args.dtype}; median of "
        f"{args.repeats}",
        "",
        f"| {'way':<11} | {'images/s':>8} | {'wall s':>7} | {'CPU s':>7} | {'x one-by-one':>12} |",
        f"|{'-' * 13}|{'-' * 9}:|{'-' * 8}:|{'-' * 8}:|{'-' * 13}:|",
    ]
    for name, r in rows.items():
        lines.append(
            f"| {name:<11} | {r['images_per_s']:>8.3f} | {r['wall_s']:>7.2f} | "
            f"{r['cpu_s']:>7.2f} | {base / r['wall_s']:>12.2f} |"
        )
    lines += [
        "",
        f"largest embedding difference: {result['max_embedding_difference']:.2e}; mask pixels "
        f"differing: {result['mask_pixels_differing']} of {result['mask_pixels']}",
        *footer(args.device),
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    run_main(parse_args, run, report, argv)


if __name__ == "__main__":
    main()
