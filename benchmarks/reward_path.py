"""Reward-path benchmark: what it costs to turn B x G completions into masks with frozen SAM2.

The real SAM2.1 hiera-tiny architecture (random weights: real cost, meaningless masks) at
side x side pixels, B images with G completions each, realistic prompts (1-2 boxes and 3-8
labelled points per completion, seeded). One reward call = one image's G completions (the
released recipe puts one prompt on each device). Paths timed:

  (a) released: segmenter rebuilt (model constructed, weights loaded from a saved local
      directory) in every reward call, encoder run per completion;
  (b) encoder per completion, model kept;
  (c) ours: encoder once per image, all G prompt sets decoded in one batched call;
  (d) ours, second epoch: embeddings from a warm cache;
  floor: the decoder alone on precomputed embeddings (exact batching; padded batching too).

Prints a table (seconds, ratio to (c)), checks that (b) and (c) give identical masks, and
prints the command. Run: ``python benchmarks/reward_path.py [--images 4 --completions 8]``.
"""

from __future__ import annotations

import argparse
import platform
import shlex
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
import transformers
from tqdm import tqdm

from segr1.protocol.geometry import Prompts
from segr1.segment import EmbeddingCache, Sam2Segmenter, hiera_tiny_config
from segr1.segment.base import Embedding, plan_calls


@dataclass
class Row:
    name: str
    seconds: float
    encoder_runs: int
    note: str = ""


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--images", type=int, default=4, help="B: images (reward calls)")
    p.add_argument("--completions", type=int, default=8, help="G: completions per image")
    p.add_argument("--side", type=int, default=1024, help="image side in pixels")
    p.add_argument("--device", default="cpu")
    p.add_argument("--dtype", default="float32", choices=["float32", "bfloat16", "float16"])
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: default)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--skip-released", action="store_true", help="do not time path (a)")
    return p.parse_args(argv)


