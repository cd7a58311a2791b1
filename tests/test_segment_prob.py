"""Soft predictions through the one answers -> masks path: the segmenter's probability (sigmoid
of the same logits whose sign makes the mask), combined per box and OR-ed as the MAX, zeros for
an unusable answer; GrabCut's probability is its binary mask."""

import numpy as np
import pytest

from segr1.protocol.geometry import Prompts
from segr1.protocol.parse import parse_answer
from segr1.segment import GrabCutSegmenter, Sam2Segmenter, tiny_sam2_config
from segr1.segment.answers import segment_answers
from segr1.segment.base import Call

H, W = 64, 80
IMAGE = np.random.default_rng(1).integers(0, 256, (H, W, 3), dtype=np.uint8)
TWO_BOXES = Prompts(
    np.array([[4, 4, 40, 30], [30, 20, 76, 60]], np.float32),
    np.array([[10, 10], [50, 40]], np.float32),
    np.array([1, 1]),
)


@pytest.fixture(scope="module")
def sam2():
    return Sam2Segmenter.from_config(tiny_sam2_config(), seed=0)


def test_probability_is_the_sigmoid_of_the_mask_logits(sam2):
    emb = sam2.embed(IMAGE)
    calls = [Call(np.array([4, 4, 40, 30], np.float32), np.zeros((0, 2), np.float32),
                  np.zeros(0, np.int64))]  # fmt: skip
    masks, prob = sam2.decode_prob(emb, calls)
    np.testing.assert_array_equal(masks, sam2.decode(emb, calls))  # the same masks
    assert prob.dtype == np.float32 and prob.shape == (1, H, W)
    assert prob.min() >= 0.0 and prob.max() <= 1.0
    assert len(np.unique(prob)) > 100  # soft, not a relabelled binary mask
    differ = (prob > 0.5) != masks  # sigmoid(x) > 0.5 <=> x > 0, but float32 rounds tiny
    assert np.all(prob[differ] == 0.5) and differ.mean() < 0.01  # positive logits to 0.5


def test_union_of_boxes_is_the_max_of_their_probabilities(sam2):
    emb = sam2.embed(IMAGE)
    one, two = (Prompts(b[None], TWO_BOXES.points, TWO_BOXES.labels) for b in TWO_BOXES.boxes)
    masks, prob = sam2.segment(emb, [TWO_BOXES, one, two, Prompts.empty()], return_prob=True)
    np.testing.assert_array_equal(masks, sam2.segment(emb, [TWO_BOXES, one, two, Prompts.empty()]))
    np.testing.assert_array_equal(prob[0], np.maximum(prob[1], prob[2]))
    assert not prob[3].any() and not masks[3].any()
    assert (prob[0] != prob[1]).any() and (prob[0] != prob[2]).any()  # both boxes count


def test_segment_answers_probabilities_keep_answer_order(sam2):
    answers = [
        parse_answer("<bbox>[4,4,40,30]</bbox>"),
        parse_answer("no prompts at all"),
        parse_answer("<bbox>[30,20,76,60]</bbox> <points>[[50,40]]</points> <labels>[1]</labels>"),
    ]
    masks, prob = segment_answers(sam2, IMAGE, answers, side=64, return_prob=True)
    alone = segment_answers(sam2, IMAGE, answers, side=64)
    np.testing.assert_array_equal(masks, alone)
    assert prob.shape == (3, H, W) and not prob[1].any()
    assert prob[0].any() and prob[2].any()


def test_grabcut_gives_its_binary_mask_as_the_probability():
    seg = GrabCutSegmenter()
    masks, prob = seg.segment(seg.embed(IMAGE), [TWO_BOXES], return_prob=True)
    assert masks[0].any()
    np.testing.assert_array_equal(prob, masks.astype(np.float32))
