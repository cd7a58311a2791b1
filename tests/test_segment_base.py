"""The Seg-R1 combination rule (segment/base.py) on hand-made prompts, with a test-only painter."""

import numpy as np

from painter import Painter
from segr1.protocol.geometry import Prompts
from segr1.segment.base import plan_calls

H, W = 40, 60


def prompts(boxes=(), points=(), labels=()):
    return Prompts(
        np.asarray(boxes, np.float32).reshape(-1, 4),
        np.asarray(points, np.float32).reshape(-1, 2),
        np.asarray(labels, np.int64).reshape(-1),
    )


def rect(x1, y1, x2, y2):
    m = np.zeros((H, W), bool)
    m[y1:y2, x1:x2] = True
    return m


IMAGE = np.zeros((H, W, 3), np.uint8)


def test_points_go_with_their_box_and_outside_points_are_dropped():
    p = prompts(
        boxes=[[0, 0, 10, 10], [20, 20, 30, 30]],
        points=[[5, 5], [20, 30], [50, 5]],
        labels=[1, 0, 1],
    )
    calls = plan_calls(p)
    assert len(calls) == 2
    assert calls[0].points.tolist() == [[5, 5]] and calls[0].labels.tolist() == [1]
    # the border counts as inside; the point at (50, 5) is in no box and is dropped
    assert calls[1].points.tolist() == [[20, 30]] and calls[1].labels.tolist() == [0]


def test_union_of_per_box_masks():
    seg = Painter()
    p = prompts(boxes=[[0, 0, 10, 10], [20, 20, 30, 30]], points=[[50, 5]], labels=[1])
    mask = seg(IMAGE, [p])[0]
    assert mask.shape == (H, W) and mask.dtype == bool
    np.testing.assert_array_equal(mask, rect(0, 0, 10, 10) | rect(20, 20, 30, 30))


def test_points_only_is_one_call_with_all_points():
    seg = Painter()
    p = prompts(points=[[5, 5], [30, 20], [50, 30]], labels=[1, 1, 0])
    mask = seg(IMAGE, [p])[0]
    assert len(seg.calls) == 1 and seg.calls[0].box is None and len(seg.calls[0].points) == 3
    np.testing.assert_array_equal(mask, rect(4, 4, 7, 7) | rect(29, 19, 32, 22))


def test_empty_prompts_give_empty_masks_without_decoding():
    seg = Painter()
    masks = seg(IMAGE, [Prompts.empty(), Prompts.empty()])
    assert masks.shape == (2, H, W) and not masks.any() and seg.decodes == 0


def test_many_prompt_sets_one_decode_and_same_as_alone():
    sets = [
        prompts(boxes=[[0, 0, 10, 10]]),
        Prompts.empty(),
        prompts(points=[[40, 20]], labels=[1]),
        prompts(boxes=[[5, 5, 15, 15], [30, 0, 40, 10]], points=[[6, 6]], labels=[1]),
    ]
    seg = Painter()
    together = seg(IMAGE, sets)
    assert seg.decodes == 1 and together.shape == (4, H, W)
    for i, p in enumerate(sets):
        np.testing.assert_array_equal(together[i], Painter()(IMAGE, [p])[0])
