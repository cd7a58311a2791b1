"""The synthetic camouflage benchmark: scenes written in the COD10K folder layout.

:func:`generate` writes ``out/Train/Image/*.png`` + ``out/Train/GT_Object/*.png`` and the same
under ``out/Test`` plus ``out/meta.json`` (seed, counts per kind, config, every scene's kind and
boxes); ``load_dataset("synth", out, split="train" | "test")`` reads it back. File stems are
``<index>-<kind>`` (e.g. ``00012-camouflage``), so per-kind results are one filter away.

Determinism: scene ``i`` of a split is drawn from its own generator seeded with
``(seed, split, i)``, and images are PNG (no JPEG encoder differences), so the same seed gives the
same bytes. Kinds are assigned in exact proportions (``round(n * empty_fraction)`` empty scenes,
``camo_fraction`` of the rest camouflaged) and shuffled with the seed.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image
from tqdm.auto import tqdm

from segr1.data.io import save_atomic
from segr1.data.synth_scene import KINDS, Scene, SynthConfig, render_scene

SPLIT_DIRS = {"train": "Train", "test": "Test"}
_SPLIT_CODE = {"train": 1, "test": 2}
META = "meta.json"
VERSION = 1


def scene_kinds(n: int, seed: int, split: str, cfg: SynthConfig) -> list[str]:
    """The kind of each of ``n`` scenes: exact proportions, shuffled deterministically."""
    n_empty = round(n * cfg.empty_fraction)
    n_camo = round((n - n_empty) * cfg.camo_fraction)
    kinds = ["empty"] * n_empty + ["camouflage"] * n_camo
    kinds += ["salient"] * (n - len(kinds))
    order = np.random.default_rng([seed, _SPLIT_CODE[split], 0]).permutation(n)
    return [kinds[i] for i in order]


def scene(seed: int, split: str, index: int, kind: str, cfg: SynthConfig) -> Scene:
    """Scene ``index`` of ``split``; independent of how many scenes the split has."""
    rng = np.random.default_rng([seed, _SPLIT_CODE[split], index + 1])
    return render_scene(rng, kind, cfg)


def written_files(out: Path, meta: dict[str, Any]) -> list[Path]:
    """Every file a synthetic set's ``meta.json`` says it wrote (images, masks, meta.json)."""
    files = [out / META]
    for split, info in meta.get("splits", {}).items():
        base = out / SPLIT_DIRS[split]
        for rec in info.get("scenes", []):
            files += [base / "Image" / f"{rec['id']}.png", base / "GT_Object" / f"{rec['id']}.png"]
    return files


def _prepare(out: Path, overwrite: bool) -> None:
    """Refuse to write over anything; with ``overwrite``, delete only what an earlier
    ``generate`` wrote (listed in its meta.json), and refuse when anything else is there."""
    existing = [out / d for d in SPLIT_DIRS.values() if (out / d).exists()]
    existing += [out / META] if (out / META).exists() else []
    if existing and not overwrite:
        raise FileExistsError(
            f"{out} already holds a synthetic set ({', '.join(p.name for p in existing)}); "
            "pass overwrite=True (--overwrite) to replace it, or choose another --out"
        )
    if not existing:
        return
    try:
        meta = json.loads((out / META).read_text())
        ours = meta.get("generator") == "segr1.data.synth"
    except (OSError, ValueError):
        ours = False
    if not ours:
        raise FileExistsError(
            f"{out} holds {', '.join(p.name for p in existing)} but no meta.json written by "
            "segr1 data synth: it is not a synthetic set segr1 made, so --overwrite will not "
            "delete it; choose another --out"
        )
    mine = set(written_files(out, meta))
    others = sorted(
        p for d in existing if d.is_dir() for p in d.rglob("*") if p.is_file() and p not in mine
    )
    if others:
        shown = ", ".join(str(p.relative_to(out)) for p in others[:5])
        raise FileExistsError(
            f"{out}: {len(others)} file(s) not written by segr1 data synth ({shown}); "
            "--overwrite deletes only the set's own files: move them, or choose another --out"
        )
    for p in mine:
        p.unlink(missing_ok=True)
    folders = [f for top in existing if top.is_dir() for f in [top, *top.rglob("*")]]
    for folder in sorted(folders, key=lambda f: len(f.parts), reverse=True):  # deepest first
        if folder.is_dir() and not any(folder.iterdir()):
            folder.rmdir()


def _write_split(
    out: Path, split: str, n: int, seed: int, cfg: SynthConfig, bar: tqdm
) -> list[dict[str, Any]]:
    base = out / SPLIT_DIRS[split]
    records = []
    for i, kind in enumerate(scene_kinds(n, seed, split, cfg)):
        sc = scene(seed, split, i, kind, cfg)
        stem = f"{i:05d}-{kind}"
        save_atomic(base / "Image" / f"{stem}.png", Image.fromarray(sc.image), compress_level=1)
        save_atomic(base / "GT_Object" / f"{stem}.png", Image.fromarray(sc.mask), compress_level=1)
        records.append({"id": stem, "kind": kind, "boxes": sc.boxes})
        bar.update(1)
    return records


def generate(
    out: str | Path,
    n_train: int,
    n_test: int,
    seed: int = 0,
    config: SynthConfig | None = None,
    *,
    overwrite: bool = False,
    progress: bool = True,
) -> dict[str, Any]:
    """Write the benchmark under ``out`` and return its metadata (also saved as meta.json)."""
    cfg = config or SynthConfig()
    if n_train < 0 or n_test < 0 or n_train + n_test == 0:
        raise ValueError(
            f"need n_train, n_test >= 0 and at least one scene (got {n_train}, {n_test})"
        )
    if seed < 0:
        raise ValueError(f"seed must be >= 0, got {seed}")
    out = Path(out)
    _prepare(out, overwrite)
    meta: dict[str, Any] = {
        "generator": "segr1.data.synth",
        "version": VERSION,
        "seed": seed,
        "config": asdict(cfg),
        "layout": "COD10K-like: <Split>/Image/*.png + <Split>/GT_Object/*.png",
        "splits": {},
    }
    with tqdm(total=n_train + n_test, desc="synth scenes", unit="img", disable=not progress) as bar:
        for split, n in (("train", n_train), ("test", n_test)):
            if n == 0:
                continue
            records = _write_split(out, split, n, seed, cfg, bar)
            counts = Counter(r["kind"] for r in records)
            meta["splits"][split] = {
                "n": n,
                "counts": {k: counts.get(k, 0) for k in KINDS},
                "two_objects": sum(len(r["boxes"]) == 2 for r in records),
                "scenes": records,
            }
    (out / META).write_text(json.dumps(meta, indent=1, sort_keys=True) + "\n")
    return meta
