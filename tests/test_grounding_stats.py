"""The grounding warm-up (the demo's stand-in for pretraining) and the statistics that say
whether a policy's boxes follow the objects."""

from __future__ import annotations

import numpy as np
import pytest

from segr1.metrics.grounding import box_area_share, box_iou, grounding_stats, mask_box


def test_box_iou_known_values():
    assert box_iou([0, 0, 10, 10], [0, 0, 10, 10]) == 1.0
    assert box_iou([0, 0, 10, 10], [5, 0, 15, 10]) == pytest.approx(50 / 150)
    assert box_iou([10, 10, 0, 0], [0, 0, 10, 5]) == pytest.approx(0.5)  # corners reordered
    assert box_iou([0, 0, 4, 4], [5, 5, 9, 9]) == 0.0
    assert box_iou([3, 3, 3, 3], [3, 3, 3, 3]) == 0.0  # empty union


def test_mask_box_is_tight_and_scaled():
    mask = np.zeros((20, 40), bool)
    mask[5:10, 8:12] = True
    assert mask_box(mask) == [8.0, 5.0, 12.0, 10.0]
    assert mask_box(mask, side=100) == [20.0, 25.0, 30.0, 50.0]
    assert mask_box(np.zeros((4, 4), bool)) is None


def test_grounding_stats_on_hand_made_answers():
    side = 100
    gts = [[0, 0, 50, 50], [50, 50, 100, 100], [0, 0, 100, 20], None]
    boxes = [[0, 0, 50, 50], [50, 50, 75, 100], [0, 0, 100, 100], [0, 0, 100, 100]]
    s = grounding_stats(boxes, gts, side)
    # IoUs 1, 0.5, 0.2 over the 3 images with an object; the empty-GT image is not scored
    assert s.n == 4 and s.n_scored == 3
    assert s.mean_box_iou == pytest.approx((1 + 0.5 + 0.2) / 3)
    assert s.distinct == 3 and s.distinct_share == 0.75
    assert s.whole_frame_share == 0.5 and s.no_box == 0
    # box / object side over the 3 images with both boxes: sqrt of 1, 0.5 and 5
    assert s.median_side_ratio == pytest.approx(1.0)


def test_median_side_ratio_edge_cases():
    side = 100
    ratio = lambda boxes, gts: grounding_stats(boxes, gts, side).median_side_ratio  # noqa: E731
    assert ratio([[0, 0, 65, 65]], [[0, 0, 50, 50]]) == pytest.approx(1.3)
    assert ratio([[0, 0, 80, 80]] * 2 + [[0, 0, 45, 45]], [[0, 0, 50, 50]] * 3) == pytest.approx(
        1.6
    )
    assert ratio([[65, 65, 0, 0]], [[50, 50, 0, 0]]) == pytest.approx(1.3)  # reversed corners
    # both boxes clipped to the frame: a box spilling over a whole-frame object is 1.0
    assert ratio([[-50, -50, 150, 150]], [[0, 0, 100, 100]]) == pytest.approx(1.0)
    assert ratio([[5, 5, 5, 30]], [[0, 0, 10, 10]]) == 0.0  # a box of no area
    assert ratio([None], [[0, 0, 50, 50]]) is None  # no image with both boxes
    assert ratio([[0, 0, 50, 50]], [None]) is None


def test_grounding_stats_constant_answer_and_missing_boxes():
    gts = [[10, 10, 30, 30]] * 4
    s = grounding_stats([[0, 0, 95, 96], [0, 0, 95, 96], None, None], gts, 100)
    assert s.distinct == 2 and s.distinct_share == 0.5  # one box + "no box"
    assert s.no_box == 2
    assert s.whole_frame_share == 0.5  # 95 x 96 = 91.2 % of the frame, twice
    assert s.mean_box_iou == pytest.approx(0.5 * 400 / (95 * 96))  # missing boxes score 0
    assert box_area_share([-20, -20, 200, 50], 100) == pytest.approx(0.5)  # clipped to frame
    with pytest.raises(ValueError, match="2 boxes for 1"):
        grounding_stats([None, None], [None], 100)


def _row(n, distinct, whole, no_box=0):
    return {"n": n, "distinct": distinct, "distinct_share": distinct / n,
            "whole_frame_share": whole, "no_box": no_box}  # fmt: skip


def _change(low, high, mean=0.0):
    return {"mean": mean, "ci95": [low, high], "better": 1, "worse": 1, "equal": 0}


