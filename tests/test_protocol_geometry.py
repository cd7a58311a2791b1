"""Geometry: frame round trips, clipping, reversed corners."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from segr1.protocol.geometry import (
    clip_boxes,
    order_boxes,
    scale_boxes,
    scale_points,
    scale_prompts,
)


def test_reversed_corners_are_ordered():
    assert order_boxes(np.array([[10, 20, 5, 2]])).tolist() == [[5, 2, 10, 20]]


def test_out_of_frame_is_clipped():
    assert clip_boxes(np.array([[-5, -5, 900, 20]]), (768, 768)).tolist() == [[0, 0, 768, 20]]
    assert scale_points(np.array([[800.0, -3.0]]), (768, 768), (100, 50)).tolist() == [[100, 0]]


def test_model_to_original_scales_each_axis():
    p = scale_prompts([[0, 0, 384, 768]], [[384, 384]], [1], model_side=768, target=(1000, 500))
    assert np.allclose(p.boxes, [[0, 0, 500, 500]])
    assert np.allclose(p.points, [[500, 250]])
    assert p.labels.tolist() == [1]


def test_empty_answer_gives_empty_prompts():
    p = scale_prompts([], [], [], model_side=768, target=(64, 48))
    assert p.is_empty and p.boxes.shape == (0, 4) and p.points.shape == (0, 2)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.floats(-100, 1200, allow_nan=False), min_size=4, max_size=4),
    st.integers(16, 2048),
    st.integers(16, 2048),
    st.integers(64, 1024),
)
def test_round_trip_model_original_model(box, w, h, side):
    b = np.array([box], np.float32)
    there = scale_boxes(b, (side, side), (w, h))
    back = scale_boxes(there, (w, h), (side, side))
    assert np.allclose(back, clip_boxes(b, (side, side)), atol=1e-3 * side)
    assert (there[:, 0] <= there[:, 2]).all() and (there[:, 1] <= there[:, 3]).all()
    assert there.min() >= 0 and there[:, [0, 2]].max() <= w and there[:, [1, 3]].max() <= h
