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
    cache, embed = EmbeddingCache(max_items=4), Counter()
    a = cache.get(image(1), embed)
    b = cache.get(image(1).copy(), embed)  # another array object, same pixels
    assert a is b and embed.n == 1
    cache.get(image(2), embed)
    stats = cache.stats()
    assert (stats.hits, stats.misses, stats.size) == (1, 2, 2)
    assert stats.hit_rate == pytest.approx(1 / 3)


def test_same_pixels_different_shape_is_a_different_key():
    cache, embed = EmbeddingCache(max_items=4), Counter()
    flat = np.zeros((4, 6, 3), np.uint8)
    cache.get(flat, embed)
    cache.get(flat.reshape(6, 4, 3), embed)
    assert embed.n == 2


def test_bounded_size_evicts_least_recently_used():
    cache, embed = EmbeddingCache(max_items=2), Counter()
    cache.get(image(1), embed)
    cache.get(image(2), embed)
    cache.get(image(1), embed)  # 1 is now the most recent
    cache.get(image(3), embed)  # evicts 2
    assert len(cache) == 2 and cache.evictions == 1
    assert image(1) in cache and image(3) in cache and image(2) not in cache
    cache.get(image(2), embed)
    assert embed.n == 4


def test_clear_and_bad_size():
    cache = EmbeddingCache(max_items=1)
    cache.get(image(1), Counter())
    cache.clear()
    assert len(cache) == 0 and cache.stats().misses == 0
    with pytest.raises(ValueError, match="cache_bytes=0"):
        EmbeddingCache(max_items=0)
    with pytest.raises(ValueError, match="cache_bytes=0"):
        EmbeddingCache(max_bytes=0)
    with pytest.raises(TypeError):
        EmbeddingCache(4)  # bounds are named: bytes or items


def test_threads_share_one_cache():
    cache, embed = EmbeddingCache(max_items=8), Counter()
    images = [image(i % 4) for i in range(64)]
    threads = [threading.Thread(target=lambda im=im: cache.get(im, embed)) for im in images]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stats = cache.stats()
    assert stats.hits + stats.misses == 64 and stats.size == 4


def test_second_epoch_runs_no_encoder():
    seg = GrabCutSegmenter(cache=EmbeddingCache(max_items=8))
    images = [
        np.random.default_rng(i).integers(0, 256, (16, 16, 3), dtype=np.uint8) for i in range(3)
    ]
    for _ in range(2):  # two epochs, four completions per image
        for im in images:
            for _ in range(4):
                seg.embed_cached(im)
    assert (seg.cache.misses, seg.cache.hits) == (3, 21)


def test_factory_names_and_cache_bounds():
    assert build_segmenter("grabcut", cache_bytes=0).cache is None
    seg = build_segmenter("grabcut", cache_bytes=3000, cache_dtype="bfloat16", bgr=True)
    assert isinstance(seg, GrabCutSegmenter) and seg.bgr
    assert (seg.cache.max_bytes, seg.cache.max_items, seg.cache.store_dtype) == (
        3000,
        None,
        "bfloat16",
    )
    assert build_segmenter("grabcut").cache.max_bytes == 1 << 30


def array_embed(nbytes: int):
    """An embed function whose embeddings hold ``nbytes`` bytes of numpy data."""

    def embed(img):
        return Embedding((img.shape[1], img.shape[0]), (np.zeros(nbytes, np.uint8), "label"))

    return embed


def test_bounded_in_bytes_evicts_least_recent_and_skips_what_never_fits():
    cache = EmbeddingCache(max_bytes=250)
    for v in (1, 2):
        cache.get(image(v), array_embed(100))
    assert (len(cache), cache.bytes) == (2, 200)
    cache.get(image(1), array_embed(100))  # 1 becomes the most recent
    cache.get(image(3), array_embed(100))  # 300 > 250: the least recent (2) goes
    assert image(2) not in cache and image(1) in cache and image(3) in cache
    assert (cache.bytes, cache.evictions) == (200, 1)
    big = cache.get(image(4), array_embed(400))  # larger than the whole cache
    assert big.data[0].nbytes == 400 and image(4) not in cache and cache.bytes == 200
    stats = cache.stats()
    assert (stats.bytes, stats.max_bytes, stats.size) == (200, 250, 2)
    assert "2 entries" in str(stats) and "1 hits" in str(stats)


def test_get_many_computes_every_distinct_miss_in_one_call():
    cache, calls = EmbeddingCache(max_items=8), []

    def many(images):
        calls.append(len(images))
        return [Embedding((5, 4), int(im[0, 0, 0])) for im in images]

    cache.get(image(1), lambda im: many([im])[0])
    out = cache.get_many([image(1), image(2), image(3), image(2).copy()], many)
    assert [e.data for e in out] == [1, 2, 3, 2] and calls == [1, 2]
    assert (cache.hits, cache.misses) == (2, 3)  # image 1 cached, the 2nd image 2 repeats


def test_store_dtype_halves_the_bytes_and_hands_back_the_original_dtype():
    import torch

    levels = (torch.randn(1, 4, 8, 8), torch.randn(1, 2, 4, 4), torch.arange(3))
    half = EmbeddingCache(store_dtype="bfloat16")
    full = EmbeddingCache()

    def embed(img):
        return Embedding((5, 4), levels)

    miss = half.get(image(1), embed)
    hit = half.get(image(1), embed)
    full.get(image(1), embed)
    assert half.bytes == (256 + 32) * 2 + 3 * 8 and full.bytes == (256 + 32) * 4 + 3 * 8
    for a, b, original in zip(miss.data, hit.data, levels, strict=True):
        assert a.dtype == original.dtype and torch.equal(a, b)  # a miss returns what a hit will
    assert torch.equal(miss.data[0], levels[0].bfloat16().float())
    assert not torch.equal(miss.data[0], levels[0])  # rounded (random floats are not bf16)
    assert "as bfloat16" in str(half.stats())
    with pytest.raises(ValueError, match="store_dtype"):
        EmbeddingCache(store_dtype="int8")
