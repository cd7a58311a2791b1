"""Accumulators: step / results / reset semantics, and cIoU / gIoU on hand-made cases."""

import numpy as np
import pytest

from segr1.metrics import (
    FOREGROUND_KEYS,
    MAE,
    BinaryOverlap,
    EMeasure,
    FMeasure,
    ForegroundMetrics,
    ReferringMetrics,
    SMeasure,
    WeightedFMeasure,
)


def _pairs(n=4, seed=0):
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        gt = np.zeros((24, 32), np.uint8)
        y, x = rng.integers(0, 16, 2)
        gt[y : y + 8, x : x + 12] = 255
        pred = np.clip(gt * 0.8 + rng.normal(0, 40, gt.shape), 0, 255).astype(np.uint8)
        out.append((pred, gt))
    return out


def test_results_keys_count_and_plain_floats():
    acc = ForegroundMetrics()
    per_image = [acc.step(p, g) for p, g in _pairs()]
    res = acc.results()
    assert list(res) == [*FOREGROUND_KEYS, "count"]
    assert res["count"] == 4
    assert all(type(v) is float for k, v in res.items() if k != "count")
    assert set(per_image[0]) == set(FOREGROUND_KEYS)
    assert res["Sm"] == pytest.approx(np.mean([s["Sm"] for s in per_image]))
    assert res["meanEm"] == pytest.approx(np.mean([s["meanEm"] for s in per_image]))


def test_max_is_taken_over_the_average_curve():
    acc = ForegroundMetrics()
    for p, g in _pairs():
        acc.step(p, g)
    curves = acc.curves()
    assert curves["Em"].shape == curves["Fm"].shape == (256,)
    assert acc.results()["maxFm"] == pytest.approx(curves["Fm"].max())


def test_reset_forgets_everything_and_empty_results_raise():
    acc = ForegroundMetrics()
    pairs = _pairs()
    for p, g in pairs:
        acc.step(p, g)
    first = acc.results()
    acc.reset()
    with pytest.raises(ValueError, match="no images"):
        acc.results()
    for p, g in pairs:
        acc.step(p, g)
    assert acc.results() == first  # no state survives reset, and stepping is deterministic


def test_single_metric_accumulators_agree_with_all_in_one():
    pairs = _pairs(seed=1)
    every = ForegroundMetrics()
    singles = [SMeasure(), WeightedFMeasure(), MAE(), EMeasure(), FMeasure(), BinaryOverlap()]
    for p, g in pairs:
        every.step(p, g)
        for acc in singles:
            acc.step(p, g)
    merged = {}
    for acc in singles:
        merged.update(acc.results())
    assert merged == every.results()


def test_step_rejects_wrong_inputs():
    acc = ForegroundMetrics()
    with pytest.raises(TypeError, match="uint8"):
        acc.step(np.zeros((4, 4), np.float32), np.zeros((4, 4), np.uint8))
    with pytest.raises(ValueError, match="shape mismatch"):
        acc.step(np.zeros((4, 4), np.uint8), np.zeros((4, 5), np.uint8))


def _mask(h, w, y0, y1, x0, x1):
    m = np.zeros((h, w), bool)
    m[y0:y1, x0:x1] = True
    return m


def test_ciou_giou_known_values():
    acc = ReferringMetrics()
    # sample 1: 10 x 10 gt, pred covers its left half -> I 50, U 100, IoU 0.5
    acc.step(_mask(20, 20, 0, 10, 0, 5), _mask(20, 20, 0, 10, 0, 10))
    # sample 2: 2 px gt, pred exact -> I 2, U 2, IoU 1.0
    acc.step(_mask(20, 20, 0, 1, 0, 2), _mask(20, 20, 0, 1, 0, 2))
    res = acc.results()
    assert res["gIoU"] == pytest.approx(0.75)
    assert res["cIoU"] == pytest.approx(52 / 102)
    assert res["count"] == 2


def test_ignore_pixels_leave_intersection_and_union():
    gt = _mask(10, 10, 0, 4, 0, 4)  # 16 px
    pred = _mask(10, 10, 0, 4, 0, 6)  # 24 px, 16 shared
    ignore = _mask(10, 10, 0, 4, 4, 6)  # the 8 extra predicted px are "ignore" (255)
    acc = ReferringMetrics()
    out = acc.step(pred, gt, ignore)
    assert (out["intersection"], out["union"]) == (16, 16)
    assert out["IoU"] == 1.0
    assert ReferringMetrics().step(pred, gt)["IoU"] == pytest.approx(16 / 24)


def test_empty_union_convention():
    empty = np.zeros((5, 5), bool)
    acc = ReferringMetrics()
    assert acc.step(empty, empty)["IoU"] == 1.0  # correct "no object"
    assert acc.step(_mask(5, 5, 0, 1, 0, 1), empty)["IoU"] == 0.0  # false positive
    assert acc.results() == {"cIoU": 0.0, "gIoU": 0.5, "count": 2}
    strict = ReferringMetrics(empty_iou=0.0)
    strict.step(empty, empty)
    assert strict.results()["gIoU"] == 0.0 and strict.results()["cIoU"] == 0.0
    strict.reset()
    with pytest.raises(ValueError, match="no samples"):
        strict.results()
