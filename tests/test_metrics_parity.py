"""Parity with PySODMetrics 1.6.2 (the oracle) on seeded random, empty-GT, full-GT, tiny-object,
grey-GT and grayscale-prediction cases: per image and per split, both code paths (the
accumulators' level histogram and the array-based per-image functions)."""

import warnings

import cv2
import numpy as np
import pytest

from segr1.metrics import (
    FOREGROUND_KEYS,
    ForegroundMetrics,
    adaptive_counts,
    dice,
    e_measure,
    f_measure,
    iou,
    mae,
    prepare,
    s_measure,
    threshold_counts,
    weighted_f_measure,
)

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    import py_sod_metrics as psm

TOL = 1e-6
GT_KINDS = ("blobs", "empty", "full", "tiny", "noise", "grey")
PRED_KINDS = ("noise", "binary", "constant", "blurred", "extreme", "shifted")


def _gt(rng, kind, h, w):
    if kind == "empty":
        return np.zeros((h, w), np.uint8)
    if kind == "full":
        return np.full((h, w), 255, np.uint8)
    if kind == "noise":
        return ((rng.random((h, w)) < rng.uniform(0.05, 0.7)) * 255).astype(np.uint8)
    if kind == "grey":  # values around the 128 threshold
        return rng.integers(120, 137, (h, w)).astype(np.uint8)
    g = np.zeros((h, w), np.uint8)
    if kind == "tiny":  # 1-3 px, anywhere including borders and corners
        y, x = rng.integers(0, h), rng.integers(0, w)
        g[y : y + rng.integers(1, 3), x : x + rng.integers(1, 3)] = 255
        return g
    for _ in range(rng.integers(1, 4)):
        centre = (int(rng.integers(0, w)), int(rng.integers(0, h)))
        axes = (int(rng.integers(1, max(2, w // 2))), int(rng.integers(1, max(2, h // 2))))
        cv2.ellipse(g, centre, axes, float(rng.uniform(0, 180)), 0, 360, 255, -1)
    return g


def _pred(rng, kind, gt):
    h, w = gt.shape
    if kind == "noise":
        return rng.integers(0, 256, (h, w)).astype(np.uint8)
    if kind == "binary":
        return ((rng.random((h, w)) < 0.4) * 255).astype(np.uint8)
    if kind == "constant":
        return np.full((h, w), rng.integers(0, 256), np.uint8)
    if kind == "extreme":
        return np.full((h, w), 255 * rng.integers(0, 2), np.uint8)
    shifted = np.roll(gt, tuple(rng.integers(-3, 4, 2)), axis=(0, 1)).astype(np.float32)
    if kind == "shifted":  # a clean mask: zero far from the object
        return (shifted > 0).astype(np.uint8) * 255
    noisy = shifted * 0.7 + rng.normal(0, 25, (h, w)).astype(np.float32)
    return np.clip(cv2.GaussianBlur(noisy, (0, 0), 1.5), 0, 255).astype(np.uint8)


def _cases(seed):
    rng = np.random.default_rng(seed)
    out = []
    for gk in GT_KINDS:
        for pk in PRED_KINDS:
            h, w = (rng.integers(1, 48, 2)) if rng.random() < 0.7 else (90, 120)
            gt = _gt(rng, gk, int(h), int(w))
            out.append((f"{gk}/{pk}/{h}x{w}", _pred(rng, pk, gt), gt))
    return out


def _oracle(pairs):
    """PySODMetrics' results for ``pairs`` under our key names."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        accs = [psm.Smeasure(), psm.WeightedFmeasure(), psm.MAE(), psm.Emeasure(), psm.Fmeasure()]
        binary = psm.FmeasureV2(
            {
                "iou": psm.IOUHandler(with_dynamic=False, with_adaptive=False, with_binary=True),
                "dice": psm.DICEHandler(with_dynamic=False, with_adaptive=False, with_binary=True),
            }
        )
        for pred, gt in pairs:
            for acc in [*accs, binary]:
                acc.step(pred, gt)
        s, wf, m, e, f = (a.get_results() for a in accs)
        b = binary.get_results()
    em, fm = e["em"], f["fm"]
    return {
        "Sm": s["sm"],
        "wFm": wf["wfm"],
        "MAE": m["mae"],
        "adpEm": em["adp"],
        "meanEm": em["curve"].mean(),
        "maxEm": em["curve"].max(),
        "adpFm": fm["adp"],
        "meanFm": fm["curve"].mean(),
        "maxFm": fm["curve"].max(),
        "IoU": b["iou"]["binary"],
        "Dice": b["dice"]["binary"],
    }


def _assert_close(ours, ref, label):
    for key in FOREGROUND_KEYS:
        if key == "Sm" and np.isnan(ref[key]):  # PySODMetrics' empty-quadrant NaN (documented)
            assert 0.0 <= ours[key] <= 1.0, label
            continue
        assert ours[key] == pytest.approx(float(ref[key]), abs=TOL), f"{label}: {key}"


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("seed", range(6))
def test_accumulator_matches_oracle_per_image_and_split(seed):
    cases = _cases(seed)
    acc = ForegroundMetrics()
    finite = []
    for label, pred, gt in cases:
        ref = _oracle([(pred, gt)])
        _assert_close(acc.step(pred, gt), ref, label)
        if not np.isnan(ref["Sm"]):
            finite.append((pred, gt))
    assert acc.results()["count"] == len(cases)
    split = ForegroundMetrics()
    for pred, gt in finite:
        split.step(pred, gt)
    _assert_close(split.results(), _oracle(finite), f"seed {seed} split")


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("seed", range(6, 10))
def test_array_functions_match_oracle(seed):
    """The per-image functions (used by rewards) on prepared float arrays."""
    for label, pred, gt in _cases(seed):
        ref = _oracle([(pred, gt)])
        p, g = prepare(pred, gt)
        counts, adaptive = threshold_counts(p, g), adaptive_counts(p, g)
        ours = {
            "Sm": s_measure(p, g),
            "wFm": weighted_f_measure(p, g),
            "MAE": mae(p, g),
            "adpEm": float(e_measure(adaptive)),
            "meanEm": e_measure(counts).mean(),
            "maxEm": e_measure(counts).max(),
            "adpFm": float(f_measure(adaptive)),
            "meanFm": f_measure(counts).mean(),
            "maxFm": f_measure(counts).max(),
            "IoU": iou(p > 0.5, g),
            "Dice": dice(p > 0.5, g),
        }
        _assert_close(ours, ref, label)


def test_bool_inputs_equal_their_png_form():
    rng = np.random.default_rng(7)
    g = rng.random((30, 40)) < 0.3
    p = rng.random((30, 40)) < 0.5
    from_bool, from_png = ForegroundMetrics(), ForegroundMetrics()
    from_bool.step(p, g)
    from_png.step(p.astype(np.uint8) * 255, g.astype(np.uint8) * 255)
    assert from_bool.results() == from_png.results()
    assert s_measure(p, g) == pytest.approx(from_png.results()["Sm"], abs=1e-12)
    assert weighted_f_measure(p, g) == pytest.approx(from_png.results()["wFm"], abs=1e-12)


def test_adaptive_threshold_on_a_present_level():
    """Half the pixels at 255: the adaptive threshold 2 * mean is exactly the level 1.0."""
    pred = np.zeros((8, 10), np.uint8)
    pred[:4] = 255
    gt = np.zeros((8, 10), np.uint8)
    gt[2:6, 3:8] = 255
    acc = ForegroundMetrics()
    acc.step(pred, gt)
    ref = _oracle([(pred, gt)])
    for key in ("adpEm", "adpFm"):
        assert acc.results()[key] == pytest.approx(float(ref[key]), abs=TOL)


def test_level_counts_fallback_equals_opencv():
    from segr1.metrics.prepared import _count

    rng = np.random.default_rng(0)
    img = rng.integers(0, 2048, (33, 47)).astype(np.uint16)
    mask = (rng.random(img.shape) < 0.3).view(np.uint8)
    for m in (None, mask):
        fast = _count(img, 2048, m)
        slow = _count(img, 2048, m, cv_limit=0)  # the np.bincount path for huge images
        assert np.array_equal(fast, slow)
        assert fast.sum() == (img.size if m is None else int(mask.sum()))


@pytest.mark.filterwarnings("ignore::RuntimeWarning", "ignore::UserWarning")
def test_curves_equal_pysodmetrics_pr_f_and_e_curves():
    """The curves a run stores (curves.json, PR / F / E plots) are PySODMetrics' dataset curves."""
    cases = [(pred, gt) for _, pred, gt in _cases(1)]
    acc = ForegroundMetrics()
    fm, em = psm.Fmeasure(), psm.Emeasure()
    for pred, gt in cases:
        acc.step(pred, gt)
        fm.step(pred, gt)
        em.step(pred, gt)
    ours, f, e = acc.curves(), fm.get_results(), em.get_results()
    np.testing.assert_allclose(ours["Precision"], f["pr"]["p"], atol=TOL)
    np.testing.assert_allclose(ours["Recall"], f["pr"]["r"], atol=TOL)
    np.testing.assert_allclose(ours["Fm"], f["fm"]["curve"], atol=TOL)
    np.testing.assert_allclose(ours["Em"], e["em"]["curve"], atol=TOL)
    assert len(np.unique(ours["Recall"])) > 10  # soft predictions: a real curve
