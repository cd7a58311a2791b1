"""A bounded LRU cache of image embeddings, keyed by image content, bounded in BYTES.

In a GRPO step the G completions of one prompt share one image, and a second epoch shows the
same images again: :class:`EmbeddingCache` makes the image encoder run once per distinct image
(per epoch when the dataset does not fit in ``max_bytes``). Keys are :func:`image_key` content
hashes, so two different array objects with the same pixels hit the same entry.

* Bound: the bytes the stored embeddings hold (every torch tensor and numpy array inside
  :attr:`Embedding.data`; other Python objects count 0), ``max_bytes``; optionally also
  ``max_items``. The least recently used entries go first; an embedding larger than
  ``max_bytes`` on its own is returned but not stored. One SAM2 1024 px embedding is three
  float32 feature maps (32 x 256 x 256, 64 x 128 x 128, 256 x 64 x 64): 16.8 MB, 8.4 MB in
  bfloat16; the default 1 GiB holds 63 (float32) or 127 (bfloat16) of them.
* ``store_dtype="bfloat16"`` (or ``"float16"``) stores floating tensors in that dtype and hands
  them back in their original dtype. The decoder then sees a rounded embedding on a hit AND on
  the miss that stored it (the miss returns the rounded copy too), so a mask never depends on
  whether its image was cached.
* :meth:`EmbeddingCache.get_many` looks several images up at once and computes all misses in
  ONE call of the batched encoder (:meth:`segr1.segment.base.Segmenter.embed_batch`).
* Counters ``hits`` / ``misses`` / ``evictions`` and the bytes held are in :meth:`stats`
  (a :class:`CacheStats`, whose ``str`` is one log line); the training reward logs them.

A lock guards the table, so one process with several threads may share a cache; the encoder
itself runs outside the lock (two threads missing the same image at once both compute it).
"""

from __future__ import annotations

import dataclasses
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from segr1.segment.base import Embedding, image_key

DEFAULT_MAX_BYTES = 1 << 30  # 1 GiB
STORE_DTYPES = ("bfloat16", "float16")


@dataclass(frozen=True)
class CacheStats:
    """A snapshot of the cache counters and its size in entries and bytes."""

    hits: int
    misses: int
    evictions: int
    size: int
    bytes: int
    max_bytes: int
    max_items: int | None = None
    store_dtype: str | None = None

    @property
    def hit_rate(self) -> float:
        total = self.hits + self.misses
        return self.hits / total if total else 0.0

    def __str__(self) -> str:
        stored = f" as {self.store_dtype}" if self.store_dtype else ""
        return (
            f"embedding cache: {self.hits} hits, {self.misses} misses ({self.hit_rate:.0%} hit), "
            f"{self.size} entries, {self.bytes / 1e6:.1f} MB of {self.max_bytes / 1e6:.1f} MB"
            f"{stored}, {self.evictions} evictions"
        )


def nbytes(data: Any) -> int:
    """Bytes held by the tensors and arrays in ``data`` (tuples, lists, dicts, dataclasses)."""
    if isinstance(data, np.ndarray):
        return int(data.nbytes)
    if hasattr(data, "element_size") and hasattr(data, "nelement"):  # a torch tensor
        return int(data.element_size() * data.nelement())
    if isinstance(data, tuple | list):
        return sum(nbytes(x) for x in data)
    if isinstance(data, dict):
        return sum(nbytes(x) for x in data.values())
    if dataclasses.is_dataclass(data) and not isinstance(data, type):
        return sum(nbytes(getattr(data, f.name)) for f in dataclasses.fields(data))
    return 0


def cast_floats(data: Any, dtype: Any) -> Any:
    """``data`` with every floating torch tensor cast to ``dtype`` (a torch dtype); containers
    rebuilt, everything else shared. ``dtype=None`` returns ``data`` unchanged."""
    if dtype is None:
        return data
    if hasattr(data, "is_floating_point") and hasattr(data, "to"):
        return data.to(dtype) if data.is_floating_point() else data
    if isinstance(data, tuple | list):
        return type(data)(cast_floats(x, dtype) for x in data)
    if isinstance(data, dict):
        return {k: cast_floats(v, dtype) for k, v in data.items()}
    return data


def float_dtype(data: Any) -> Any:
    """The dtype of the first floating torch tensor in ``data`` (None when there is none)."""
    if hasattr(data, "is_floating_point"):
        return data.dtype if data.is_floating_point() else None
    if isinstance(data, tuple | list | dict):
        for x in data.values() if isinstance(data, dict) else data:
            found = float_dtype(x)
            if found is not None:
                return found
    return None


