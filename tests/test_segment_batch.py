"""Several images through the encoder at once: ``embed_batch`` equals one-by-one ``embed``, the
cache sends only its misses to ONE batched call, and the one answers -> masks path
(``segment_answers_many``) batches the images of a reward call and of a pipeline batch."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from painter import Painter
from segr1.protocol import Answer, format_answer, parse_answer
from segr1.rewards import SegmentationReward
from segr1.segment import EmbeddingCache, Sam2Segmenter, tiny_sam2_config
from segr1.segment.answers import segment_answers, segment_answers_many

RNG = np.random.default_rng(0)
IMAGES = [
    RNG.integers(0, 256, (96, 128, 3), dtype=np.uint8),
    RNG.integers(0, 256, (50, 70, 3), dtype=np.uint8),
    RNG.integers(0, 256, (64, 64, 3), dtype=np.uint8),
]


def answer(box, point) -> Answer:
    return parse_answer(format_answer(Answer([box], [point], [1], think="", points_parsed=True)))


ANSWERS = [
    [
        answer([4, 4, 40, 30], [10, 10]),
        parse_answer("no answer"),
        answer([20, 8, 60, 60], [30, 30]),
    ],
    [answer([0, 0, 63, 63], [32, 32])],
    [parse_answer("nothing usable")],
]


class Batches(Painter):
    """A Painter that records the size of every ``embed_batch`` call."""

    def __init__(self) -> None:
        super().__init__()
        self.batches: list[int] = []

    def embed_batch(self, images):
        self.batches.append(len(images))
        return super().embed_batch(images)


@pytest.fixture(scope="module")
def sam():
    return Sam2Segmenter.from_config(tiny_sam2_config(), seed=0, max_embed_batch=2)


def test_embed_batch_equals_one_by_one_and_runs_one_forward_per_chunk(sam, monkeypatch):
    one = [sam.embed(im) for im in IMAGES]
    forwards = []
    encoder = sam.model.get_image_embeddings
    monkeypatch.setattr(
        sam.model, "get_image_embeddings", lambda px: forwards.append(len(px)) or encoder(px)
    )
    many = sam.embed_batch(IMAGES)
    assert forwards == [2, 1]  # max_embed_batch = 2
    for a, b, im in zip(one, many, IMAGES, strict=True):
        assert a.size == b.size == (im.shape[1], im.shape[0])
        for x, y in zip(a.data, b.data, strict=True):
            assert x.shape == y.shape and x.shape[0] == 1
            torch.testing.assert_close(x, y, rtol=0, atol=1e-5)
    # each image's rows are its own memory, not a view of the whole batch
    assert many[0].data[0].untyped_storage().nbytes() == many[0].data[0].nbytes


def test_segment_answers_many_equals_segment_answers_per_image(sam):
    together = segment_answers_many(sam, IMAGES, ANSWERS, side=64)
    for im, group, masks in zip(IMAGES, ANSWERS, together, strict=True):
        alone = segment_answers(sam, im, group, side=64)
        assert masks.shape == (len(group), *im.shape[:2]) and masks.dtype == bool
        np.testing.assert_array_equal(masks, alone)
    assert together[0][0].any() and not together[0][1].any()  # a real mask, an unusable answer
    assert not together[2].any()


def test_only_images_with_a_usable_answer_are_embedded_in_one_call():
    seg = Batches()
    segment_answers_many(seg, IMAGES, ANSWERS, side=64)
    assert seg.batches == [2] and seg.embeds == 2  # image 3 has no usable answer
    with pytest.raises(ValueError, match="answer lists"):
        segment_answers_many(seg, IMAGES, ANSWERS[:2], side=64)


def test_cache_sends_only_misses_to_one_batched_call():
    seg = Batches()
    seg.cache = EmbeddingCache(max_items=8)
    seg.embed_many_cached(IMAGES[:1])
    seg.embed_many_cached([IMAGES[0], IMAGES[1], IMAGES[2], IMAGES[1].copy()])
    assert seg.batches == [1, 2] and seg.embeds == 3
    assert (seg.cache.hits, seg.cache.misses) == (2, 3)
    plain = Batches()  # no cache: a repeated image is still embedded once per call
    plain.embed_many_cached([IMAGES[1], IMAGES[1].copy()])
    assert plain.batches == [1]


def test_reward_embeds_the_distinct_images_of_a_call_in_one_batch():
    seg = Batches()
    reward = SegmentationReward(seg, side=64)
    squares = [np.ascontiguousarray(np.resize(im, (64, 64, 3))) for im in IMAGES[:2]]
    gt = np.zeros((64, 64), np.uint8)
    gt[8:40, 8:40] = 255
    text = format_answer(Answer([[8, 8, 40, 40]], [[20, 20]], [1], think="", points_parsed=True))
    images = [squares[0]] * 3 + [squares[1]] * 3  # two prompts x G = 3
    scores = reward(completions=[text] * 6, image=images, mask=[gt] * 6)
    assert seg.batches == [2] and seg.decodes == 2
    assert scores == pytest.approx([scores[0]] * 6) and scores[0] > 0.9


def test_pipeline_segments_a_batch_with_one_encoder_call(tiny_policy_dir):
    from segr1.inference import Pipeline
    from segr1.policy import load_policy

    model, processor = load_policy(tiny_policy_dir, dtype="float32")
    seg = Batches()
    pipe = Pipeline(model, processor, seg, side=64)
    texts = [[format_answer(a) for a in group] for group in ANSWERS]
    together = pipe.segment_many(IMAGES, texts)
    assert seg.batches == [2]
    for im, group, preds in zip(IMAGES, texts, together, strict=True):
        alone = pipe.segment_completions(im, group)
        assert [p.usable for p in preds] == [p.usable for p in alone]
        for p, q in zip(preds, alone, strict=True):
            np.testing.assert_array_equal(p.levels, q.levels)
            assert p.levels.shape == im.shape[:2]
