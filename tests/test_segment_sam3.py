"""SAM 3 (transformers' Sam3TrackerModel, point / box prompts) behind the segmenter protocol, on
a tiny random config: embed once, decode many (batched = alone), probabilities, local loading
dispatched by the checkpoint's config, the pipeline's one answers -> masks path."""

import numpy as np
import pytest
import torch

from segr1.protocol.parse import parse_answer
from segr1.segment import Sam3Segmenter, build_segmenter, tiny_sam3_config
from segr1.segment.answers import segment_answers
from test_segment_sam2 import call

H, W = 72, 100
IMAGE = np.random.default_rng(3).integers(0, 256, (H, W, 3), dtype=np.uint8)


CALLS = [
    call([10, 10, 60, 50], [[20, 20], [30, 30]], [1, 0]),
    call(None, [[50, 40]], [1]),
    call([0, 0, 90, 70]),
    call([40, 30, 95, 70], [[60, 40]], [1]),
]


@pytest.fixture(scope="module")
def seg():
    return build_segmenter("sam3-random-tiny", cache_bytes=0)


def test_tiny_config_builds_the_tracker(seg):
    from transformers import Sam3TrackerModel

    assert isinstance(seg, Sam3Segmenter) and isinstance(seg.model, Sam3TrackerModel)
    assert seg.side == 112 and sum(p.numel() for p in seg.model.parameters()) < 200_000
    assert not any(p.requires_grad for p in seg.model.parameters())
    with pytest.raises(ValueError, match="multiple of 56"):
        tiny_sam3_config(100)


def test_masks_shape_batched_equals_alone(seg):
    emb = seg.embed(IMAGE)
    together = seg.decode(emb, CALLS)
    assert together.shape == (len(CALLS), H, W) and together.dtype == bool
    assert 0 < together.mean() < 1
    for k, c in enumerate(CALLS):
        np.testing.assert_array_equal(together[k], seg.decode(emb, [c])[0])


def test_probabilities_come_from_the_same_logits(seg):
    emb = seg.embed(IMAGE)
    masks, prob = seg.decode_prob(emb, CALLS)
    np.testing.assert_array_equal(masks, seg.decode(emb, CALLS))
    assert prob.min() >= 0 and prob.max() <= 1 and len(np.unique(prob)) > 100


def test_images_are_normalised_as_sam3_does(seg):
    px = seg.pixel_values(np.full((H, W, 3), 255, np.uint8))
    assert px.shape == (1, 3, 112, 112)
    torch.testing.assert_close(px, torch.ones_like(px))  # (1 - 0.5) / 0.5


def test_directory_round_trip_is_dispatched_by_config(seg, tmp_path):
    seg.save_pretrained(tmp_path)
    loaded = build_segmenter(str(tmp_path))
    assert type(loaded) is Sam3Segmenter
    np.testing.assert_array_equal(
        loaded.decode(loaded.embed(IMAGE), CALLS), seg.decode(seg.embed(IMAGE), CALLS)
    )


def test_answers_segment_through_the_one_path(seg):
    answers = [parse_answer("<bbox>[10,10,60,50]</bbox>"), parse_answer("nothing")]
    masks = segment_answers(seg, IMAGE, answers, side=100)
    assert masks.shape == (2, H, W) and masks[0].any() and not masks[1].any()


def test_unloadable_checkpoint_names_the_problem(tmp_path):
    with pytest.raises(OSError, match="grabcut offline"):
        build_segmenter(str(tmp_path / "missing"))
