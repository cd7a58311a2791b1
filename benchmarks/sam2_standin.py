"""The SAM2 stand-in against GrabCut: held-out IoU per prompt kind, per scene kind.

Trains (or reuses) the stand-in of :mod:`segr1.segment.pretrain` with the default
:class:`PretrainConfig` (the hidden-32 demo stand-in shipped up to commit 0c90f57;
``--set key=value`` changes a field, and ``--set width=16 hidden=128 learning_rate=5e-4
steps=10000`` is the shipped one), then scores it and GrabCut on the same held-out scenes (stream ``HELDOUT_STREAM``, never seen in training or by the demo's
splits) through the reward's own path (:func:`measure_iou`), one row per prompt kind:

* true box: the ground truth's tight box (what a perfect policy writes);
* jittered box: each side moved by N(0, 0.15 x the box size);
* box + points: the true box and 1-2 foreground points on the object;
* whole frame: ``[0, 0, S, S]`` (the reward hack a segmenter must not pay for);
* demo hack: the constant answer GRPO learned against GrabCut in the first demo;
* central answer: the near-constant central box with fixed points GRPO learned against the
  first SAM2 stand-in (a segmenter that pays it like the true box gives RL no reason to ground);
* mirrored box: the true box mirrored through the frame's centre (does the box's POSITION
  matter, or only what is salient?);
* object boxes: one box per object (the true box on one-object scenes; on two-object scenes
  the protocol's several-box answer, where the true box is one box around both).

Prints a markdown table (IoU over all scenes with an object, and per scene kind), the
paired per-scene difference given the true box (the stand-in minus GrabCut, with a 95 %
bootstrap interval: is the gap more than noise?), then the true box's IoU per scene kind and
object count for the stand-in and GrabCut, each also on the
scenes rendered without their objects (does it look at the object, or answer from the box?) and
given one box per object, and
a pixel-blind reference that never looks at the image (the ellipse inscribed in the box: what
the box alone tells), then the training seconds (one torch thread, from ``pretrain.json``), the parameter
count and the command.
``--demo-data DIR...`` adds the same comparison per test image of demo runs' data (the demo
report's reference row: the true box, at the image's own size).
Run: ``python benchmarks/sam2_standin.py [--out runs/sam2-standin] [--scenes 200] [--set ...]``
(``--out src/segr1/assets/demo/segmenter --set width=16 hidden=128 learning_rate=5e-4
steps=10000`` measures the shipped stand-in without training).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch

from archs import footer
from segr1.demo_report import paired_change
from segr1.segment import build_segmenter
from segr1.segment.base import Call, Embedding, Segmenter
from segr1.segment.grabcut import GrabCutSegmenter
from segr1.segment.pretrain import (
    OtherRecipe,
    PretrainConfig,
    heldout_scenes,
    measure_iou,
    objects_erased,
    pretrain_sam2,
)

KINDS = (
    "true-box",
    "jittered-box",
    "box+points",
    "whole-frame",
    "demo-hack",
    "central-answer",
    "mirrored-box",
    "object-boxes",
)


class BoxEllipse(Segmenter):
    """Pixel-blind reference: the ellipse inscribed in each call's box (no box: nothing)."""

    def embed(self, image: np.ndarray) -> Embedding:
        return Embedding(size=(image.shape[1], image.shape[0]), data=None)

    def decode(self, embedding: Embedding, calls: Sequence[Call]) -> np.ndarray:
        w, h = embedding.size
        out = np.zeros((len(calls), h, w), dtype=np.uint8)  # (C, H, W)
        for k, call in enumerate(calls):
            if call.box is not None:
                x1, y1, x2, y2 = (float(v) for v in call.box)
                centre, axes = ((x1 + x2) / 2 - 0.5, (y1 + y2) / 2 - 0.5), (x2 - x1, y2 - y1)
                cv2.ellipse(out[k], (centre, axes, 0.0), 1, -1)
        return out.astype(bool)


