"""SAM2 backend on the tiny random config: shapes, cache, batching, bgr, local loading."""

import numpy as np
import pytest
import torch

from segr1.protocol.geometry import Prompts
from segr1.segment import EmbeddingCache, Sam2Segmenter, build_segmenter, tiny_sam2_config
from segr1.segment.base import Call
from segr1.segment.sam2 import hiera_tiny_config, layout_groups

H, W = 96, 128
IMAGE = np.random.default_rng(0).integers(0, 256, (H, W, 3), dtype=np.uint8)


def give_attention_biases(seg: Sam2Segmenter, seed: int = 2, scale: float = 0.02) -> Sam2Segmenter:
    """Fresh init zeroes every bias, which makes a padded (zero) point token inert and would
    hide a batching bug; trained checkpoints have biases, so the decoder's attention gets some."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in seg.model.mask_decoder.transformer.named_parameters():
            if name.endswith("bias") and "_proj" in name:
                p.copy_(torch.randn(p.shape, generator=gen) * scale)
    return seg


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Tiny models on a shared CPU: one intra-op thread is 10x faster than two under load."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def seg():
    return give_attention_biases(Sam2Segmenter.from_config(tiny_sam2_config(), seed=0))


def call(box=None, points=(), labels=()):
    return Call(
        None if box is None else np.asarray(box, np.float32),
        np.asarray(points, np.float32).reshape(-1, 2),
        np.asarray(labels, np.int64).reshape(-1),
    )


CALLS = [
    call([10, 10, 60, 50], [[20, 20], [30, 30]], [1, 0]),
    call(None, [[50, 40]], [1]),
    call([0, 0, 100, 90]),
    call([40, 30, 120, 90], [[60, 40], [70, 50], [100, 80]], [1, 1, 0]),
    call(None, [[10, 80], [90, 20], [64, 48]], [1, 0, 1]),
    call([5, 5, 50, 70], [[6, 6]], [1]),
]


def test_masks_shape_dtype_and_nonempty(seg):
    masks = seg.decode(seg.embed(IMAGE), CALLS)
    assert masks.shape == (len(CALLS), H, W) and masks.dtype == bool
    assert 0 < masks.mean() < 1  # random weights, but not a constant image


def test_cached_and_uncached_embeddings_give_identical_masks(seg):
    cached = Sam2Segmenter(seg.model, seg.processor, cache=EmbeddingCache(max_items=4))
    first = cached.decode(cached.embed_cached(IMAGE), CALLS)
    again = cached.decode(cached.embed_cached(IMAGE.copy()), CALLS)
    plain = seg.decode(seg.embed(IMAGE), CALLS)
    np.testing.assert_array_equal(first, plain)
    np.testing.assert_array_equal(again, plain)
    assert (cached.cache.hits, cached.cache.misses) == (1, 1)


def test_batched_decode_equals_each_call_alone(seg):
    emb = seg.embed(IMAGE)
    together = seg.decode(emb, CALLS)
    for k, c in enumerate(CALLS):
        np.testing.assert_array_equal(together[k], seg.decode(emb, [c])[0])


def test_segment_many_prompt_sets_equals_alone(seg):
    sets = [
        Prompts(
            np.array([[10, 10, 60, 50], [70, 20, 120, 80]], np.float32),
            np.array([[20, 20], [80, 30], [5, 90]], np.float32),
            np.array([1, 0, 1]),
        ),
        Prompts.empty(),
        Prompts(
            np.zeros((0, 4), np.float32),
            np.array([[50, 40], [10, 10]], np.float32),
            np.array([1, 0]),
        ),
    ]
    emb = seg.embed(IMAGE)
    together = seg.segment(emb, sets)
    assert together.shape == (3, H, W) and not together[1].any()
    for i, p in enumerate(sets):
        np.testing.assert_array_equal(together[i], seg.segment(emb, [p])[0])


def test_layout_groups_exact_and_padded():
    assert layout_groups(CALLS, "exact") == [[0], [1], [2], [3], [4], [5]]
    assert layout_groups(CALLS, "padded") == [[0, 2, 3, 5], [1, 4]]
    assert layout_groups([call(None)], "exact") == []  # nothing to prompt with: no forward


def test_padded_batching_is_close_to_exact_but_not_equal(seg):
    padded = Sam2Segmenter(seg.model, seg.processor, batching="padded")
    emb = seg.embed(IMAGE)
    differ = (padded.decode(emb, CALLS) != seg.decode(emb, CALLS)).mean()
    assert 0 < differ < 0.01  # padded points are not inert, but nearly so


def test_bgr_switch_swaps_channels_before_the_encoder(seg):
    bgr = Sam2Segmenter(seg.model, seg.processor, bgr=True)
    rgb_px, bgr_px = seg.pixel_values(IMAGE), bgr.pixel_values(IMAGE)
    assert not torch.equal(rgb_px, bgr_px)
    torch.testing.assert_close(bgr_px, seg.pixel_values(IMAGE[..., ::-1].copy()))
    emb_rgb, emb_bgr = seg.embed(IMAGE), bgr.embed(IMAGE)
    assert not torch.equal(emb_rgb.data[-1], emb_bgr.data[-1])


def test_bad_labels_and_images_are_refused(seg):
    emb = seg.embed(IMAGE)
    with pytest.raises(ValueError, match="labels must be 0 or 1"):
        seg.decode(emb, [call([0, 0, 10, 10], [[5, 5]], [2])])
    with pytest.raises(ValueError, match="uint8 RGB"):
        seg.embed(IMAGE[..., 0])


def test_save_and_load_local_directory_round_trip(seg, tmp_path):
    seg.save_pretrained(tmp_path)
    loaded = Sam2Segmenter.from_pretrained(tmp_path)
    assert not loaded.model.training
    assert not any(p.requires_grad for p in loaded.model.parameters())
    np.testing.assert_array_equal(
        loaded.decode(loaded.embed(IMAGE), CALLS), seg.decode(seg.embed(IMAGE), CALLS)
    )


def test_missing_checkpoint_error_names_the_fix(tmp_path):
    with pytest.raises(OSError, match="grabcut"):
        Sam2Segmenter.from_pretrained(tmp_path / "nowhere")


def test_factory_random_tiny_is_deterministic_and_bfloat16_runs():
    a = build_segmenter("sam2-random-tiny", cache_bytes=0)
    b = build_segmenter("sam2-random-tiny", dtype="bfloat16", cache_bytes=2_000_000)
    assert a.cache is None and b.cache.max_bytes == 2_000_000
    assert next(b.model.parameters()).dtype == torch.bfloat16
    masks = b.decode(b.embed_cached(IMAGE), CALLS[:2])
    assert masks.shape == (2, H, W) and masks.dtype == bool
    c = build_segmenter("sam2-random-tiny")
    for p, q in zip(a.model.parameters(), c.model.parameters(), strict=True):
        assert torch.equal(p, q)


def test_hiera_tiny_architecture():
    from transformers import Sam2Model

    with torch.device("meta"):
        model = Sam2Model(hiera_tiny_config())
    n = sum(p.numel() for p in model.parameters())
    assert 30e6 < n < 33e6  # SAM2.1 hiera-tiny without its video memory modules
    assert model.config.vision_config.backbone_feature_sizes == [[256, 256], [128, 128], [64, 64]]
