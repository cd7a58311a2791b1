"""Per-image metric functions: hand-made values, conventions and input errors."""

import warnings

import numpy as np
import pytest

from segr1.metrics import dice, iou, overlap_counts, prepare, s_measure

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    import py_sod_metrics as psm


def _box(h, w, y0, y1, x0, x1):
    m = np.zeros((h, w), bool)
    m[y0:y1, x0:x1] = True
    return m


def test_iou_and_dice_known_values():
    a = _box(10, 10, 0, 4, 0, 5)  # 20 px
    b = _box(10, 10, 2, 6, 0, 5)  # 20 px, 10 shared
    assert iou(a, b) == pytest.approx(10 / 30)
    assert dice(a, b) == pytest.approx(20 / 40)
    assert iou(a, a) == 1.0 and dice(a, a) == 1.0
    assert iou(a, ~a) == 0.0 and dice(a, ~a) == 0.0


def test_empty_union_is_zero():
    e = np.zeros((5, 7), bool)
    assert iou(e, e) == 0.0
    assert dice(e, e) == 0.0


def test_overlap_counts_with_ignore():
    p = _box(4, 4, 0, 2, 0, 4)  # top half
    g = _box(4, 4, 0, 4, 0, 2)  # left half
    ign = _box(4, 4, 0, 1, 0, 4)  # first row ignored
    assert overlap_counts(p, g) == (4, 12)
    assert overlap_counts(p, g, ign) == (2, 8)  # row 0 held 2 shared and 4 union px


def test_masks_must_be_bool_and_same_shape():
    with pytest.raises(TypeError, match="threshold it first"):
        iou(np.zeros((3, 3), np.uint8), np.zeros((3, 3), bool))
    with pytest.raises(ValueError, match="shape mismatch"):
        dice(np.zeros((3, 3), bool), np.zeros((3, 4), bool))


def _oracle_sm(pred_u8, gt_u8):
    s = psm.Smeasure()
    s.step(pred_u8, gt_u8)
    return float(s.get_results()["sm"])


def test_s_measure_perfect_and_branches():
    g = _box(32, 40, 5, 20, 8, 30)
    assert s_measure(g, g) == pytest.approx(1.0, abs=1e-12)
    assert s_measure(g.astype(np.float64), g) == pytest.approx(1.0, abs=1e-12)
    empty, full = np.zeros_like(g), np.ones_like(g)
    frac = g.mean()
    assert s_measure(g, empty) == pytest.approx(1 - frac)  # empty GT: 1 - mean(pred)
    assert s_measure(g, full) == pytest.approx(frac)  # full GT: mean(pred)
    assert s_measure(empty, empty) == 1.0


def test_s_measure_bool_equals_float_and_oracle():
    rng = np.random.default_rng(3)
    for _ in range(20):
        h, w = rng.integers(2, 50, 2)
        g = rng.random((h, w)) < rng.uniform(0.05, 0.6)
        p = rng.random((h, w)) < 0.5
        ours = s_measure(p, g)
        assert ours == pytest.approx(s_measure(p.astype(np.float64), g), abs=1e-12)
        ref = _oracle_sm(p.astype(np.uint8) * 255, g.astype(np.uint8) * 255)
        if p.all() or not p.any():  # a constant 0/255 PNG is not min-max stretched
            continue
        if not np.isnan(ref):
            assert ours == pytest.approx(ref, abs=1e-9)


def test_s_measure_grayscale_matches_oracle():
    rng = np.random.default_rng(4)
    for _ in range(20):
        h, w = rng.integers(2, 60, 2)
        g = ((rng.random((h, w)) < rng.uniform(0.05, 0.6)) * 255).astype(np.uint8)
        p = rng.integers(0, 256, (h, w)).astype(np.uint8)
        ref = _oracle_sm(p, g)
        if not np.isnan(ref):
            assert s_measure(*prepare(p, g)) == pytest.approx(ref, abs=1e-9)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_s_measure_centroid_on_last_column_is_finite():
    """PySODMetrics returns NaN here (an empty quadrant); we count that quadrant as 0."""
    g = np.zeros((12, 16), np.uint8)
    g[:, -1] = 255
    p = np.random.default_rng(0).integers(0, 256, g.shape).astype(np.uint8)
    assert np.isnan(_oracle_sm(p, g))
    v = s_measure(*prepare(p, g))
    assert np.isfinite(v) and 0.0 <= v <= 1.0


def test_s_measure_rejects_bad_inputs():
    g = np.zeros((4, 4), bool)
    with pytest.raises(TypeError, match="prepare"):
        s_measure(np.zeros((4, 4), np.uint8), g)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        s_measure(np.full((4, 4), 2.0), g)
    with pytest.raises(TypeError, match="bool"):
        s_measure(np.zeros((4, 4)), np.zeros((4, 4), np.uint8))


def test_prepare_matches_oracle_conversion():
    rng = np.random.default_rng(5)
    from py_sod_metrics.utils import prepare_data

    for lo, hi in [(0, 256), (40, 41), (10, 200), (255, 256)]:
        p = rng.integers(lo, hi, (9, 11)).astype(np.uint8)
        g = rng.integers(0, 256, (9, 11)).astype(np.uint8)
        g[0, 0] = 128  # 128 is background in PySODMetrics
        ours_p, ours_g = prepare(p, g)
        ref_p, ref_g = prepare_data(p, g)
        assert np.array_equal(ours_p, ref_p)  # bit-identical
        assert np.array_equal(ours_g, ref_g)
