"""ReasonSeg (LISA) -> reasoning :class:`Sample` s, one per query.

Layout: ``<root>/{train,val,test}/<name>.jpg`` + ``<name>.json`` (``root`` may also be the
``ReasonSeg`` folder's parent, or a split folder itself). The JSON is labelme-like::

    {"text": ["question 1", "question 2"] | "question", "is_sentence": true,
     "shapes": [{"label": "target" | "ignore" | "flag", "points": [[x, y], ...]}, ...]}

Every query is a sample with id ``<name>_<k>`` (k = the query's index); all queries of an image
share its mask. The mask is rasterised on demand exactly as LISA's ``get_mask_from_json`` does:
shapes labelled "flag" are skipped, the others are drawn filled (plus a 1-pixel outline) from
the largest area to the smallest, so a smaller shape overwrites a larger one; labels containing
"ignore" paint the ignore region, every other label paints the target. Ignore pixels are excluded
from intersection and union when scoring; releases that store one mask with value 255 for
ignore encode the same thing. (LISA's evaluation scored only each image's first query;
``first_query_only=True`` reproduces that, the default scores every query.)
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from segr1.data.folders import list_images
from segr1.data.sample import Sample, check_unique_ids

SPLITS = ("train", "val", "test")


def read_json(path: Path) -> dict[str, Any]:
    """A ReasonSeg annotation (UTF-8, with LISA's cp1252 fallback)."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        text = path.read_text(encoding="cp1252")
    try:
        anno = json.loads(text)
    except json.JSONDecodeError as e:
        raise ValueError(f"{path}: not valid JSON ({e})") from None
    for key in ("shapes", "text", "is_sentence"):
        if key not in anno:
            raise ValueError(f"{path}: missing key {key!r}; not a ReasonSeg annotation")
    return anno


def queries_of(anno: dict[str, Any], path: Path) -> list[str]:
    text = anno["text"]
    queries = [text] if isinstance(text, str) else list(text)
    if not queries or not all(isinstance(q, str) and q.strip() for q in queries):
        raise ValueError(f"{path}: 'text' must be a non-empty string or list of strings")
    return queries


def rasterise(shapes: list[dict], height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """``(target, ignore)`` (H, W) bool from labelme shapes, in LISA's painting order."""
    import cv2

    polys, areas, values = [], [], []
    for shape in shapes:
        label = str(shape["label"]).lower()
        if label == "flag":  # deprecated annotations, skipped by LISA too
            continue
        pts = np.array([shape["points"]], dtype=np.int32)  # (1, N, 2), truncated like LISA
        tmp = np.zeros((height, width), dtype=np.uint8)
        cv2.polylines(tmp, pts, True, 1, 1)
        cv2.fillPoly(tmp, pts, 1)
        polys.append(pts)
        areas.append(int(tmp.sum()))
        values.append(255 if "ignore" in label else 1)
    mask = np.zeros((height, width), dtype=np.uint8)  # 0 background, 1 target, 255 ignore
    for i in np.argsort(areas, kind="stable")[::-1]:
        cv2.polylines(mask, polys[i], True, values[i], 1)
        cv2.fillPoly(mask, polys[i], values[i])
    return mask == 1, mask == 255


@dataclass(frozen=True)
class ReasonSegPolygons:
    """The target / ignore polygons of one ReasonSeg JSON file, read when needed."""

    json_path: Path

    def masks(self, height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
        return rasterise(read_json(self.json_path)["shapes"], height, width)

    def key(self) -> str:
        st = self.json_path.stat()
        return f"reasonseg:{self.json_path.resolve()}:{st.st_size}:{st.st_mtime_ns}"


def find_split_dir(root: Path, split: str) -> Path:
    tried = [root / split, root / "ReasonSeg" / split, root / "reason_seg" / "ReasonSeg" / split]
    for d in tried:
        if d.is_dir():
            return d
    if root.is_dir() and any(root.glob("*.json")):
        return root
    raise FileNotFoundError(
        f"ReasonSeg split {split!r} not found; looked for {', '.join(map(str, tried))} and for "
        f"*.json files in {root}"
    )


def load_reasonseg(
    root: str | Path, split: str = "val", *, first_query_only: bool = False
) -> list[Sample]:
    """Every query of every image of ``split``, sorted by file stem then query index."""
    if split not in SPLITS:
        raise ValueError(f"ReasonSeg has no split {split!r}; choose one of {', '.join(SPLITS)}")
    folder = find_split_dir(Path(root), split)
    jsons = sorted(folder.glob("*.json"))
    images = list_images(folder)
    orphans = sorted(set(images) - {p.stem for p in jsons})
    if orphans:
        raise ValueError(f"{folder}: images without a .json annotation: {', '.join(orphans[:10])}")
    samples: list[Sample] = []
    for jp in jsons:
        if jp.stem not in images:
            raise FileNotFoundError(f"{jp}: no image {jp.stem}.jpg next to the annotation")
        anno = read_json(jp)
        queries = queries_of(anno, jp)
        source = ReasonSegPolygons(jp)
        for k, q in enumerate(queries[:1] if first_query_only else queries):
            samples.append(
                Sample(
                    id=f"{jp.stem}_{k}",
                    image_path=images[jp.stem],
                    query=q,
                    is_sentence=bool(anno["is_sentence"]),
                    task="reasoning",
                    dataset="reasonseg",
                    source=source,
                )
            )
    if not samples:
        raise ValueError(f"{folder}: no ReasonSeg annotations (*.json) found")
    check_unique_ids(samples, f"reasonseg/{split}")
    return samples
