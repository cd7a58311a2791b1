"""Samples -> a Hugging Face ``datasets.Dataset`` for training (TRL reads its columns by name).

Columns: ``image`` (PIL RGB), ``mask`` (PIL "L", same size as the image), ``id``, ``query``
(``""`` when the task has none), ``is_sentence``, ``task``. With ``side`` the image is stretched
to ``side x side`` with :func:`segr1.imaging.stretch` (the one stretch inference uses) and the
mask's levels with :func:`segr1.imaging.resize_levels` (not thresholded: the reward binarises
with :func:`segr1.imaging.binarize`, as evaluation does). The mask column holds the levels of
:meth:`Sample.load_mask` (a 0/1 mask file is 0/255). ReasonSeg ignore regions are not carried
(training uses foreground data).

Rows are written by ``Dataset.from_generator`` in batches to an Arrow cache on disk, so memory
stays bounded. The cache fingerprint is built from each sample's files (path, size, mtime) and
annotation, so regenerated data is never served from a stale cache.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PIL import Image

from segr1.data.sample import Sample

if TYPE_CHECKING:
    import datasets

COLUMNS = ("image", "mask", "id", "query", "is_sentence", "task")


def features() -> datasets.Features:
    """The column types of :func:`to_hf_dataset`."""
    import datasets

    return datasets.Features(
        {
            "image": datasets.Image(),
            "mask": datasets.Image(),
            "id": datasets.Value("string"),
            "query": datasets.Value("string"),
            "is_sentence": datasets.Value("bool"),
            "task": datasets.Value("string"),
        }
    )


def sample_row(sample: Sample, side: int | None = None) -> dict[str, Any]:
    """One dataset row (PIL images) for ``sample``; sizes checked."""
    from segr1.imaging import resize_levels, stretch

    image_arr, mask_arr = sample.load_pair()  # (H, W, 3), (H, W)
    if side is not None:
        image_arr, mask_arr = stretch(image_arr, side), resize_levels(mask_arr, (side, side))
    return {
        "image": Image.fromarray(image_arr),
        "mask": Image.fromarray(mask_arr),
        "id": sample.id,
        "query": sample.query or "",
        "is_sentence": bool(sample.is_sentence),
        "task": sample.task,
    }


def _rows(samples: tuple[Sample, ...], side: int | None) -> Iterator[dict[str, Any]]:
    for sample in samples:  # datasets shows its own "Generating" progress bar
        yield sample_row(sample, side)


def fingerprint(samples: Sequence[Sample], side: int | None) -> str:
    h = hashlib.sha256(f"segr1-hf-v2:{side}".encode())
    for s in samples:
        h.update(s.fingerprint().encode())
    return h.hexdigest()[:32]


def to_hf_dataset(
    samples: Sequence[Sample],
    side: int | None = None,
    *,
    cache_dir: str | Path | None = None,
    keep_in_memory: bool = False,
) -> datasets.Dataset:
    """A ``datasets.Dataset`` with the columns :data:`COLUMNS`, one row per sample, in order."""
    import datasets

    if not samples:
        raise ValueError("to_hf_dataset: no samples")
    if side is not None and side <= 0:
        raise ValueError(f"side must be positive, got {side}")
    return datasets.Dataset.from_generator(
        _rows,
        features=features(),
        gen_kwargs={"samples": tuple(samples), "side": side},
        cache_dir=str(cache_dir) if cache_dir is not None else None,
        keep_in_memory=keep_in_memory,
        fingerprint=fingerprint(samples, side),
    )
