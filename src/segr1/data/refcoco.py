"""RefCOCO / RefCOCO+ / RefCOCOg -> referring :class:`Sample` s, one per expression.

Reads the standard ``refer`` layout::

    <root>/refcoco/refs(unc).p      <root>/refcoco+/refs(unc).p     <root>/refcocog/refs(umd).p
    <root>/<dataset>/instances.json
    <root>/images/mscoco/images/train2014/COCO_train2014_*.jpg   (or coco_2014/train2014, ...)

Every sentence of every ref in the chosen split is one sample (task "referring"), id
``<ref_id>_<sent_id>``, query = the sentence's ``sent`` field (tokenised, lower-case, as LISA /
GLaMM-style evaluations use; ``text_field="raw"`` for the original text). Order: by ref id, then
sentence id. Masks are decoded on demand with pycocotools from the referred annotation's
segmentation (polygons, compressed or uncompressed RLE).

Security: the refs file is a Python pickle, and unpickling runs code the file asks for. Only the
refs file you point at (or the one found under ``root``) is unpickled, nothing else: use refs
files from a source you trust.
"""

from __future__ import annotations

import hashlib
import json
import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from segr1.data.sample import Sample, check_unique_ids

SPLIT_BY = {"refcoco": "unc", "refcoco+": "unc", "refcocog": "umd"}
IMAGE_DIRS = (
    "images/mscoco/images/train2014",
    "coco_2014/train2014",
    "images/train2014",
    "train2014",
    "coco/train2014",
    "mscoco/train2014",
)


@dataclass(frozen=True)
class CocoSegmentation:
    """A COCO annotation's ``segmentation`` (polygons or RLE) at the image size it was drawn on."""

    segmentation: Any
    height: int
    width: int
    ann_id: int = -1

    def masks(self, height: int, width: int) -> tuple[np.ndarray, None]:
        from pycocotools import mask as mask_utils

        if (height, width) != (self.height, self.width):
            raise ValueError(
                f"annotation {self.ann_id} was drawn on a {self.width}x{self.height} image but "
                f"the image file is {width}x{height}; use the COCO train2014 images"
            )
        seg = self.segmentation
        if isinstance(seg, list):
            if not seg:
                return np.zeros((height, width), dtype=bool), None
            rle = mask_utils.merge(mask_utils.frPyObjects(seg, height, width))
        elif isinstance(seg, dict) and isinstance(seg.get("counts"), list):
            rle = mask_utils.frPyObjects(seg, height, width)  # uncompressed RLE
        elif isinstance(seg, dict):
            counts = seg["counts"]
            rle = {
                "size": seg["size"],
                "counts": counts.encode() if isinstance(counts, str) else counts,
            }
        else:
            raise ValueError(f"annotation {self.ann_id}: unknown segmentation {type(seg).__name__}")
        m = mask_utils.decode(rle)  # (H, W) uint8
        return m.astype(bool), None

    def key(self) -> str:
        blob = json.dumps(self.segmentation, sort_keys=True, default=str).encode()
        return f"coco:{self.ann_id}:{hashlib.sha256(blob).hexdigest()[:16]}"


def _first(paths: list[Path]) -> Path | None:
    return next((p for p in paths if p.exists()), None)


def find_refs(root: Path, dataset: str, split_by: str) -> Path:
    name = f"refs({split_by}).p"
    tried = [root / dataset / name, root / name]
    found = _first(tried)
    if found is None:
        raise FileNotFoundError(
            f"{dataset}: no {name} at {', '.join(map(str, tried))}; pass refs_file=PATH "
            "(the refer-layout pickle, e.g. from the refer / LISA data release)"
        )
    return found


def find_image_dir(root: Path) -> Path:
    tried = [base / d for base in (root, root.parent, root.parent.parent) for d in IMAGE_DIRS]
    found = _first(tried)
    if found is None:
        raise FileNotFoundError(
            "COCO train2014 images not found; looked in "
            + ", ".join(map(str, tried[: len(IMAGE_DIRS)]))
            + " (and the same under the parent folders). Pass image_dir=DIR (--image-dir)."
        )
    return found


