"""Foreground metrics: segr1.metrics vs PySODMetrics 1.6.2 on generated COD-like pairs.

Scores the full COD metric set (S-measure, weighted F, MAE, E-measure and F-measure adaptive /
mean / max) over N generated 640 x 480 (prediction, ground truth) uint8 pairs with both
libraries in one run, checks every value agrees to 1e-6, and prints per-metric and all-in-one
timings with their ratio, plus the command that produced them. Exit status 1 if any value
differs. Timings are the best of ``--repeats`` passes over all pairs, as wall-clock and as
process CPU time (the machine may be shared: CPU time is the steadier figure under load);
data generation is not timed.

    python benchmarks/metrics.py [--pairs 200] [--repeats 3] [--seed 0]
"""

from __future__ import annotations

import argparse
import os
import platform
import shlex
import sys
import time
import warnings
from collections.abc import Callable

import cv2
import numpy as np

from segr1.metrics import (
    MAE,
    EMeasure,
    FMeasure,
    ForegroundMetrics,
    SMeasure,
    WeightedFMeasure,
)

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    import py_sod_metrics as psm

TOLERANCE = 1e-6
COD_KEYS = ("Sm", "wFm", "MAE", "adpEm", "meanEm", "maxEm", "adpFm", "meanFm", "maxFm")


def make_pairs(
    n: int, seed: int, h: int = 480, w: int = 640
) -> list[tuple[np.ndarray, np.ndarray]]:
    """COD-like pairs: 0-3 random ellipses as gt; a shifted, blurred, noisy grayscale prediction."""
    rng = np.random.default_rng(seed)
    pairs = []
    for _ in range(n):
        gt = np.zeros((h, w), np.uint8)
        for _ in range(rng.choice([0, 1, 1, 1, 2, 3])):
            centre = (int(rng.integers(0, w)), int(rng.integers(0, h)))
            axes = (int(rng.integers(3, 160)), int(rng.integers(3, 160)))
            cv2.ellipse(gt, centre, axes, float(rng.uniform(0, 180)), 0, 360, 255, -1)
        shifted = np.roll(gt, tuple(rng.integers(-15, 16, 2)), axis=(0, 1)).astype(np.float32)
        noisy = shifted * rng.uniform(0.4, 1.0) + rng.normal(0, rng.uniform(5, 60), (h, w))
        pred = cv2.GaussianBlur(noisy.astype(np.float32), (0, 0), float(rng.uniform(1, 8)))
        pairs.append((gt if rng.random() < 0.05 else np.clip(pred, 0, 255).astype(np.uint8), gt))
    return pairs


def reference_results(pairs: list) -> dict[str, float]:
    """PySODMetrics' COD results, keyed like ours."""
    s, wf, m, e, f = _reference_accumulators()
    for pred, gt in pairs:
        for acc in (s, wf, m, e, f):
            acc.step(pred, gt)
    em, fm = e.get_results()["em"], f.get_results()["fm"]
    return {
        "Sm": float(s.get_results()["sm"]),
        "wFm": float(wf.get_results()["wfm"]),
        "MAE": float(m.get_results()["mae"]),
        "adpEm": float(em["adp"]),
        "meanEm": float(em["curve"].mean()),
        "maxEm": float(em["curve"].max()),
        "adpFm": float(fm["adp"]),
        "meanFm": float(fm["curve"].mean()),
        "maxFm": float(fm["curve"].max()),
    }


def _reference_accumulators() -> tuple:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Fmeasure's deprecation notice
        return psm.Smeasure(), psm.WeightedFmeasure(), psm.MAE(), psm.Emeasure(), psm.Fmeasure()


def best_time(run: Callable[[], object], repeats: int) -> tuple[float, float]:
    """Best wall-clock and best process-CPU seconds of ``repeats`` runs."""
    wall = cpu = float("inf")
    for _ in range(repeats):
        start, start_cpu = time.perf_counter(), time.process_time()
        run()
        wall = min(wall, time.perf_counter() - start)
        cpu = min(cpu, time.process_time() - start_cpu)
    return wall, cpu


def _stepper(make: Callable[[], object], pairs: list) -> Callable[[], None]:
    def run() -> None:
        acc = make()
        for pred, gt in pairs:
            acc.step(pred, gt)

    return run


Timing = tuple[float, float]  # (wall, cpu) seconds


def timing_rows(pairs: list, repeats: int) -> list[tuple[str, Timing, Timing]]:
    """(name, ours, PySODMetrics) per metric and for the whole set."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rows = [
            ("S-measure", SMeasure, psm.Smeasure),
            ("weighted F", WeightedFMeasure, psm.WeightedFmeasure),
            ("MAE", MAE, psm.MAE),
            ("E-measure", EMeasure, psm.Emeasure),
            ("F-measure", FMeasure, psm.Fmeasure),
        ]
        out = [
            (name, best_time(_stepper(o, pairs), repeats), best_time(_stepper(r, pairs), repeats))
            for name, o, r in rows
        ]

        def reference_all() -> None:
            accs = _reference_accumulators()
            for pred, gt in pairs:
                for acc in accs:
                    acc.step(pred, gt)

        ours_all = best_time(_stepper(ForegroundMetrics, pairs), repeats)
        out.append(("all (one pass)", ours_all, best_time(reference_all, repeats)))
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    pairs = make_pairs(args.pairs, args.seed)
    ours_acc = ForegroundMetrics()
    for pred, gt in pairs:
        ours_acc.step(pred, gt)
    ours, ref = ours_acc.results(), reference_results(pairs)

    print(f"$ python {shlex.join(sys.argv)}")
    print(
        f"{args.pairs} pairs of 640x480 uint8, seed {args.seed}; best of {args.repeats}; "
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs; numpy "
        f"{np.__version__}, opencv {cv2.__version__}, pysodmetrics 1.6.2; "
        f"load average {os.getloadavg()[0]:.2f} at start"
    )
    print(f"\n{'metric':<8} {'segr1':>12} {'pysodmetrics':>13} {'|diff|':>9}")
    worst = 0.0
    for key in COD_KEYS:
        diff = abs(ours[key] - ref[key])
        worst = max(worst, diff)
        print(f"{key:<8} {ours[key]:>12.8f} {ref[key]:>13.8f} {diff:>9.1e}")
    equal = worst <= TOLERANCE
    print(f"values equal to {TOLERANCE:g}: {'yes' if equal else 'NO'} (max |diff| {worst:.1e})")

    print("\nms per image (best of the repeats)    wall-clock            process CPU time")
    print(
        f"{'':<16} {'segr1':>8} {'pysod':>8} {'speed-up':>9} {'segr1':>8} {'pysod':>8} {'speed-up':>9}"
    )
    for name, ours_t, ref_t in timing_rows(pairs, args.repeats):
        cells = []
        for i in (0, 1):  # wall, cpu
            a, b = 1e3 * ours_t[i] / len(pairs), 1e3 * ref_t[i] / len(pairs)
            cells.append(f"{a:>8.2f} {b:>8.2f} {b / a:>8.2f}x")
        print(f"{name:<16} {cells[0]} {cells[1]}")
    print(f"load average {os.getloadavg()[0]:.2f} at end (other processes share the CPU)")
    return 0 if equal else 1


if __name__ == "__main__":
    sys.exit(main())