@dataclass(frozen=True)
class _Entry:
    embedding: Embedding  # as stored (store_dtype applied)
    nbytes: int
    dtype: Any  # the floating dtype to hand back (None: as stored)


class EmbeddingCache:
    """LRU of embeddings holding at most ``max_bytes`` (and ``max_items``, when given)."""

    def __init__(
        self,
        *,
        max_bytes: int = DEFAULT_MAX_BYTES,
        max_items: int | None = None,
        store_dtype: str | None = None,
    ) -> None:
        if max_bytes < 1 or (max_items is not None and max_items < 1):
            raise ValueError(
                f"EmbeddingCache(max_bytes={max_bytes}, max_items={max_items}): needs room for "
                "at least 1 byte and 1 item; to run without a cache, do not attach one "
                "(cache_bytes=0 in build_segmenter)"
            )
        if store_dtype is not None and store_dtype not in STORE_DTYPES:
            raise ValueError(f"store_dtype={store_dtype!r}; choose None or one of {STORE_DTYPES}")
        self.max_bytes = max_bytes
        self.max_items = max_items
        self.store_dtype = store_dtype
        self._items: OrderedDict[bytes, _Entry] = OrderedDict()
        self._lock = threading.Lock()
        self.bytes = 0
        self.hits = 0
        self.misses = 0
        self.evictions = 0

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, image: np.ndarray) -> bool:
        return image_key(image) in self._items

    def get(self, image: np.ndarray, compute: Callable[[np.ndarray], Embedding]) -> Embedding:
        """The cached embedding of ``image``, or ``compute(image)`` stored as most recent."""
        return self.get_many([image], lambda images: [compute(im) for im in images])[0]

    def get_many(
        self,
        images: Sequence[np.ndarray],
        compute_many: Callable[[list[np.ndarray]], list[Embedding]],
    ) -> list[Embedding]:
        """One embedding per image: hits from the cache, and every distinct missing image
        computed by ONE ``compute_many`` call (a repeat of an image within the call is a hit)."""
        keys = [image_key(im) for im in images]
        found: dict[bytes, Embedding] = {}
        missing: dict[bytes, int] = {}  # key -> index of its first image
        with self._lock:
            for i, key in enumerate(keys):
                entry = self._items.get(key)
                if entry is not None:
                    self._items.move_to_end(key)
                    found[key] = self._restore(entry)
                    self.hits += 1
                elif key in missing:
                    self.hits += 1
                else:
                    missing[key] = i
                    self.misses += 1
        if missing:
            computed = compute_many([images[i] for i in missing.values()])
            for key, embedding in zip(missing, computed, strict=True):
                found[key] = self._restore(self.put_key(key, embedding))
        return [found[key] for key in keys]

    def _restore(self, entry: _Entry) -> Embedding:
        if entry.dtype is None:
            return entry.embedding
        return dataclasses.replace(
            entry.embedding, data=cast_floats(entry.embedding.data, entry.dtype)
        )

    def _entry(self, embedding: Embedding) -> _Entry:
        if self.store_dtype is None:
            return _Entry(embedding, nbytes(embedding.data), None)
        import torch

        original = float_dtype(embedding.data)
        stored = cast_floats(embedding.data, getattr(torch, self.store_dtype))
        back = (
            original
            if original is not None and original != getattr(torch, self.store_dtype)
            else None
        )
        return _Entry(dataclasses.replace(embedding, data=stored), nbytes(stored), back)

    def put_key(self, key: bytes, embedding: Embedding) -> _Entry:
        """Store ``embedding`` under ``key`` as most recent, evicting the least recent until the
        bounds hold. Returns the stored entry (not stored when it alone exceeds ``max_bytes``)."""
        entry = self._entry(embedding)
        if entry.nbytes > self.max_bytes:
            return entry
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self.bytes -= old.nbytes
            self._items[key] = entry
            self.bytes += entry.nbytes
            while self.bytes > self.max_bytes or (
                self.max_items is not None and len(self._items) > self.max_items
            ):
                _, dropped = self._items.popitem(last=False)
                self.bytes -= dropped.nbytes
                self.evictions += 1
        return entry

    def clear(self) -> None:
        """Drop every entry and reset the counters."""
        with self._lock:
            self._items.clear()
            self.bytes = self.hits = self.misses = self.evictions = 0

    def stats(self) -> CacheStats:
        with self._lock:
            return CacheStats(
                self.hits,
                self.misses,
                self.evictions,
                len(self._items),
                self.bytes,
                self.max_bytes,
                self.max_items,
                self.store_dtype,
            )