def make_images(n: int, side: int, rng: np.random.Generator) -> list[np.ndarray]:
    """Smooth random RGB images (B, side, side, 3) uint8."""
    out = []
    for _ in range(n):
        coarse = rng.integers(0, 256, (side // 32, side // 32, 3)).astype(np.float32)
        img = np.kron(coarse, np.ones((32, 32, 1), np.float32))
        out.append(np.clip(img + rng.normal(0, 12, img.shape), 0, 255).astype(np.uint8))
    return out


def make_prompts(side: int, rng: np.random.Generator) -> Prompts:
    """1-2 boxes, 3-8 points (foreground inside a box, background anywhere), in pixels."""
    boxes, points, labels = [], [], []
    for _ in range(rng.integers(1, 3)):
        x1, y1 = rng.uniform(0, 0.6 * side, 2)
        w, h = rng.uniform(0.15 * side, 0.4 * side, 2)
        boxes.append([x1, y1, x1 + w, y1 + h])
    for _ in range(rng.integers(3, 9)):
        label = int(rng.random() < 0.7)
        b = boxes[rng.integers(len(boxes))]
        xy = rng.uniform(b[:2], b[2:]) if label else rng.uniform(0, side, 2)
        points.append(xy)
        labels.append(label)
    return Prompts(np.float32(boxes), np.float32(points), np.int64(labels))


def timed(fn: Callable[[], object]) -> tuple[float, object]:
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def per_completion(load: Callable[[], Sam2Segmenter], images, prompts, desc: str) -> np.ndarray:
    """Paths (a)/(b): per image ``load()``, then per completion encoder + decoder."""
    masks = []
    for img, sets in tqdm(list(zip(images, prompts, strict=True)), desc=desc, leave=False):
        seg = load()
        masks.extend(seg.segment(seg.embed(img), [p])[0] for p in sets)
    return np.stack(masks)  # (B*G, side, side)


def batched(seg: Sam2Segmenter, images, prompts, desc: str) -> np.ndarray:
    """Paths (c)/(d): per image one (cached) embedding and one batched decode of G sets."""
    masks = [
        seg.segment(seg.embed_cached(img), sets)
        for img, sets in tqdm(list(zip(images, prompts, strict=True)), desc=desc, leave=False)
    ]
    return np.concatenate(masks)


def decode_only(seg: Sam2Segmenter, embeddings: list[Embedding], prompts) -> np.ndarray:
    return np.concatenate(
        [seg.segment(e, sets) for e, sets in zip(embeddings, prompts, strict=True)]
    )


def run(args: argparse.Namespace) -> tuple[list[Row], dict[str, object]]:
    rng = np.random.default_rng(args.seed)
    images = make_images(args.images, args.side, rng)
    prompts = [[make_prompts(args.side, rng) for _ in range(args.completions)] for _ in images]
    n = args.images * args.completions
    opts = {"device": args.device, "dtype": args.dtype}
    seg = Sam2Segmenter.from_config(hiera_tiny_config(), seed=args.seed, **opts)
    rows: list[Row] = []
    facts: dict[str, object] = {
        "decoder_calls": sum(len(plan_calls(p)) for s in prompts for p in s)
    }
    with tempfile.TemporaryDirectory() as ckpt:
        seg.save_pretrained(ckpt)
        if not args.skip_released:
            t, _ = timed(
                lambda: per_completion(
                    lambda: Sam2Segmenter.from_pretrained(ckpt, **opts), images, prompts, "(a)"
                )
            )
            rows.append(Row("(a) released: reload per call, encoder per completion", t, n))
    t_b, masks_b = timed(lambda: per_completion(lambda: seg, images, prompts, "(b)"))
    rows.append(Row("(b) encoder per completion, model kept", t_b, n))
    cached = Sam2Segmenter(seg.model, seg.processor, cache=EmbeddingCache(args.images), **opts)
    t_c, masks_c = timed(lambda: batched(cached, images, prompts, "(c)"))
    rows.append(Row("(c) ours: encoder once per image, G sets batched", t_c, args.images))
    t_d, masks_d = timed(lambda: batched(cached, images, prompts, "(d)"))
    rows.append(Row("(d) ours, 2nd epoch: warm embedding cache", t_d, 0))
    embeddings = [seg.embed(img) for img in images]
    t_f, _ = timed(lambda: decode_only(seg, embeddings, prompts))
    rows.append(Row("floor: decoder only (exact batching)", t_f, 0))
    padded = Sam2Segmenter(seg.model, seg.processor, batching="padded", **opts)
    t_p, _ = timed(lambda: decode_only(padded, embeddings, prompts))
    rows.append(Row("floor: decoder only (padded batching)", t_p, 0))
    facts["differ_bc"] = int((masks_b != masks_c).sum())
    facts["differ_cd"] = int((masks_c != masks_d).sum())
    facts["pixels"] = int(masks_c.size)
    facts["cache"] = cached.cache.stats()
    return rows, facts


def report(args: argparse.Namespace, rows: list[Row], facts: dict[str, object]) -> str:
    t_c = next(r.seconds for r in rows if r.name.startswith("(c)"))
    t_b = next(r.seconds for r in rows if r.name.startswith("(b)"))
    n = args.images * args.completions
    lines = [
        f"B={args.images} images x G={args.completions} completions = {n} completions, "
        f"{facts['decoder_calls']} decoder calls; {args.side}x{args.side}; SAM2.1 hiera-tiny "
        f"architecture, random weights; {args.device} {args.dtype}",
        "",
        f"| {'path':<55} | {'encoder runs':>12} | {'seconds':>8} | {'x (c)':>7} |",
        f"|{'-' * 57}|{'-' * 13}:|{'-' * 9}:|{'-' * 8}:|",
    ]
    for r in rows:
        lines.append(
            f"| {r.name:<55} | {r.encoder_runs:>12} | {r.seconds:>8.2f} | {r.seconds / t_c:>7.2f} |"
        )
    target = args.completions / 2
    lines += [
        "",
        f"(b) / (c) = {t_b / t_c:.2f}  (target >= G/2 = {target:g}: "
        f"{'met' if t_b / t_c >= target else 'NOT met'})",
        f"mask pixels differing, (b) vs (c): {facts['differ_bc']}, (c) vs (d): "
        f"{facts['differ_cd']}, of {facts['pixels']} (batched float rounding flips pixels "
        "whose logit is ~0; random weights give near-zero logits)",
        f"cache: {facts['cache']}",
        f"machine: {platform.platform()}, {platform.processor() or 'cpu'}, "
        f"torch {torch.__version__} ({torch.get_num_threads()} threads), "
        f"transformers {transformers.__version__}",
        "command: " + shlex.join([sys.executable.rsplit("/", 1)[-1], *sys.argv]),
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    rows, facts = run(args)
    print(report(args, rows, facts))


if __name__ == "__main__":
    main()
