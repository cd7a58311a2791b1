"""A bounded LRU cache of image embeddings, keyed by image content.

In a GRPO step the G completions of one prompt share one image, and a second epoch shows the
same images again: :class:`EmbeddingCache` makes the image encoder run once per distinct image
(per epoch when the dataset does not fit in ``max_items``). Keys are :func:`image_key` content
hashes, so two different array objects with the same pixels hit the same entry.

Counters ``hits`` / ``misses`` / ``evictions`` say how well it works. A lock guards the table,
so one process with several threads may share a cache; the encoder itself runs outside the
lock (two threads missing the same image at once both compute it; the last one wins).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from segr1.segment.base import Embedding, image_key


@dataclass(frozen=True)
class CacheStats:
    """A snapshot of the cache counters."""

    hits: int
    misses: int
    evictions: int
    size: int
    max_items: int

    @property
    def hit_rate(self) -> float:
        total = self.hits + self.misses
        return self.hits / total if total else 0.0


class EmbeddingCache:
    """LRU of at most ``max_items`` embeddings (``max_items >= 1``)."""

    def __init__(self, max_items: int = 64) -> None:
        if max_items < 1:
            raise ValueError(
                f"EmbeddingCache(max_items={max_items}): needs at least 1 item; "
                "to run without a cache, do not attach one (cache_size=0 in build_segmenter)"
            )
        self.max_items = max_items
        self._items: OrderedDict[bytes, Embedding] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0
        self.evictions = 0

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, image: np.ndarray) -> bool:
        return image_key(image) in self._items

    def get(self, image: np.ndarray, compute: Callable[[np.ndarray], Embedding]) -> Embedding:
        """The cached embedding of ``image``, or ``compute(image)`` stored as most recent."""
        key = image_key(image)
        with self._lock:
            found = self._items.get(key)
            if found is not None:
                self._items.move_to_end(key)
                self.hits += 1
                return found
            self.misses += 1
        embedding = compute(image)
        self.put_key(key, embedding)
        return embedding

    def put_key(self, key: bytes, embedding: Embedding) -> None:
        """Store ``embedding`` under ``key`` as most recent, evicting the least recent."""
        with self._lock:
            self._items[key] = embedding
            self._items.move_to_end(key)
            while len(self._items) > self.max_items:
                self._items.popitem(last=False)
                self.evictions += 1

    def clear(self) -> None:
        """Drop every entry and reset the counters."""
        with self._lock:
            self._items.clear()
            self.hits = self.misses = self.evictions = 0

    def stats(self) -> CacheStats:
        with self._lock:
            return CacheStats(
                self.hits, self.misses, self.evictions, len(self._items), self.max_items
            )