def parse_config(pairs: list[str]) -> PretrainConfig:
    """``PretrainConfig`` with ``key=value`` overrides (values parsed as JSON: numbers, true /
    false, null; a text field, such as ``loss``, takes the value as written)."""
    fields = {f.name: f for f in dataclasses.fields(PretrainConfig)}
    changes = {}
    for pair in pairs:
        key, _, value = pair.partition("=")
        if key not in fields:
            raise SystemExit(f"unknown PretrainConfig field {key!r}; fields: {sorted(fields)}")
        if fields[key].type in (str, "str"):
            changes[key] = value
            continue
        try:
            changes[key] = json.loads(value)
        except json.JSONDecodeError:
            raise SystemExit(
                f"--set {pair}: {value!r} is not a number, true / false or null"
            ) from None
    try:
        return dataclasses.replace(PretrainConfig(), **changes)
    except (TypeError, ValueError) as err:
        raise SystemExit(f"--set: {err}") from None


def gap_text(mine: Sequence[float], theirs: Sequence[float], item: str) -> str:
    """The tiny SAM2's IoUs against GrabCut's, item by item (the same items in the same order):
    both means, the paired difference with its 95 % bootstrap interval, and the counts."""
    gap = paired_change(np.asarray(theirs), np.asarray(mine))
    return (f"tiny SAM2 {np.mean(mine):.4f}, GrabCut {np.mean(theirs):.4f}; tiny SAM2 minus "
            f"GrabCut per {item} {gap['mean']:+.4f} (95 % paired bootstrap {gap['ci95'][0]:+.4f} "
            f"to {gap['ci95'][1]:+.4f}), ahead on {gap['better']} {item}s, behind on "
            f"{gap['worse']}, level on {gap['equal']}")  # fmt: skip


def demo_tests(folders: list[str]) -> dict[str, Any]:
    """Each demo data folder's test split, read before anything is measured (a wrong folder is
    refused at once, not after minutes of measuring)."""
    from segr1.data.registry import load_dataset

    tests = {}
    for folder in folders:
        try:
            tests[folder] = load_dataset("synth", folder, split="test")
        except (FileNotFoundError, ValueError) as err:
            raise SystemExit(f"--demo-data {folder}: {err}") from None
    return tests


