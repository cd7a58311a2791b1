"""The Seg-Zero / VisionReasoner reward set and the mask reward, across answer formats, on
hand-written answers with known values; "no target" answers."""

from __future__ import annotations

import numpy as np
import pytest

from painter import Painter
from segr1.rewards import build_rewards
from segr1.rewards_objects import (
    AccuracyReward,
    SegmentationFormatReward,
    gt_objects,
    non_repetition_reward,
)

S = 100
TWO = np.zeros((S, S), np.uint8)
TWO[10:30, 10:40] = 255  # object A: box [10, 10, 40, 30], inscribed centre near (25, 20)
TWO[60:90, 50:90] = 255  # object B: box [50, 60, 90, 90]
EMPTY = np.zeros((S, S), np.uint8)
IMAGE = np.zeros((S, S, 3), np.uint8)


def vr(*objects: str) -> str:
    return "<think>two things</think> <answer>[" + ", ".join(objects) + "]</answer>"


def test_ground_truth_objects_are_connected_components():
    objs = gt_objects(TWO > 128)
    assert [o.box for o in objs] == [[10, 10, 40, 30], [50, 60, 90, 90]]
    assert 15 <= objs[0].point[0] <= 35 and 15 <= objs[0].point[1] <= 25  # the deepest pixel
    assert gt_objects(EMPTY > 0) == []


def test_segmentation_format_counts_fields_per_object():
    reward = SegmentationFormatReward("vision-reasoner")
    full = vr('{"bbox_2d": [1,2,3,4], "point_2d": [1,2]}')
    half = vr('{"bbox_2d": [1,2,3,4], "point_2d": [1,2]}', '{"bbox_2d": [1,2,3]}')
    assert reward([full, half, "<answer>[]</answer>", "junk"]) == [2.0, 1.0, 0.0, 0.0]


def test_accuracy_matches_objects_hungarian():
    reward = AccuracyReward("vision-reasoner", side=S)
    # both objects right: IoU > 0.5, L1 < 10, point near and inside -> 3 each, / max(2, 2)
    right = vr('{"bbox_2d": [50,60,90,90], "point_2d": [70,75]}',
               '{"bbox_2d": [11,10,40,31], "point_2d": [25,20]}')  # fmt: skip
    # one object, loose box (IoU 0.6, L1 5.0, its point near A's centre) -> 3 / max(1, 2)
    one = vr('{"bbox_2d": [10,10,50,30], "point_2d": [24,20]}')
    # the point outside its own box scores no point hit: 2 / 2
    outside = vr('{"bbox_2d": [10,10,40,30], "point_2d": [70,75]}')
    extra = vr('{"bbox_2d": [50,60,90,90], "point_2d": [70,75]}', '{"bbox_2d": [0,0,5,5]}',
               '{"bbox_2d": [11,10,40,31], "point_2d": [25,20]}')  # fmt: skip
    out = reward([right, one, outside, extra], mask=[TWO] * 4)
    assert out == pytest.approx([3.0, 1.5, 1.0, 2.0])  # extra: 6 / max(3, 2)


def test_accuracy_for_any_format_and_for_no_target():
    seg_r1 = AccuracyReward("seg-r1", side=S)
    text = "<think>t</think> <bbox>[50,60,90,90]</bbox>, <points>[[70,75],[5,5]]</points>, <labels>[1,0]</labels>"
    assert seg_r1([text], mask=[TWO]) == [pytest.approx(1.5)]  # 3 of 3 for B, / max(1, 2)
    abstain = "<think>nothing there</think> <bbox>none</bbox>"
    assert seg_r1([abstain, abstain], mask=[EMPTY, TWO]) == [3.0, 0.0]
    sz = AccuracyReward("seg-zero", side=S)
    zero = "<think>t</think><answer>{'bbox': [50,60,90,90], 'points_1': [70,75], 'points_2': [60,70]}</answer>"
    assert sz([zero, zero], mask=[TWO, EMPTY]) == [pytest.approx(1.5), 0.0]


def test_non_repetition():
    assert non_repetition_reward(["A cat. A dog.", "A cat. A dog. A cat.", "x.. y"]) == [1, 0, 1]


def test_mask_reward_works_with_every_format():
    gt = np.zeros((S, S), np.uint8)
    gt[20:60, 20:60] = 255
    texts = {
        "seg-r1": "<think>t</think> <bbox>[20,20,60,60]</bbox>, <points>[[40,40]]</points>, <labels>[1]</labels>",
        "seg-zero": "<think>t</think><answer>{'bbox': [20,20,60,60], 'points_1': [40,40], 'points_2': [30,30]}</answer>",
        "vision-reasoner": '<think>t</think><answer>[{"bbox_2d": [20,20,60,60], "point_2d": [40,40]}]</answer>',
    }
    for name, text in texts.items():
        seg = Painter(points=False)
        _, reward = build_rewards(seg, side=S, answer_format=name, names=["format", "segmentation"])
        assert reward(completions=[text], image=[IMAGE], mask=[gt]) == [pytest.approx(1.0)], name
        assert seg.embeds == 1


def test_abstention_rewards_and_a_mask_on_an_empty_ground_truth():
    _, reward = build_rewards(Painter(), side=S)
    abstain = "<think>none here</think> <bbox>none</bbox>"
    boxed = "<think>t</think> <bbox>[0,0,50,100]</bbox>, <points>[[10,10]]</points>, <labels>[1]</labels>"
    r = reward(completions=[abstain, abstain, boxed], image=[IMAGE] * 3, mask=[EMPTY, TWO, EMPTY])
    assert r[0] == pytest.approx(1.0)  # right: the full segmentation reward
    assert r[1] == 0.0  # an object exists
    assert r[2] == pytest.approx(0.3 * 0.5)  # the metric's due: IoU 0, S = 1 - area = 0.5


def test_native_reward_sets_and_unknown_names():
    names = [r.__name__ for r in build_rewards(Painter(), side=S, answer_format="seg-zero")]
    assert names == ["thinking_format", "segmentation_format", "accuracy", "non_repetition_reward"]
    assert [r.__name__ for r in build_rewards(Painter(), side=S)] == [
        "format_reward",
        "segmentation",
    ]
    with pytest.raises(ValueError, match="unknown reward 'iou'"):
        build_rewards(Painter(), side=S, names=["iou"])
