"""Reward-path benchmark: what it costs to turn B x G completions into masks with frozen SAM2.

The real SAM2.1 hiera-tiny architecture (``--arch``; random weights: real cost, meaningless
masks) at side x side pixels, B images with G completions each, realistic prompts (1-2 boxes
and 3-8 labelled points per completion, seeded). One reward call = one image's G completions
(the released recipe puts one prompt on each device). Paths timed:

  (a) released: segmenter rebuilt (model constructed, weights loaded from a saved local
      directory) in every reward call, encoder run per completion;
  (b) encoder per completion, model kept;
  (c) ours, first epoch: a cold cache, encoder once per image, all G prompt sets decoded in one
      batched call;
  (d) ours, second epoch: the same segmenter and the same images again, every embedding from
      the warm cache (checked: no encoder run), so only the decoder runs;
  floor: the decoder alone on precomputed embeddings (exact batching; padded batching too).

Every row runs once untimed first (one-time kernel and allocator set-up is not charged to
whichever row happens to come first), then ``--repeats`` times, (c) -> (d) -> floors
interleaved (the cache is emptied before each (c)); the table gives the median wall clock and
the median process CPU time. (a) and (b) run once (they are the slow ones). On a shared machine
read the CPU column with ``--threads 1``: with two threads on two busy cores, OpenMP threads
spin-wait for a descheduled partner, so even CPU time then depends on the neighbours' load
(docs/benchmarks.md shows the measurement).

Prints a table (seconds, ratio to (c)), checks that (b) and (c) give identical masks, and
prints the command. Run: ``python benchmarks/reward_path.py [--images 4 --completions 8]``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
from tqdm import tqdm

from archs import SAM2_ARCHS, build_sam2, footer
from segr1.protocol.geometry import Prompts
from segr1.segment import EmbeddingCache, Sam2Segmenter
from segr1.segment.base import Embedding, plan_calls


@dataclass
class Row:
    name: str
    encoder_runs: int
    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)

    @property
    def seconds(self) -> float:
        return statistics.median(self.wall)

    @property
    def cpu_seconds(self) -> float:
        return statistics.median(self.cpu)


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
    p.add_argument("--repeats", type=int, default=3, help="timed runs of (c), (d), floors")
    p.add_argument("--arch", default="hiera-tiny", choices=SAM2_ARCHS, help="SAM2 architecture")
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


def timed(fn: Callable[[], object], row: Row, device: str = "cpu") -> object:
    """Run ``fn`` and add its wall clock and process CPU time to ``row``."""
    sync = torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)
    sync()
    wall, cpu = time.perf_counter(), time.process_time()
    result = fn()
    sync()
    row.wall.append(time.perf_counter() - wall)
    row.cpu.append(time.process_time() - cpu)
    return result


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
    seg = build_sam2(args.arch, args.seed, **opts)
    facts: dict[str, object] = {
        "decoder_calls": sum(len(plan_calls(p)) for s in prompts for p in s),
        "load_start": os.getloadavg()[0],
    }
    released = Row("(a) released: reload per call, encoder per completion", n)
    per_completion_row = Row("(b) encoder per completion, model kept", n)
    cold = Row("(c) ours, 1st epoch: encoder once per image, G sets batched", args.images)
    warm = Row("(d) ours, 2nd epoch: warm embedding cache, decoder only", 0)
    exact = Row("floor: decoder only (exact batching)", 0)
    padded_row = Row("floor: decoder only (padded batching)", 0)
    rows = [per_completion_row, cold, warm, exact, padded_row]
    with tempfile.TemporaryDirectory() as ckpt:
        seg.save_pretrained(ckpt)
        if not args.skip_released:
            rows.insert(0, released)
            load = lambda: Sam2Segmenter.from_pretrained(ckpt, **opts)  # noqa: E731
            timed(lambda: per_completion(load, images, prompts, "(a)"), released, args.device)
    masks_b = timed(
        lambda: per_completion(lambda: seg, images, prompts, "(b)"), per_completion_row, args.device
    )
    cache = EmbeddingCache(max_items=args.images)
    cached = Sam2Segmenter(seg.model, seg.processor, cache=cache, **opts)
    padded = Sam2Segmenter(seg.model, seg.processor, batching="padded", **opts)
    embeddings = [seg.embed(img) for img in images]
    for i in range(args.repeats + 1):  # the first round is the untimed warm-up
        cache.clear()
        untimed = Row("warm-up", 0)
        masks_c = timed(
            lambda: batched(cached, images, prompts, "(c)"), cold if i else untimed, args.device
        )
        masks_d = timed(
            lambda: batched(cached, images, prompts, "(d)"), warm if i else untimed, args.device
        )
        if cache.misses != args.images:
            raise RuntimeError(f"(d) ran the encoder: {cache.stats()}")
        timed(lambda: decode_only(seg, embeddings, prompts), exact if i else untimed, args.device)
        timed(
            lambda: decode_only(padded, embeddings, prompts),
            padded_row if i else untimed,
            args.device,
        )
    facts["differ_bc"] = int((masks_b != masks_c).sum())
    facts["differ_cd"] = int((masks_c != masks_d).sum())
    facts["pixels"] = int(masks_c.size)
    facts["cache"] = cache.stats()
    facts["load_end"] = os.getloadavg()[0]
    return rows, facts


def report(args: argparse.Namespace, rows: list[Row], facts: dict[str, object]) -> str:
    t_c = next(r.seconds for r in rows if r.name.startswith("(c)"))
    t_b = next(r.seconds for r in rows if r.name.startswith("(b)"))
    n = args.images * args.completions
    w = 60
    lines = [
        f"B={args.images} images x G={args.completions} completions = {n} completions, "
        f"{facts['decoder_calls']} decoder calls; {args.side}x{args.side}; SAM2 {args.arch} "
        f"architecture, random weights; {args.device} {args.dtype}; (a), (b) once, the other "
        f"rows: median of {args.repeats} after a warm-up",
        "",
        f"| {'path':<{w}} | {'encoder runs':>12} | {'wall s':>8} | {'CPU s':>8} | {'x (c)':>6} |",
        f"|{'-' * (w + 2)}|{'-' * 13}:|{'-' * 9}:|{'-' * 9}:|{'-' * 7}:|",
    ]
    for r in rows:
        lines.append(
            f"| {r.name:<{w}} | {r.encoder_runs:>12} | {r.seconds:>8.2f} | "
            f"{r.cpu_seconds:>8.2f} | {r.seconds / t_c:>6.2f} |"
        )
    target = args.completions / 2
    lines += [
        "",
        f"(b) / (c) = {t_b / t_c:.2f}  (target >= G/2 = {target:g}: "
        f"{'met' if t_b / t_c >= target else 'NOT met'})",
        f"mask pixels differing, (b) vs (c): {facts['differ_bc']}, (c) vs (d): "
        f"{facts['differ_cd']}, of {facts['pixels']} (batched float rounding flips pixels "
        "whose logit is ~0; random weights give near-zero logits)",
        f"{facts['cache']}",
        f"load average (1 min) {facts['load_start']:.2f} at start, {facts['load_end']:.2f} at end",
        *footer(args.device),
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
