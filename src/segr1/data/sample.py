"""One sample type for every dataset: an image, its ground truth, and (optionally) a query.

A :class:`Sample` holds paths and small metadata only; pixels load lazily:

* :meth:`Sample.load_image` -> ``(H, W, 3)`` uint8 RGB;
* :meth:`Sample.load_mask` -> ``(H, W)`` uint8 levels, 0..255 (foreground is > 128, see
  :func:`segr1.imaging.binarize`; files are read with :func:`segr1.data.io.read_mask`,
  so a 0/1 mask is 0/255; decoded annotations are 0 / 255);
* :meth:`Sample.load_ignore` -> ``(H, W)`` bool of pixels excluded from scoring, or ``None``
  when the dataset has no ignore region (only ReasonSeg has one);
* :meth:`Sample.load_pair` loads image and mask and checks that their sizes agree.

The ground truth comes either from a mask image (``mask_path``) or from an annotation that is
rasterised on demand (``source``, a :class:`MaskSource`: COCO polygons / RLE, ReasonSeg JSON
polygons). Sample ids are unique within a dataset and safe as file stems: evaluation writes
``<id>.png``. For folder datasets the id is the ground-truth file's stem.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Protocol

import numpy as np
from PIL import Image

from segr1.data.io import ImageReadError, read_image, read_mask

SampleTask = Literal["foreground", "referring", "reasoning"]
SAMPLE_TASKS: tuple[str, ...] = ("foreground", "referring", "reasoning")

_UNSAFE_ID = re.compile(r"[\x00-\x1f/\\]")


class MaskSource(Protocol):
    """A ground truth stored as an annotation, rasterised on demand."""

    def masks(self, height: int, width: int) -> tuple[np.ndarray, np.ndarray | None]:
        """``(target (H, W) bool, ignore (H, W) bool or None)`` at the image's size."""
        ...

    def key(self) -> str:
        """A short string that changes when the annotation changes (used in fingerprints)."""
        ...


@dataclass(frozen=True)
class Sample:
    """One image (+ query) and where its ground truth lives. Pixels load lazily."""

    id: str
    image_path: Path
    mask_path: Path | None = None
    query: str | None = None
    is_sentence: bool = False
    task: SampleTask = "foreground"
    dataset: str = ""
    source: MaskSource | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.id or self.id in (".", "..") or _UNSAFE_ID.search(self.id):
            raise ValueError(f"sample id {self.id!r} is not usable as a file stem")
        if self.task not in SAMPLE_TASKS:
            raise ValueError(f"unknown task {self.task!r}; choose one of {', '.join(SAMPLE_TASKS)}")

    @property
    def has_mask(self) -> bool:
        return self.mask_path is not None or self.source is not None

    def image_size(self) -> tuple[int, int]:
        """``(height, width)`` read from the image header (no pixel decoding)."""
        try:
            with Image.open(self.image_path) as im:
                w, h = im.size
        except FileNotFoundError:
            raise ImageReadError(f"{self.image_path}: file not found") from None
        except OSError as e:
            raise ImageReadError(f"{self.image_path}: not a readable image ({e})") from None
        return h, w

    def load_image(self) -> np.ndarray:
        """``(H, W, 3)`` uint8 RGB."""
        return read_image(self.image_path)

    def load_mask(self) -> np.ndarray:
        """``(H, W)`` uint8 ground-truth levels, 0..255 (foreground > 128)."""
        if self.mask_path is not None:
            return read_mask(self.mask_path)
        if self.source is not None:
            target, _ = self.source.masks(*self.image_size())
            return target.astype(np.uint8) * 255
        raise ValueError(f"sample {self.id!r} ({self.image_path}) has no ground truth")

    def load_ignore(self) -> np.ndarray | None:
        """``(H, W)`` bool of pixels excluded from intersection and union, or None."""
        if self.source is None:
            return None
        return self.source.masks(*self.image_size())[1]

    def load_pair(self) -> tuple[np.ndarray, np.ndarray]:
        """Image ``(H, W, 3)`` and mask ``(H, W)``; raises when their sizes differ."""
        image = self.load_image()
        mask = self.load_mask()
        if mask.shape != image.shape[:2]:
            where = self.mask_path or "its annotation"
            raise ValueError(
                f"sample {self.id!r}: mask {where} is {mask.shape[1]}x{mask.shape[0]} but image "
                f"{self.image_path} is {image.shape[1]}x{image.shape[0]} (width x height); "
                "fix or remove the pair"
            )
        return image, mask

    def fingerprint(self) -> str:
        """Changes when the sample's files (path, size, mtime) or annotation change."""
        parts = [self.id, self.query or "", str(self.is_sentence), self.task, self.dataset]
        for p in (self.image_path, self.mask_path):
            parts.append(_file_stamp(p) if p is not None else "-")
        parts.append(self.source.key() if self.source is not None else "-")
        return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:16]


def _file_stamp(path: Path) -> str:
    try:
        st = path.stat()
    except OSError:
        return f"{path}:missing"
    return f"{path.resolve()}:{st.st_size}:{st.st_mtime_ns}"


class Samples(list):
    """A list of :class:`Sample` that also names the files the reader found but left out
    (``dropped``: one line per file, with the reason), so nothing is dropped silently."""

    def __init__(self, items: Iterable[Sample] = (), dropped: Iterable[str] = ()) -> None:
        super().__init__(items)
        self.dropped = list(dropped)


def check_unique_ids(samples: Iterable[Sample], dataset: str = "") -> None:
    """Raise when two samples share an id (evaluation would overwrite one PNG with another)."""
    counts = Counter(s.id for s in samples)
    dups = sorted(k for k, c in counts.items() if c > 1)
    if dups:
        shown = ", ".join(dups[:10]) + (" ..." if len(dups) > 10 else "")
        raise ValueError(f"{dataset or 'dataset'}: {len(dups)} duplicate sample ids: {shown}")
