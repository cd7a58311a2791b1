"""Build a frozen segmenter by name: the one place that maps a name to a backend.

* ``"grabcut"``: OpenCV GrabCut, no weights (the offline default);
* ``"sam2-random-tiny"``: a very small SAM2 with seeded random weights (tests, offline demo);
* ``"sam2.1-hiera-tiny-random"``: the real SAM2.1 hiera-tiny architecture with seeded random
  weights (benchmarks: real cost, meaningless masks);
* ``"sam2-official-random-tiny"``: the same architecture on the official ``sam2`` package
  (:class:`Sam2OfficialSegmenter`), seeded random weights (tests, benchmarks);
* a path ending in ``.pt``: an official SAM2 checkpoint (``sam2.1_hiera_large.pt``) on the
  official package, its config inferred from the released file name;
* anything else: a transformers SAM2 checkpoint, by hub id (``facebook/sam2.1-hiera-large``)
  or local directory.

Every segmenter gets an :class:`EmbeddingCache` holding at most ``cache_bytes`` (0: none; default
1 GiB), its tensors stored as ``cache_dtype`` (None: as computed; ``"bfloat16"`` halves them).
"""

from __future__ import annotations

from segr1.segment.base import Segmenter
from segr1.segment.cache import DEFAULT_MAX_BYTES, EmbeddingCache
from segr1.segment.grabcut import GrabCutSegmenter
from segr1.segment.sam2 import Sam2Segmenter, hiera_tiny_config, tiny_sam2_config
from segr1.segment.sam2_official import TINY_CONFIG, Sam2OfficialSegmenter

NAMES: tuple[str, ...] = (
    "grabcut",
    "sam2-random-tiny",
    "sam2.1-hiera-tiny-random",
    "sam2-official-random-tiny",
)
RANDOM_SEED = 0


def build_segmenter(
    name: str = "grabcut",
    device: str = "cpu",
    dtype: str = "float32",
    bgr: bool = False,
    cache_bytes: int = DEFAULT_MAX_BYTES,
    cache_dtype: str | None = None,
) -> Segmenter:
    """A frozen segmenter for ``name`` (see the module docstring) with its embedding cache."""
    cache = None
    if cache_bytes > 0:
        cache = EmbeddingCache(max_bytes=cache_bytes, store_dtype=cache_dtype)
    if name == "grabcut":
        return GrabCutSegmenter(bgr=bgr, cache=cache)
    official = {"device": device, "dtype": dtype, "bgr": bgr, "cache": cache}
    if name == "sam2-official-random-tiny":
        return Sam2OfficialSegmenter.from_config(TINY_CONFIG, seed=RANDOM_SEED, **official)
    if name.endswith(".pt"):
        return Sam2OfficialSegmenter.from_checkpoint(name, **official)
    if name == "sam2-random-tiny":
        config = tiny_sam2_config()
    elif name == "sam2.1-hiera-tiny-random":
        config = hiera_tiny_config()
    else:
        return Sam2Segmenter.from_pretrained(name, device=device, dtype=dtype, bgr=bgr, cache=cache)
    return Sam2Segmenter.from_config(
        config, seed=RANDOM_SEED, device=device, dtype=dtype, bgr=bgr, cache=cache
    )
