"""Build a frozen segmenter by name: the one place that maps a name to a backend.

* ``"grabcut"``: OpenCV GrabCut, no weights (the offline default);
* ``"sam2-random-tiny"``: a very small SAM2 with seeded random weights (tests, offline demo);
* ``"sam2.1-hiera-tiny-random"``: the real SAM2.1 hiera-tiny architecture with seeded random
  weights (benchmarks: real cost, meaningless masks);
* ``"sam2-official-random-tiny"``: the same architecture on the official ``sam2`` package
  (:class:`Sam2OfficialSegmenter`), seeded random weights (tests, benchmarks);
* ``"sam3-random-tiny"``: a very small SAM 3 tracker with seeded random weights (tests);
* a path ending in ``.pt``: an official SAM2 checkpoint (``sam2.1_hiera_large.pt``) on the
  official package, its config inferred from the released file name;
* anything else: a transformers checkpoint, by hub id or local directory, whose config decides
  the backend: ``model_type`` ``sam3*`` (``facebook/sam3``) -> :class:`Sam3Segmenter` (the
  tracker: point / box prompts), otherwise :class:`Sam2Segmenter`
  (``facebook/sam2.1-hiera-large``).

Every segmenter gets an :class:`EmbeddingCache` holding at most ``cache_bytes`` (0: none; default
1 GiB), its tensors stored as ``cache_dtype`` (None: as computed; ``"bfloat16"`` halves them).
"""

from __future__ import annotations

from segr1.segment.base import Segmenter
from segr1.segment.cache import DEFAULT_MAX_BYTES, EmbeddingCache
from segr1.segment.grabcut import GrabCutSegmenter
from segr1.segment.sam2 import Sam2Segmenter, hiera_tiny_config, tiny_sam2_config
from segr1.segment.sam2_official import TINY_CONFIG, Sam2OfficialSegmenter
from segr1.segment.sam3 import Sam3Segmenter, tiny_sam3_config

NAMES: tuple[str, ...] = (
    "grabcut",
    "sam2-random-tiny",
    "sam2.1-hiera-tiny-random",
    "sam2-official-random-tiny",
    "sam3-random-tiny",
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
    backend: type[Sam2Segmenter] = Sam2Segmenter
    if name == "sam2-random-tiny":
        config = tiny_sam2_config()
    elif name == "sam2.1-hiera-tiny-random":
        config = hiera_tiny_config()
    elif name == "sam3-random-tiny":
        config, backend = tiny_sam3_config(), Sam3Segmenter
    else:
        backend = Sam3Segmenter if is_sam3_checkpoint(name) else Sam2Segmenter
        return backend.from_pretrained(name, device=device, dtype=dtype, bgr=bgr, cache=cache)
    return backend.from_config(
        config, seed=RANDOM_SEED, device=device, dtype=dtype, bgr=bgr, cache=cache
    )


def is_sam3_checkpoint(name: str) -> bool:
    """Whether the transformers checkpoint ``name`` (hub id or directory) is a SAM 3 one, by the
    ``model_type`` of its config; an unreadable config says no (the SAM2 loader then names the
    problem)."""
    from transformers import PretrainedConfig

    try:
        config, _ = PretrainedConfig.get_config_dict(name)
    except (OSError, ValueError):
        return False
    return str(config.get("model_type", "")).startswith("sam3")
