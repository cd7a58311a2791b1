"""The measured effect of each difference between the released Seg-R1 evaluation and segr1's
default profile, on one synthetic evaluation run with the tiny policy (docs/reproduction.md).

What runs (all offline, on the CPU):

* data: the synthetic camouflage benchmark (``segr1 data synth``), and the same scenes written as
  a ReasonSeg-format set (LISA json: the object's contour as the "target" polygon, an "ignore"
  rectangle across its right edge, a short-name query on even scenes and a sentence query plus a
  second one on odd scenes; empty scenes have no target);
* policies: the tiny Qwen2.5-VL warmed up (``segr1.policy.warmup``: supervised, noisy boxes) on
  the training scenes with the evaluation prompt of each task (foreground; reasoning);
* segmenter: GrabCut; S = ``--side`` for both tasks;
* rows: the default profile; each switch of the released profile alone
  (``--profile-opt KEY=VALUE``); the released sampling (``--sample released --seed 0``, reasoning);
  the whole released profile. Every row re-runs prediction and scoring with ``segr1.evaluate``.

Prints a Markdown table per task (metric, and its change against the default row; how many
answers and saved masks differ from the default row's, so a zero change can be told from a
switch that changed nothing on this run) and writes it, with the JSON of every run, under
``--out``. Run: ``python benchmarks/profile_effects.py``.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from pathlib import Path

import numpy as np

FOREGROUND_ROWS = [
    ("policy_resample=bicubic", "policy input: bicubic stretch"),
    ("policy_jpeg_quality=75", "policy input: JPEG q75 round trip"),
    ("policy_qwen_vl_utils=true", "policy input: qwen-vl-utils resize"),
    ("bgr=true", "segmenter input: BGR"),
    ("max_new_tokens_foreground=1024", "max new tokens 1024"),
    ("integers_only=true", "integers only"),
    ("soft_foreground=true", "soft saved masks"),
]
REASONING_ROWS = [
    ("max_new_tokens_query=512", "max new tokens 512"),
    ("integers_only=true", "integers only"),
    ("reasoning_first_box=true", "first box + all points, one call"),
    ("ignore=background", "ignore pixels as background"),
    ("empty_iou=0", "empty/empty gIoU 0"),
]
FOREGROUND_KEYS = ("Sm", "meanEm", "wFm", "MAE", "maxFm", "IoU")
REASONING_KEYS = ("gIoU", "cIoU")


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", default="runs/profile_effects", help="output folder")
    p.add_argument("--n-train", type=int, default=200, help="training scenes (warm-up)")
    p.add_argument("--n-test", type=int, default=60, help="evaluation scenes")
    p.add_argument("--size", type=int, default=128, help="scene side in pixels")
    p.add_argument("--side", type=int, default=96, help="S, the square the policy sees")
    p.add_argument("--warmup-steps", type=int, default=300, help="supervised warm-up steps")
    p.add_argument("--seed", type=int, default=0, help="data, warm-up and sampling seed")
    p.add_argument("--foreground-policy", help="use this policy directory instead of a warm-up")
    p.add_argument("--reasoning-policy", help="use this policy directory instead of a warm-up")
    return p.parse_args(argv)


def reasonseg_split(synth: Path, split: str, out: Path) -> None:
    """The synthetic scenes of ``split`` as a LISA-format ReasonSeg split under ``out``."""
    import cv2
    from PIL import Image

    from segr1.data.registry import load_dataset

    folder = out / "ReasonSeg" / ("val" if split == "test" else "train")
    folder.mkdir(parents=True, exist_ok=True)
    for k, s in enumerate(load_dataset("synth", synth, split=split)):
        image, mask = s.load_pair()
        Image.fromarray(image).save(folder / f"{s.id}.png")
        shapes = []
        contours, _ = cv2.findContours((mask > 128).astype(np.uint8), 0, 2)
        for c in contours:
            if len(c) >= 3:
                shapes.append({"label": "target", "points": c[:, 0].tolist()})
        if shapes:
            ys, xs = np.nonzero(mask > 128)
            x2, y1, y2 = int(xs.max()), int(ys.min()), int(ys.max())
            r = max(2, (y2 - y1) // 5)
            box = [[x2 - r, y1 + r], [x2 + r, y1 + r], [x2 + r, y2 - r], [x2 - r, y2 - r]]
            shapes.append({"label": "ignore", "points": box})
        sentence = k % 2 == 1
        text = (
            ["What is hiding in this picture?", "Which part of the scene is an animal?"]
            if sentence
            else ["the Hidden Object"]
        )
        anno = {"text": text, "is_sentence": sentence, "shapes": shapes}
        (folder / f"{s.id}.json").write_text(json.dumps(anno), encoding="utf-8")


def warm_policy(train, task: str, args: argparse.Namespace, out: Path) -> Path:
    from segr1.policy import build_tiny_policy
    from segr1.policy.warmup import WarmupConfig, warmup

    given = getattr(args, f"{task}_policy")
    if given:
        return Path(given)
    if (out / "config.json").exists():
        return out
    base = build_tiny_policy(out.parent / f"{out.name}-base", seed=args.seed)
    cfg = WarmupConfig(
        steps=args.warmup_steps, side=args.side, seed=args.seed, task=task, stage="eval"
    )
    return warmup(base, train, out, cfg)


def run_rows(policy: Path, samples, task: str, rows, args, out: Path) -> list[dict]:
    from segr1.data.sampling import choose_samples, describe
    from segr1.evaluate import evaluate
    from segr1.inference import Pipeline
    from segr1.policy import load_policy
    from segr1.profiles import RELEASED, with_overrides
    from segr1.segment import build_segmenter

    model, processor = load_policy(policy)
    plan = [("default", "default profile", "default", [], "all")]
    plan += [(switch, what, "default", [switch], "all") for switch, what in rows]
    if task != "foreground":
        plan.append(("--sample released", "released sampling, seed 0", "default", [], "released"))
    plan.append(("--profile released", "the whole released profile", "released", [], "all"))
    results = []
    for switch, what, base, opts, sampling in plan:
        profile = with_overrides(base, opts)
        seg = build_segmenter("grabcut", bgr=profile.bgr)
        pipe = Pipeline(model, processor, seg, task=task, side=args.side, profile=profile)
        chosen = choose_samples(samples, sampling, args.seed)
        name = switch.replace("--", "").replace(" ", "_").replace("=", "-")
        t0 = time.perf_counter()
        r = evaluate(pipe, chosen, out / name, dataset=f"synth-{task}", model=str(policy),
                     segmenter="grabcut", sampling=describe(sampling, args.seed, task),
                     progress=False)  # fmt: skip
        r["seconds"] = round(time.perf_counter() - t0, 1)
        r["changed"] = changed(out / "default", out / name) if results else (0, 0)
        results.append({"switch": switch, "what": what, **r})
        print(f"{task}: {switch}: {r['metrics']} ({r['seconds']} s)", flush=True)
    if results[-1]["profile"] != RELEASED.name:
        raise AssertionError("the last row must be the released profile")
    return results


def changed(base: Path, run: Path) -> tuple[int, int] | None:
    """(answers, saved masks) of ``run`` that differ from ``base``'s for the same sample id;
    None when the runs share no id (another sample draw)."""
    from segr1.data.io import read_mask
    from segr1.evaluate import read_records

    a, b = read_records(base / "completions.jsonl"), read_records(run / "completions.jsonl")
    common = sorted(set(a) & set(b))
    if not common:
        return None
    answers = sum(a[k]["completion"] != b[k]["completion"] for k in common)
    masks = sum(
        not np.array_equal(
            read_mask(base / "masks" / f"{k}.png"), read_mask(run / "masks" / f"{k}.png")
        )
        for k in common
    )
    return answers, masks


def table(results: list[dict], keys: tuple[str, ...]) -> str:
    base = results[0]["metrics"]
    head = "| switch | what | " + " | ".join(keys) + " | answers / masks changed | usable | n |"
    lines = [head, "|" + "---|" * (len(keys) + 5)]
    for r in results:
        m = r["metrics"]
        cells = [
            f"{m[k]:.4f}" if r is results[0] else f"{m[k]:.4f} ({m[k] - base[k]:+.4f})"
            for k in keys
        ]
        usable = f"{r['usable_rate']:.2f}"
        diff = "n/a" if r["changed"] is None else "{} / {}".format(*r["changed"])
        lines.append(f"| `{r['switch']}` | {r['what']} | " + " | ".join(cells)
                     + f" | {diff} | {usable} | {r['count']} |")  # fmt: skip
    return "\n".join(lines)


def main(argv: list[str]) -> None:
    import torch

    from segr1.data.registry import load_dataset
    from segr1.data.synth import generate
    from segr1.data.synth_scene import SynthConfig

    args = parse_args(argv)
    torch.set_num_threads(1)
    out = Path(args.out)
    t0 = time.perf_counter()
    synth, reason = out / "data" / "synth", out / "data"
    if not (synth / "meta.json").exists():
        generate(synth, args.n_train, args.n_test, seed=args.seed,
                 config=SynthConfig(size=args.size))  # fmt: skip
        for split in ("train", "test"):
            reasonseg_split(synth, split, reason)
    fg_train = load_dataset("synth", synth, split="train")
    rs_train = load_dataset("reasonseg", reason, split="train")
    policies = {
        "foreground": warm_policy(fg_train, "foreground", args, out / "policy" / "foreground"),
        "reasoning": warm_policy(rs_train, "reasoning", args, out / "policy" / "reasoning"),
    }
    fg = run_rows(policies["foreground"], load_dataset("synth", synth, split="test"),
                  "foreground", FOREGROUND_ROWS, args, out / "eval" / "foreground")  # fmt: skip
    rs = run_rows(policies["reasoning"], load_dataset("reasonseg", reason, split="val"),
                  "reasoning", REASONING_ROWS, args, out / "eval" / "reasoning")  # fmt: skip
    command = "python benchmarks/profile_effects.py " + shlex.join(argv)
    report = "\n\n".join(
        [
            f"`{command.strip()}` ({time.perf_counter() - t0:.0f} s, torch {torch.__version__})",
            "Foreground (synthetic camouflage test split):\n\n" + table(fg, FOREGROUND_KEYS),
            "Reasoning (the same scenes as a ReasonSeg-format split):\n\n"
            + table(rs, REASONING_KEYS),
        ]
    )
    print("\n" + report)
    (out / "profile_effects.md").write_text(report + "\n", encoding="utf-8")
    (out / "profile_effects.json").write_text(
        json.dumps({"command": command, "foreground": fg, "reasoning": rs}, indent=2) + "\n",
        encoding="utf-8",
    )


if __name__ == "__main__":
    main(sys.argv[1:])
