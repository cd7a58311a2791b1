"""gRefCOCO (generalised referring expressions) -> referring :class:`Sample` s, one per expression.

Reads the gRefCOCO release layout::

    <root>/grefcoco/grefs(unc).json     a JSON list of refs
    <root>/grefcoco/instances.json      COCO instances (images + annotations)
    COCO train2014 images (found as for RefCOCO, or image_dir=DIR)

A gRefCOCO ref may name several annotations (``ann_id`` a list: the target is their union) or none
(``ann_id`` ``[-1]`` / ``[]``, or ``no_target`` true: a no-target expression, the ground truth is
empty). Every sentence of every ref of the split is one sample (task "referring"), id
``<ref_id>_<sent_id>``, query = ``sent`` (``text_field="raw"`` for the original text), in ref id
then sentence id order. Unlike the RefCOCO refs pickle, the file is JSON: nothing is unpickled.
Evaluating it reports N_acc / T_acc and gRefCOCO's gIoU convention (:mod:`segr1.scoring`).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from segr1.data.refcoco import (
    CocoSegmentation,
    _check_images_exist,
    sentence_samples,
    split_refs,
)
from segr1.data.sample import Sample, check_unique_ids

REFS_NAME = "grefs(unc).json"


@dataclass(frozen=True)
class UnionSegmentation:
    """The union of several COCO annotations (none: an empty ground truth)."""

    parts: tuple[CocoSegmentation, ...]
    height: int
    width: int

    def masks(self, height: int, width: int) -> tuple[np.ndarray, np.ndarray | None]:
        target = np.zeros((height, width), dtype=bool)
        for part in self.parts:
            target |= part.masks(height, width)[0]
        return target, None

    def key(self) -> str:
        blob = "|".join(p.key() for p in self.parts) or "no-target"
        return f"grefcoco:{hashlib.sha256(blob.encode()).hexdigest()[:16]}"


def read_grefs(path: Path) -> list[dict]:
    if not path.exists():
        raise FileNotFoundError(f"{path}: gRefCOCO refs not found; pass refs_file=PATH")
    try:
        refs = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as e:
        raise ValueError(f"{path}: not readable JSON ({e})") from None
    if not isinstance(refs, list) or not all(isinstance(r, dict) for r in refs):
        raise ValueError(f"{path}: expected a JSON list of refs (the gRefCOCO format)")
    need = {"ref_id", "ann_id", "image_id", "split", "sentences"}
    missing = need - set(refs[0]) if refs else set()
    if missing:
        raise ValueError(f"{path}: refs lack keys {sorted(missing)}; not a gRefCOCO refs file")
    return refs


def _targets(ref: dict) -> list[int]:
    ids = ref["ann_id"] if isinstance(ref["ann_id"], list) else [ref["ann_id"]]
    return [] if ref.get("no_target") else [int(a) for a in ids if int(a) >= 0]


def load_grefcoco(
    root: str | Path,
    split: str = "val",
    *,
    image_dir: str | Path | None = None,
    refs_file: str | Path | None = None,
    instances_file: str | Path | None = None,
    text_field: str = "sent",
) -> list[Sample]:
    """Every expression of ``split``, sorted by (ref id, sentence id); see the module docstring."""
    root = Path(root)
    refs_path = Path(refs_file) if refs_file else root / "grefcoco" / REFS_NAME
    if not refs_file and not refs_path.exists() and (root / REFS_NAME).exists():
        refs_path = root / REFS_NAME
    refs, images, anns, img_dir = split_refs(
        read_grefs(refs_path), split, refs_path, root, image_dir, instances_file
    )
    samples: list[Sample] = []
    for ref in refs:
        image = images.get(ref["image_id"])
        missing = [a for a in _targets(ref) if a not in anns]
        if image is None or missing:
            raise ValueError(
                f"{refs_path}: ref {ref['ref_id']} points at an image or annotation missing "
                "from instances.json"
            )
        h, w = image["height"], image["width"]
        parts = tuple(CocoSegmentation(anns[a]["segmentation"], h, w, a) for a in _targets(ref))
        source = UnionSegmentation(parts, h, w)
        path = img_dir / image["file_name"]
        samples += sentence_samples(ref, source, path, "grefcoco", text_field, refs_path)
    _check_images_exist(samples, img_dir)
    check_unique_ids(samples, "grefcoco")
    return samples
