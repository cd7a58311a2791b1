"""``load_dataset(name, root, split, **opts)``: every dataset by name -> ``list[Sample]``.

Names: the foreground benchmarks of :mod:`segr1.data.layouts` (cod10k, camo, chameleon, nc4k,
duts-tr, duts-te, dut-omron, ecssd, hku-is, pascal-s, dis5k, synth), ``folder`` (``images=``,
``masks=``), the refer family (refcoco, refcoco+, refcocog), grefcoco (with no-target
expressions) and reasonseg.

Options of folder datasets: ``images=`` / ``masks=`` (skip layout detection; relative paths are
taken under ``root``), ``unpaired="error" | "drop"``; cod10k also ``include_noncam=False``
(NonCAM images are excluded by default, as in the literature). Refer datasets: ``split_by``,
``image_dir``, ``refs_file``, ``instances_file``, ``text_field``. ReasonSeg:
``first_query_only``. Unknown names or options raise errors that list the valid ones.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from segr1.data.folders import FolderDataset
from segr1.data.layouts import SPECS, resolve_layout, split_of
from segr1.data.reasonseg import load_reasonseg
from segr1.data.refcoco import SPLIT_BY, load_refcoco
from segr1.data.sample import Sample, check_unique_ids

FOLDER_OPTS = ("images", "masks", "unpaired")
REFER_OPTS = ("split_by", "image_dir", "refs_file", "instances_file", "text_field")


def dataset_names() -> list[str]:
    """Every name :func:`load_dataset` accepts."""
    return [*SPECS, "folder", *SPLIT_BY, "grefcoco", "reasonseg"]


def is_cod10k_cam(stem: str) -> bool:
    """COD10K camouflaged images (``COD10K-CAM-...``); NonCAM (``COD10K-NonCAM-...``) is not."""
    return "NonCAM" not in stem


def _check_opts(name: str, opts: dict[str, Any], allowed: tuple[str, ...]) -> None:
    bad = sorted(set(opts) - set(allowed))
    if bad:
        raise TypeError(
            f"{name}: unknown option(s) {', '.join(bad)}; accepted: {', '.join(allowed) or 'none'}"
        )


def _under(root: Path | None, path: str | Path) -> Path:
    p = Path(path)
    return root / p if root is not None and not p.is_absolute() else p


def folder_dataset(name: str, root: Path | None, split: str | None, **opts: Any) -> FolderDataset:
    """The :class:`FolderDataset` a folder-style dataset name resolves to (no files listed)."""
    allowed = FOLDER_OPTS + (("include_noncam",) if name == "cod10k" else ())
    _check_opts(name, opts, allowed)
    images, masks = opts.get("images"), opts.get("masks")
    keep = None if opts.get("include_noncam", False) or name != "cod10k" else is_cod10k_cam
    if (images is None) != (masks is None):
        raise ValueError(f"{name}: pass both images= and masks= (--images and --masks), or neither")
    if images is not None:
        img_dir, mask_dir = _under(root, images), _under(root, masks)
    elif name == "folder":
        raise ValueError("folder: pass images=DIR and masks=DIR (--images/--masks)")
    elif root is None:
        raise ValueError(f"{name}: pass the dataset root (--root DIR)")
    else:
        img_dir, mask_dir = resolve_layout(name, root, split)
    spec = SPECS.get(name)
    label = name if split is None or spec is None else f"{name}/{split_of(spec, split)}"
    return FolderDataset(
        img_dir,
        mask_dir,
        name=label,
        keep=keep,
        unpaired=opts.get("unpaired", "error"),
        extra_masks_ok=bool(spec and spec.extra_masks_ok and images is None),
    )


def _refer(name: str) -> Callable[..., list[Sample]]:
    def load(root: Path | None, split: str | None, **opts: Any) -> list[Sample]:
        _check_opts(name, opts, REFER_OPTS)
        if root is None:
            raise ValueError(f"{name}: pass the refer data root (--root DIR)")
        return load_refcoco(root, name, split or "val", **opts)

    return load


def _grefcoco(root: Path | None, split: str | None, **opts: Any) -> list[Sample]:
    from segr1.data.grefcoco import load_grefcoco

    _check_opts("grefcoco", opts, ("image_dir", "refs_file", "instances_file", "text_field"))
    if root is None:
        raise ValueError("grefcoco: pass the gRefCOCO data root (--root DIR)")
    return load_grefcoco(root, split or "val", **opts)


def _reasonseg(root: Path | None, split: str | None, **opts: Any) -> list[Sample]:
    _check_opts("reasonseg", opts, ("first_query_only",))
    if root is None:
        raise ValueError("reasonseg: pass the ReasonSeg root (--root DIR)")
    return load_reasonseg(root, split or "val", **opts)


def load_dataset(
    name: str, root: str | Path | None = None, split: str | None = None, **opts: Any
) -> list[Sample]:
    """The samples of dataset ``name`` (split ``split`` or its default), sorted, ids unique."""
    key = name.lower()
    root_p = Path(root) if root is not None else None
    if key in SPECS or key == "folder":
        samples = folder_dataset(key, root_p, split, **opts).samples()
    elif key in SPLIT_BY:
        samples = _refer(key)(root_p, split, **opts)
    elif key == "reasonseg":
        samples = _reasonseg(root_p, split, **opts)
    elif key == "grefcoco":
        samples = _grefcoco(root_p, split, **opts)
    else:
        raise ValueError(f"unknown dataset {name!r}; known: {', '.join(dataset_names())}")
    check_unique_ids(samples, key)
    return samples


def describe(
    name: str, root: str | Path | None = None, split: str | None = None, show: int = 5, **opts: Any
) -> str:
    """A short human-readable report: resolved folders, sample counts, the first samples."""
    key = name.lower()
    root_p = Path(root) if root is not None else None
    lines = [f"dataset: {key}" + (f"  split: {split}" if split else "")]
    if key in SPECS or key == "folder":
        folder = folder_dataset(key, root_p, split, **opts)
        lines += [f"images:  {folder.images}", f"masks:   {folder.masks}"]
        samples = folder.samples()
    else:
        samples = load_dataset(key, root_p, split, **opts)
    tasks = sorted({s.task for s in samples})
    n_images = len({s.image_path for s in samples})
    lines.append(f"samples: {len(samples)} ({n_images} images; task {', '.join(tasks)})")
    for s in samples[:show]:
        gt = s.mask_path or getattr(s.source, "json_path", None)
        gt = gt or f"COCO annotation {getattr(s.source, 'ann_id', '-')}"
        q = f"  query: {s.query!r}" if s.query else ""
        lines.append(f"  {s.id}: {s.image_path.name} | {gt}{q}")
    return "\n".join(lines)
