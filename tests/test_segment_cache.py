"""EmbeddingCache: counters, LRU eviction, content keys; the factory wiring it in."""

import threading

import numpy as np
import pytest

from segr1.segment import EmbeddingCache, GrabCutSegmenter, build_segmenter
from segr1.segment.base import Embedding


def image(value: int) -> np.ndarray:
    return np.full((4, 5, 3), value, np.uint8)


class Counter:
    """An embed function that counts its calls."""

    def __init__(self):
        self.n = 0

    def __call__(self, img):
        self.n += 1
        return Embedding(size=(img.shape[1], img.shape[0]), data=int(img[0, 0, 0]))


def test_hits_and_misses_are_counted_and_content_keys_match_copies():
    cache, embed = EmbeddingCache(4), Counter()
    a = cache.get(image(1), embed)
    b = cache.get(image(1).copy(), embed)  # another array object, same pixels
    assert a is b and embed.n == 1
    cache.get(image(2), embed)
    stats = cache.stats()
    assert (stats.hits, stats.misses, stats.size) == (1, 2, 2)
    assert stats.hit_rate == pytest.approx(1 / 3)


def test_same_pixels_different_shape_is_a_different_key():
    cache, embed = EmbeddingCache(4), Counter()
    flat = np.zeros((4, 6, 3), np.uint8)
    cache.get(flat, embed)
    cache.get(flat.reshape(6, 4, 3), embed)
    assert embed.n == 2


def test_bounded_size_evicts_least_recently_used():
    cache, embed = EmbeddingCache(2), Counter()
    cache.get(image(1), embed)
    cache.get(image(2), embed)
    cache.get(image(1), embed)  # 1 is now the most recent
    cache.get(image(3), embed)  # evicts 2
    assert len(cache) == 2 and cache.evictions == 1
    assert image(1) in cache and image(3) in cache and image(2) not in cache
    cache.get(image(2), embed)
    assert embed.n == 4


def test_clear_and_bad_size():
    cache = EmbeddingCache(1)
    cache.get(image(1), Counter())
    cache.clear()
    assert len(cache) == 0 and cache.stats().misses == 0
    with pytest.raises(ValueError, match="cache_size=0"):
        EmbeddingCache(0)


def test_threads_share_one_cache():
    cache, embed = EmbeddingCache(8), Counter()
    images = [image(i % 4) for i in range(64)]
    threads = [threading.Thread(target=lambda im=im: cache.get(im, embed)) for im in images]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stats = cache.stats()
    assert stats.hits + stats.misses == 64 and stats.size == 4


def test_second_epoch_runs_no_encoder():
    seg = GrabCutSegmenter(cache=EmbeddingCache(8))
    images = [
        np.random.default_rng(i).integers(0, 256, (16, 16, 3), dtype=np.uint8) for i in range(3)
    ]
    for _ in range(2):  # two epochs, four completions per image
        for im in images:
            for _ in range(4):
                seg.embed_cached(im)
    assert (seg.cache.misses, seg.cache.hits) == (3, 21)


def test_factory_names_and_cache_size():
    assert build_segmenter("grabcut", cache_size=0).cache is None
    seg = build_segmenter("grabcut", cache_size=3, bgr=True)
    assert isinstance(seg, GrabCutSegmenter) and seg.cache.max_items == 3 and seg.bgr