def test_hack_flags_name_constant_and_whole_frame_answers():
    from segr1.demo_grounding import hack_flags

    ok = _row(100, 95, 0.0)
    assert hack_flags(ok, ok, _change(0.01, 0.03), _change(0.01, 0.02)) == []
    flags = hack_flags(ok, _row(100, 1, 1.0), _change(0.01, 0.03), _change(-0.3, -0.2))
    assert len(flags) == 3
    assert "constant answers after RL: 1 distinct answer over 100" in flags[0]
    assert "whole-frame boxes after RL: 100%" in flags[1]
    assert "box IoU fell" in flags[2]
    # at the limits: 5 % whole-frame boxes and half the images with their own box pass
    assert hack_flags(ok, _row(100, 50, 0.05), _change(0, 1), _change(-1, 0)) == []
    # surplus boxes: more boxes per answer while the object box IoU falls (interval below zero)
    one, two = {**ok, "mean_boxes": 1.0}, {**ok, "mean_boxes": 1.2}
    (flag,) = hack_flags(one, two, _change(0.01, 0.03), _change(0, 1), _change(-0.05, -0.01))
    assert "boxes per answer rose by 0.20" in flag
    assert hack_flags(one, two, _change(0, 1), _change(0, 1), _change(-0.05, 0.01)) == []
    assert hack_flags(one, one, _change(0, 1), _change(0, 1), _change(-0.05, -0.01)) == []
    none = hack_flags(_row(6, 1, 0.0, no_box=6), ok, _change(0, 1), _change(0, 1))
    assert none == ["no box before RL: none of the 6 answers held a usable box"]


def test_describe_change_reads_the_interval():
    from segr1.demo_grounding import describe_change

    assert "a gain" in describe_change("S", _change(0.01, 0.02, 0.015))
    assert "a loss" in describe_change("S", _change(-0.02, -0.01, -0.015))
    assert "no measured change" in describe_change("S", _change(-0.01, 0.02))
    assert "+0.0150" in describe_change("S", _change(0.01, 0.02, 0.015))