def demo_data_lines(
    tests: dict[str, Any], standin: Segmenter, grabcut: Segmenter, side: int
) -> list[str]:
    """Per test image with an object of each demo test split (:func:`demo_tests`), the IoU of
    the stand-in and of GrabCut given the true box (:func:`segr1.demo_report.reference_masks`,
    at the image's own size), and :func:`gap_text` over all of them together."""
    from segr1.demo_report import reference_masks
    from segr1.imaging import binarize
    from segr1.metrics import iou

    def scores(seg: Segmenter, test) -> list[float]:
        truths = ((m, binarize(gt)) for m, gt in reference_masks(test, side, seg))
        return [iou(m, truth) for m, truth in truths if truth.any()]

    mine, theirs = [], []
    lines = ["True box on demo test splits (IoU per test image with an object, at its own size):"]
    for folder, test in tests.items():
        a, b = scores(standin, test), scores(grabcut, test)
        if not a:
            raise SystemExit(f"--demo-data {folder}: no test image with an object")
        lines.append(f"- {folder}: {len(a)} images, " + gap_text(a, b, "image"))
        mine, theirs = mine + a, theirs + b
    lines.append(f"- all {len(mine)}: " + gap_text(mine, theirs, "image"))
    return lines


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", default="runs/sam2-standin", help="stand-in folder (reused)")
    p.add_argument("--scenes", type=int, default=200, help="held-out scenes")
    p.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE",
                   help="PretrainConfig overrides")  # fmt: skip
    p.add_argument("--rebuild", action="store_true", help="retrain even if --out holds it")
    p.add_argument("--demo-data", nargs="*", default=[], metavar="DIR",
                   help="demo data folders (a demo run's OUT/data): also compare the two per "
                        "test image given its true box, as the demo report's reference row "
                        "prompts them")  # fmt: skip
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    torch.set_num_threads(1)
    cfg = parse_config(args.set)
    tests = demo_tests(args.demo_data)
    try:
        out = pretrain_sam2(args.out, cfg, heldout=0, rebuild=args.rebuild)
    except OtherRecipe as err:
        raise SystemExit(f"--out: {err.message('give another --out, or --rebuild')}") from None
    except (NotADirectoryError, PermissionError, FileExistsError) as err:
        raise SystemExit(f"--out: {err}") from None
    meta = json.loads((Path(out) / "pretrain.json").read_text())
    scenes = heldout_scenes(cfg, args.scenes, keep_background=True)
    segmenters = {"tiny SAM2": build_segmenter(str(out), cache_bytes=0),
                  "GrabCut": GrabCutSegmenter()}  # fmt: skip
    results, seconds = {}, {}
    for name, seg in segmenters.items():
        t0 = time.perf_counter()
        results[name] = {k: measure_iou(seg, scenes, k, cfg.side) for k in KINDS}
        seconds[name] = time.perf_counter() - t0
    n = results["GrabCut"]["true-box"]["n"]
    by = sorted(results["GrabCut"]["true-box"]["by_kind"])
    head = ["prompt"] + [f"{s} {k}" for s in segmenters for k in ("all", *by)]
    lines = [
        f"Held-out IoU, {n} scenes with an object (of {args.scenes}; camouflage strength "
        f"{cfg.camo_strength}), S = {cfg.side}, through the reward's path:",
        "",
        "| " + " | ".join(head) + " |",
        "|" + "---|" * len(head),
    ]
    for kind in KINDS:
        cells = []
        for name in segmenters:
            r = results[name][kind]
            cells += [f"{r['IoU']:.3f}"] + [f"{r['by_kind'].get(k, float('nan')):.3f}" for k in by]
        lines.append(f"| {kind} | " + " | ".join(cells) + " |")
    mine, theirs = (results[name]["true-box"]["per_scene"] for name in segmenters)
    lines += ["", "True box, " + gap_text(mine, theirs, "scene") + "."]
    if args.demo_data:
        lines += ["", *demo_data_lines(tests, *segmenters.values(), cfg.side)]
    counts = {k: sum(s.kind == k for s in scenes if s.mask.any()) for k in by}
    blind = measure_iou(BoxEllipse(), scenes, "true-box", cfg.side)
    erased = objects_erased(scenes)
    true_box = {}
    for name, seg in segmenters.items():
        true_box[name] = results[name]["true-box"]
        true_box[f"{name}, objects erased"] = measure_iou(seg, erased, "true-box", cfg.side)
        true_box[f"{name}, one box per object"] = results[name]["object-boxes"]
    true_box["ellipse in the box (no pixels)"] = blind
    groups = blind["n_by_objects"]
    lines += [
        "",
        "True box, per scene kind and object count (two objects: one box around both); "
        "'objects erased': the same box on the scene rendered without its objects (a "
        "segmenter that looks at the object scores far less there, one that answers from the "
        "box alone the same); 'one box per object': two boxes on two-object scenes:",
        "",
        "| scenes | n | " + " | ".join(true_box) + " |",
        "|" + "---|" * (len(true_box) + 2),
        *(
            f"| {g} | {n} | "
            + " | ".join(f"{r['by_objects'][g]:.3f}" for r in true_box.values())
            + " |"
            for g, n in groups.items()
        ),
        "",
        f"scenes per kind: {counts}",
        f"tiny SAM2: {meta['parameters']:,} parameters, trained in {meta['seconds']:.0f} s "
        f"(one torch thread; {len(meta['losses'])} steps; loss {meta['loss_first_50']:.3f} -> "
        f"{meta['loss_last_50']:.3f}); config: {json.dumps(meta['config'])}",
        "measurement seconds: " + ", ".join(f"{k} {v:.1f}" for k, v in seconds.items()),
        *footer("cpu"),
    ]
    print("\n".join(lines))


if __name__ == "__main__":
    main()
