"""``make gpu-check``: ONE prepared script for the first GPU segr1 meets (one H100 / H200, at
most 8 minutes), so that its minutes go to measuring, not debugging.

Sections, in this order; each is timed, its peak GPU memory recorded, and an error is recorded
(with its traceback) without stopping the next section:

  environment   versions, the device, and whether every module segr1 needs imports
  grpo_full     benchmarks/grpo_step.py: one GRPO step (generation / reward / update) at the
                Qwen2.5-VL-3B + SAM2.1-large scale, all weights trained, bf16
  grpo_lora     the same step training LoRA adapters
  reward_path   benchmarks/reward_path.py on SAM2.1-large: (b) encoder per completion, (c) ours,
                (d) the warm-cache row, the decoder floors
  embed_batch   benchmarks/embed_batch.py: SAM2.1-large images/s, one-by-one vs batched
  eval          benchmarks/eval_throughput.py: segr1 eval with Qwen2.5-VL-7B + SAM2.1-large
  train_lora    segr1 train (TRL's GRPOTrainer, the real training path) for one step, LoRA,
                bf16: the tiny policy, so this checks the stack, not the scale
  train_full    the same, all weights, bf16

All models have random weights (real cost, meaningless outputs; nothing is downloaded). A
section starts only while less than ``--budget-s`` has passed. ``--scale tiny --device cpu``
runs every section at test size in float32 (the check that the script itself works, run by
``make gpu-check SCALE=tiny DEVICE=cpu`` and a slow test). Prints a table; writes ``--out``
(JSON: every section's figures, its full benchmark report, errors). Exit status 1 when a
section failed.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import json
import platform
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

HERE = Path(__file__).resolve().parent
NEEDED = ("torch", "transformers", "accelerate", "peft", "trl", "datasets", "pycocotools",
          "cv2", "scipy", "typer", "PIL", "yaml", "tokenizers", "safetensors", "tqdm")  # fmt: skip


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--scale", choices=["gpu", "tiny"], default="gpu")
    p.add_argument("--device", default="cuda")
    p.add_argument("--out", default="gpu_check.json", help="JSON results")
    p.add_argument("--budget-s", type=float, default=480.0, help="start no section after this")
    p.add_argument("--only", nargs="*", default=None, help="run only these sections")
    args = p.parse_args(argv)
    if args.scale == "gpu" and not args.device.startswith("cuda"):
        p.exit(2, "gpu_check.py: --scale gpu needs --device cuda (--scale tiny checks on a CPU)\n")
    return args


# each benchmark's arguments at each scale (plus --device)
BENCH_ARGS = {
    "gpu": {
        "grpo": "--scale released --steps 2 --warmup 1",
        "reward_path": "--arch hiera-large --dtype bfloat16 --images 4 --completions 8 "
        "--repeats 3 --skip-released",
        "embed_batch": "--arch hiera-large --dtype bfloat16 --images 8 --batch 8 --repeats 3",
        "eval": "--scale 7b --images 16 --batch-size 8",
    },
    "tiny": {
        "grpo": "--scale tiny --steps 1 --warmup 0 --max-new-tokens 8 --side 224",
        "reward_path": "--arch test-tiny --side 256 --images 2 --completions 4 --repeats 1 "
        "--skip-released",
        "embed_batch": "--arch test-tiny --side 256 --images 4 --batch 4 --repeats 1",
        "eval": "--scale tiny --images 4 --batch-size 2 --max-new-tokens 16",
    },
}


def bench_args(args: argparse.Namespace, name: str) -> list[str]:
    return [*BENCH_ARGS[args.scale][name].split(), "--device", args.device]


# -- sections ------------------------------------------------------------------------------
def environment(args: argparse.Namespace) -> tuple[dict[str, Any], str]:
    versions, missing = {}, []
    for name in NEEDED:
        try:
            module = importlib.import_module(name)
            versions[name] = str(getattr(module, "__version__", "?"))
        except Exception as e:  # every kind of import failure
            missing.append(f"{name} ({type(e).__name__}: {e})")
    cuda = torch.cuda.is_available()
    notes = []
    if "transformers" in versions and checkpointing_key() != "activation_checkpointing":
        notes.append(
            f"transformers {versions['transformers']} has no activation_checkpointing: "
            "configs/*.yaml need gradient_checkpointing instead"
        )
    figures = {
        "notes": notes,
        "python": platform.python_version(),
        "device": torch.cuda.get_device_name(0) if cuda else f"CPU ({platform.machine()})",
        "gpu_memory_gb": torch.cuda.get_device_properties(0).total_memory / 1e9 if cuda else None,
        "cuda": torch.version.cuda,
        "bf16_supported": cuda and torch.cuda.is_bf16_supported(),
        "versions": versions,
        "missing": missing,
    }
    if missing:
        raise RuntimeError(f"modules segr1 needs do not import: {'; '.join(missing)}")
    return figures, json.dumps(figures, indent=2)


def grpo(args: argparse.Namespace, lora: bool) -> tuple[dict[str, Any], str]:
    import statistics

    import grpo_step

    a = grpo_step.parse_args([*bench_args(args, "grpo"), *(["--lora"] if lora else [])])
    times = grpo_step.run(a)
    figures = {k: statistics.mean(times[k]) for k in ("generation", "reward", "update", "step")}
    return figures, grpo_step.report(a, times)


def reward_path(args: argparse.Namespace) -> tuple[dict[str, Any], str]:
    import reward_path as rp

    a = rp.parse_args(bench_args(args, "reward_path"))
    rows, facts = rp.run(a)
    keys = ("b_s", "c_s", "d_warm_cache_s", "floor_exact_s", "floor_padded_s")
    figures: dict[str, Any] = {k: r.seconds for k, r in zip(keys, rows, strict=True)}
    figures["b_over_c"] = figures["b_s"] / figures["c_s"]
    return figures, rp.report(a, rows, facts)


def embed_batch(args: argparse.Namespace) -> tuple[dict[str, Any], str]:
    import embed_batch as eb

    a = eb.parse_args(bench_args(args, "embed_batch"))
    result = eb.run(a)
    figures = {k: round(v["images_per_s"], 3) for k, v in result["rows"].items()}
    figures["mask_pixels_differing"] = result["mask_pixels_differing"]
    return figures, eb.report(a, result)


def eval_throughput(args: argparse.Namespace) -> tuple[dict[str, Any], str]:
    import eval_throughput as et

    a = et.parse_args(bench_args(args, "eval"))
    result = et.run(a)
    figures = {f"{k}_images_per_s": v for k, v in result["images_per_s"].items()}
    return figures, et.report(a, result)


def checkpointing_key() -> str:
    """``activation_checkpointing`` (transformers >= 5.2x; configs/*.yaml use it), or the older
    name ``gradient_checkpointing`` where the installed transformers lacks it (5.17 does)."""
    import dataclasses

    from segr1.train.config import SegR1Config

    names = {f.name for f in dataclasses.fields(SegR1Config)}
    return (
        "activation_checkpointing"
        if "activation_checkpointing" in names
        else "gradient_checkpointing"
    )


def train(args: argparse.Namespace, lora: bool) -> tuple[dict[str, Any], str]:
    """One step of ``segr1 train`` (TRL) with the tiny policy on synthetic data."""
    import yaml

    from segr1.data.synth import generate
    from segr1.data.synth_scene import SynthConfig
    from segr1.policy import build_tiny_policy
    from segr1.train.config import parse_config
    from segr1.train.main import train as run_training

    cuda = args.device.startswith("cuda")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        generate(root / "data", 4, 0, config=SynthConfig(size=64), progress=False)
        config = {
            "policy": str(build_tiny_policy(root / "policy")),
            "model_init_kwargs": {"dtype": "bfloat16" if cuda else "float32"},
            "datasets": [{"name": "synth", "root": str(root / "data"), "split": "train"}],
            "segmenter": "sam2-random-tiny",
            "segmenter_device": "auto",
            "image_side": 64,
            "num_generations": 4,
            "per_device_train_batch_size": 4,
            "max_completion_length": 32,
            "max_steps": 1,
            "learning_rate": 1e-4,
            "bf16": cuda,
            "use_cpu": not cuda,
            "use_peft": lora,
            checkpointing_key(): cuda,
            "save_strategy": "no",
            "logging_steps": 1,
            "report_to": "none",
            "rollout_log_steps": 0,
            "disable_tqdm": True,
            "dataloader_pin_memory": False,
            "output_dir": str(root / "run"),
        }
        (root / "config.yaml").write_text(yaml.safe_dump(config))
        result = run_training(parse_config(["--config", str(root / "config.yaml")]))
        final = sorted(p.name for p in result.final_dir.iterdir())
    logged = [h for h in result.log_history if "loss" in h]
    figures = {"steps": result.global_step, "loss": logged[-1]["loss"] if logged else None}
    return figures, f"trained {result.global_step} step(s); final/: {', '.join(final)}"


SECTIONS: dict[str, Callable[[argparse.Namespace], tuple[dict[str, Any], str]]] = {
    "environment": environment,
    "grpo_full": lambda a: grpo(a, lora=False),
    "grpo_lora": lambda a: grpo(a, lora=True),
    "reward_path": reward_path,
    "embed_batch": embed_batch,
    "eval": eval_throughput,
    "train_lora": lambda a: train(a, lora=True),
    "train_full": lambda a: train(a, lora=False),
}


# -- running and reporting -----------------------------------------------------------------
def run_section(name: str, args: argparse.Namespace) -> dict[str, Any]:
    cuda = args.device.startswith("cuda") and torch.cuda.is_available()
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    start = time.perf_counter()
    record: dict[str, Any] = {"name": name}
    try:
        record["figures"], record["report"] = SECTIONS[name](args)
        record["status"] = "ok"
    except Exception as e:  # record it and go on to the next section
        record.update(status="FAILED", error=f"{type(e).__name__}: {e}")
        record["traceback"] = traceback.format_exc()
    record["seconds"] = time.perf_counter() - start
    record["peak_gpu_gb"] = torch.cuda.max_memory_allocated() / 1e9 if cuda else None
    gc.collect()
    if cuda:
        torch.cuda.empty_cache()
    return record


def short(figures: dict[str, Any] | None) -> str:
    if not figures:
        return ""
    parts = []
    for k, v in figures.items():
        if isinstance(v, float):
            parts.append(f"{k} {v:.3g}")
        elif isinstance(v, int | str) and k not in ("python", "cuda"):
            parts.append(f"{k} {v}")
    return ", ".join(parts)[:110]


def table(records: list[dict[str, Any]]) -> str:
    lines = [
        f"| {'section':<12} | {'status':<8} | {'seconds':>8} | {'peak GPU GB':>11} | figures",
        f"|{'-' * 14}|{'-' * 10}|{'-' * 9}:|{'-' * 12}:|---------",
    ]
    for r in records:
        gb = "-" if r.get("peak_gpu_gb") is None else f"{r['peak_gpu_gb']:.1f}"
        seconds = "-" if r.get("seconds") is None else f"{r['seconds']:.1f}"
        what = r.get("error") or short(r.get("figures"))
        lines.append(f"| {r['name']:<12} | {r['status']:<8} | {seconds:>8} | {gb:>11} | {what}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    sys.path.insert(0, str(HERE))  # the sibling benchmark scripts
    names = args.only or list(SECTIONS)
    started = time.perf_counter()
    records = []
    for name in names:
        if time.perf_counter() - started > args.budget_s:
            records.append({"name": name, "status": "skipped", "error": "over --budget-s"})
            continue
        print(f"== {name}", flush=True)
        record = run_section(name, args)
        print(record.get("report") or record.get("traceback"), flush=True)
        records.append(record)
    total = time.perf_counter() - started
    result = {
        "scale": args.scale,
        "device": args.device,
        "total_seconds": total,
        "command": " ".join(["python", *sys.argv]),
        "sections": records,
    }
    Path(args.out).write_text(json.dumps(result, indent=2, default=str) + "\n", encoding="utf-8")
    notes = [n for r in records for n in (r.get("figures") or {}).get("notes", [])]
    print(f"\n{table(records)}\n", *(f"note: {n}" for n in notes), sep="\n")
    print(f"total {total:.0f} s; wrote {args.out}")
    return 0 if all(r["status"] == "ok" for r in records) else 1


if __name__ == "__main__":
    sys.exit(main())