def test_policy_boxes_read_the_eval_folder(tmp_path):
    import json
    from types import SimpleNamespace

    from segr1.demo_grounding import grounding_row

    mask = np.zeros((20, 20), np.uint8)
    mask[0:10, 0:10] = 255
    test = [SimpleNamespace(id=i, load_mask=lambda m=mask: m) for i in ("a", "b")]
    rows = [{"id": "a", "answer": {"boxes": [[0, 0, 50, 50], [1, 1, 2, 2]]}},
            {"id": "b", "answer": {"boxes": []}}]  # fmt: skip
    (tmp_path / "completions.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    g = grounding_row(test, tmp_path, side=100)  # GT box [0, 0, 50, 50] in the 100 frame
    assert g["box_iou_per_image"] == [1.0, 0.0] and g["no_box"] == 1 and g["distinct"] == 2
    # the surplus second box (inside the first) costs the object box IoU, not the enclosing one
    assert g["object_box_iou_per_image"] == [0.5, 0.0] and g["mean_boxes"] == 1.0
    (tmp_path / "completions.jsonl").write_text(json.dumps(rows[0]) + "\n")
    with pytest.raises(ValueError, match="no answer for 1 test images"):
        grounding_row(test, tmp_path, side=100)


def test_object_boxes_one_per_region_left_to_right():
    from segr1.metrics.grounding import object_boxes

    mask = np.zeros((20, 40), bool)
    mask[2:8, 30:36] = True  # right object, first in the array
    mask[10:18, 4:12] = True  # left object
    mask[0, 0] = True  # a one-pixel speck (under 2 % of the largest region): dropped
    assert object_boxes(mask) == [[4.0, 10.0, 12.0, 18.0], [30.0, 2.0, 36.0, 8.0]]
    assert object_boxes(mask, side=100)[1] == [75.0, 10.0, 90.0, 40.0]
    assert object_boxes(mask, min_share=0.0)[0] == [0.0, 0.0, 1.0, 1.0]
    assert object_boxes(np.zeros((5, 5), bool)) == []


def test_matched_box_iou_charges_missing_and_surplus_boxes():
    from segr1.metrics.grounding import matched_box_iou

    a, b = [0, 0, 10, 10], [20, 20, 30, 30]
    assert matched_box_iou([b, a], [a, b]) == 1.0  # order does not matter
    assert matched_box_iou([a], [a, b]) == 0.5  # one object missed
    assert matched_box_iou([a, b, [50, 50, 60, 60]], [a, b]) == pytest.approx(2 / 3)  # surplus
    assert matched_box_iou([[0, 0, 30, 30]], [a, b]) == pytest.approx(100 / 900 / 2)
    assert matched_box_iou([], [a]) == 0.0 and matched_box_iou([a], []) == 0.0


def test_grounding_stats_on_several_box_answers():
    """An answer is its list of boxes: the box IoU compares the enclosing boxes, the object box
    IoU pairs boxes with objects, one whole-frame box flags the answer, and two answers are the
    same only when all their boxes are."""
    a, b = [0, 0, 10, 10], [20, 20, 30, 30]
    gts = [[a, b], [a, b], [a], None]
    answers = [[a, b], [[0, 0, 30, 30]], [a, [0, 0, 100, 100]], []]
    s = grounding_stats(answers, gts, 100)
    assert s.n_scored == 3 and s.no_box == 1
    # enclosing: [0,0,30,30] vs [0,0,30,30] twice (1, 1), then [0,0,100,100] vs a (0.01)
    assert s.mean_box_iou == pytest.approx((1 + 1 + 0.01) / 3)
    assert s.mean_object_box_iou == pytest.approx((1 + 100 / 900 / 2 + 0.5) / 3)
    assert s.whole_frame_share == 0.25 and s.distinct == 4 and s.mean_boxes == 1.25
    # bare boxes and None read as one box and none, as before
    assert grounding_stats([a, None], [a, a], 100).mean_object_box_iou == 0.5


def test_grounding_row_scores_the_box_around_every_pixel(tmp_path):
    """A speck the object boxes drop still belongs to the box around all ground-truth pixels
    (the box IoU's reference), not to the objects the boxes are paired with."""
    import json
    from types import SimpleNamespace

    from segr1.demo_grounding import grounding_row

    mask = np.zeros((100, 100), np.uint8)
    mask[40:90, 40:90] = 255
    mask[2, 2] = 255  # one pixel, under 2 % of the object
    test = [SimpleNamespace(id="a", load_mask=lambda: mask)]
    row = {"id": "a", "answer": {"boxes": [[2, 2, 90, 90]]}}
    (tmp_path / "completions.jsonl").write_text(json.dumps(row) + "\n")
    g = grounding_row(test, tmp_path, side=100)
    assert g["box_iou_per_image"] == [1.0]  # the box around everything, speck included
    assert g["object_box_iou_per_image"] == [pytest.approx(2500 / 88**2)]  # one object
    assert g["median_side_ratio"] == pytest.approx(1.0)


def test_reference_masks_prompt_each_image_in_the_policy_s_frame():
    """The demo report's reference rows: the true box is written in the S x S frame, segmented
    there and the mask brought back to the image's own size; an empty image gets an all-False
    mask; a whole-frame box covers the frame; an unknown prompt is refused at the call."""
    from types import SimpleNamespace

    from segr1.demo_report import reference_masks, reference_scores

    def box_filler(image, prompts):  # a segmenter that fills its box
        out = np.zeros((len(prompts), *image.shape[:2]), bool)
        for k, p in enumerate(prompts):
            for x1, y1, x2, y2 in np.rint(p.boxes).astype(int):
                out[k, y1:y2, x1:x2] = True
        return out

    gt = np.zeros((80, 120), np.uint8)  # not square: the frame stretches it
    gt[20:60, 30:90] = 255
    image = np.zeros((80, 120, 3), np.uint8)
    test = [SimpleNamespace(load_pair=lambda: (image, gt)),
            SimpleNamespace(load_pair=lambda: (image, np.zeros_like(gt)))]  # fmt: skip
    (mask, truth), (empty, _) = reference_masks(test, 50, box_filler)
    assert mask.shape == truth.shape == (80, 120) and mask.dtype == bool
    assert (mask == (gt > 0)).mean() > 0.97 and not empty.any()
    whole = [m for m, _ in reference_masks(test, 50, box_filler, "whole-frame")]
    assert all(m.all() for m in whole)
    assert reference_scores(test[:1], 50, box_filler)["IoU"] > 0.9
    with pytest.raises(ValueError, match="choose one of"):
        reference_masks(test, 50, box_filler, "nothing")  # not at the first mask
    with pytest.raises(ValueError, match="choose one of"):
        reference_scores(test, 50, box_filler, "nothing")