def read_refs(path: Path) -> list[dict]:
    """Unpickle a refer ``refs(*).p`` file (trusted input only; see the module docstring)."""
    with open(path, "rb") as f:
        try:
            refs = pickle.load(f)
        except UnicodeDecodeError:  # Python 2 pickles with non-ASCII byte strings
            f.seek(0)
            refs = pickle.load(f, encoding="latin1")
    if not isinstance(refs, list) or not all(isinstance(r, dict) for r in refs):
        raise ValueError(f"{path}: expected a list of ref dicts (the refer format)")
    need = {"ref_id", "ann_id", "image_id", "split", "sentences"}
    missing = need - set(refs[0]) if refs else set()
    if missing:
        raise ValueError(f"{path}: refs lack keys {sorted(missing)}; not a refer refs file")
    return refs


def _read_instances(path: Path) -> tuple[dict[int, dict], dict[int, dict]]:
    if not path.exists():
        raise FileNotFoundError(f"{path}: COCO instances file not found; pass instances_file=PATH")
    with open(path) as f:
        data = json.load(f)
    return {im["id"]: im for im in data["images"]}, {a["id"]: a for a in data["annotations"]}


def load_refcoco(
    root: str | Path,
    dataset: str = "refcoco",
    split: str = "val",
    *,
    split_by: str | None = None,
    image_dir: str | Path | None = None,
    refs_file: str | Path | None = None,
    instances_file: str | Path | None = None,
    text_field: str = "sent",
) -> list[Sample]:
    """Every expression of ``split`` as a referring sample, sorted by (ref id, sentence id)."""
    if dataset not in SPLIT_BY:
        raise ValueError(f"unknown refer dataset {dataset!r}; choose one of {', '.join(SPLIT_BY)}")
    root = Path(root)
    refs_path = (
        Path(refs_file) if refs_file else find_refs(root, dataset, split_by or SPLIT_BY[dataset])
    )
    refs, images, anns, img_dir = split_refs(
        read_refs(refs_path), split, refs_path, root, image_dir, instances_file
    )
    samples: list[Sample] = []
    for ref in refs:
        samples += _ref_samples(ref, images, anns, img_dir, dataset, text_field, refs_path)
    _check_images_exist(samples, img_dir)
    check_unique_ids(samples, dataset)
    return samples


def split_refs(
    refs: list[dict],
    split: str,
    refs_path: Path,
    root: Path,
    image_dir: str | Path | None,
    instances_file: str | Path | None,
) -> tuple[list[dict], dict[int, dict], dict[int, dict], Path]:
    """``split``'s refs by ref id, the COCO images and annotations by id, and the image folder."""
    splits = sorted({r["split"] for r in refs})
    if split not in splits:
        raise ValueError(f"{refs_path}: no split {split!r}; it has {', '.join(splits)}")
    images, anns = _read_instances(Path(instances_file or refs_path.parent / "instances.json"))
    img_dir = Path(image_dir) if image_dir else find_image_dir(root)
    chosen = sorted((r for r in refs if r["split"] == split), key=lambda r: r["ref_id"])
    return chosen, images, anns, img_dir


def _ref_samples(
    ref: dict, images: dict, anns: dict, img_dir: Path, dataset: str, field: str, src: Path
) -> list[Sample]:
    ann, image = anns.get(ref["ann_id"]), images.get(ref["image_id"])
    if ann is None or image is None:
        raise ValueError(
            f"{src}: ref {ref['ref_id']} points at an annotation/image missing from instances.json"
        )
    source = CocoSegmentation(ann["segmentation"], image["height"], image["width"], ann["id"])
    return sentence_samples(ref, source, img_dir / image["file_name"], dataset, field, src)


def sentence_samples(
    ref: dict, source: Any, image_path: Path, dataset: str, field: str, src: Path
) -> list[Sample]:
    """One referring sample per sentence of ``ref`` (by sentence id), all with ``source``."""
    out = []
    for sent in sorted(ref["sentences"], key=lambda s: s["sent_id"]):
        if field not in sent:
            raise ValueError(f"{src}: sentence {sent.get('sent_id')} has no {field!r} field")
        out.append(
            Sample(
                id=f"{ref['ref_id']}_{sent['sent_id']}",
                image_path=image_path,
                query=sent[field],
                task="referring",
                dataset=dataset,
                source=source,
            )
        )
    return out


def _check_images_exist(samples: list[Sample], img_dir: Path) -> None:
    missing = sorted(str(p) for p in {s.image_path for s in samples} if not p.exists())
    if missing:
        shown = ", ".join(missing[:5]) + (
            f" ... ({len(missing)} in all)" if len(missing) > 5 else ""
        )
        raise FileNotFoundError(
            f"{len(missing)} images missing from {img_dir}: {shown}; pass image_dir=DIR"
        )
