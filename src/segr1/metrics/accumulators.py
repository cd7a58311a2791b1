"""Dataset-level foreground metrics: ``step(pred, gt)`` per image, ``results()``, ``reset()``.

Contract: ``step`` takes one saved prediction and its ground truth ((H, W) uint8 0..255, or
bool), converts them as PySODMetrics does (:func:`segr1.metrics.prepare`), and returns that
image's scores; ``results()`` returns the split's scores as plain floats plus ``"count"``, equal
to PySODMetrics 1.6.2's ``get_results()`` (its default settings); ``reset()`` forgets every
image. The only state is the list of per-image scores and the running sum of the 256-point
E/F curves: nothing is remembered between calls beyond what ``results()`` reports.

Dataset values: scalars are means over images; ``meanEm``/``maxEm`` (and F) are the mean / max
of the per-threshold average curve, as the COD/SOD literature reports them. IoU and Dice binarise
the normalised prediction at ``> 0.5`` (PySODMetrics' binary handlers) and score 0 when both
masks are empty.
"""

from __future__ import annotations

import numpy as np

from .convert import F_BETA2, S_ALPHA, WF_BETA
from .prepared import PreparedPair
from .thresholds import ThresholdCounts, e_measure, f_measure, precision_recall
from .weighted_f import weighted_f_measure

FOREGROUND_KEYS = (
    "Sm",
    "wFm",
    "MAE",
    "adpEm",
    "meanEm",
    "maxEm",
    "adpFm",
    "meanFm",
    "maxFm",
    "IoU",
    "Dice",
)

Scores = tuple[dict[str, float], dict[str, np.ndarray]]  # per-image scalars, (256,) curves
#: Curves summarised as mean / max (``meanEm``, ``maxFm``, ...); the others (precision and
#: recall, for PR curves) are only averaged into :meth:`_Accumulator.curves`.
SUMMARISED_CURVES = ("Em", "Fm")


def foreground_scores(pred: np.ndarray, gt: np.ndarray) -> Scores:
    """Every foreground metric of one saved pair (uint8 0..255 or bool); curves Em and Fm."""
    return pair_scores(PreparedPair(pred, gt))


def pair_scores(pair: PreparedPair) -> Scores:
    """Every foreground metric of a :class:`PreparedPair`."""
    counts, adaptive = pair.threshold_counts(), pair.adaptive_counts()
    scalars = {
        "Sm": pair.s_measure(),
        "wFm": weighted_f_measure(pair.pred, pair.gt),
        "MAE": pair.mae(),
        "adpEm": float(e_measure(adaptive)),
        "adpFm": float(f_measure(adaptive)),
        **overlap_scores(pair.binary_counts()),
    }
    return scalars, {"Em": e_measure(counts), "Fm": f_measure(counts)}


def overlap_scores(counts: ThresholdCounts) -> dict[str, float]:
    """IoU and Dice of one binary prediction's counts; 0.0 when both masks are empty."""
    tp, fp = int(counts.tp), int(counts.fp)
    fn = counts.n_fg - tp
    union = tp + fp + fn
    return {"IoU": tp / union if union else 0.0, "Dice": 2 * tp / (union + tp) if union else 0.0}


class _Accumulator:
    """Mean of per-image scalars; per-threshold mean of per-image curves."""

    def __init__(self) -> None:
        self.reset()

    def _measure(self, pair: PreparedPair) -> Scores:
        raise NotImplementedError

    def reset(self) -> None:
        """Forget every image."""
        self._values: dict[str, list[float]] = {}
        self._curve_sums: dict[str, np.ndarray] = {}
        self.count = 0

    def step(self, pred: np.ndarray, gt: np.ndarray) -> dict[str, float]:
        """Score one image (uint8 0..255 or bool, (H, W) each); return its scores."""
        scalars, curves = self._measure(PreparedPair(pred, gt))
        for key, value in scalars.items():
            self._values.setdefault(key, []).append(value)
        per_image = dict(scalars)
        for key, curve in curves.items():
            self._curve_sums[key] = self._curve_sums.get(key, 0) + curve
            if key in SUMMARISED_CURVES:
                per_image[f"mean{key}"] = float(curve.mean())
                per_image[f"max{key}"] = float(curve.max())
        self.count += 1
        return per_image

    def curves(self) -> dict[str, np.ndarray]:
        """Average ``(256,)`` curves (PySODMetrics' order: index i is threshold 255 - i)."""
        self._require_samples()
        return {key: total / self.count for key, total in self._curve_sums.items()}

    def results(self) -> dict[str, float]:
        """Split-level scores (plain floats) and ``"count"``."""
        self._require_samples()
        out = {k: float(np.mean(np.array(v, dtype=np.float64))) for k, v in self._values.items()}
        for key, curve in self.curves().items():
            if key in SUMMARISED_CURVES:
                out[f"mean{key}"], out[f"max{key}"] = float(curve.mean()), float(curve.max())
        ordered = {k: out[k] for k in FOREGROUND_KEYS if k in out}
        return {**ordered, "count": self.count}

    def _require_samples(self) -> None:
        if not self.count:
            raise ValueError(f"{type(self).__name__} has no images: call step() before results()")


class ForegroundMetrics(_Accumulator):
    """All COD/SOD metrics at once: Sm, wFm, MAE, E and F (adp/mean/max), IoU, Dice; its
    :meth:`curves` also hold the mean ``"Precision"`` and ``"Recall"`` per threshold (the PR
    curve, averaged over images as PySODMetrics' ``Fmeasure`` does)."""

    def _measure(self, pair: PreparedPair) -> Scores:
        scalars, curves = pair_scores(pair)
        precision, recall = precision_recall(pair.threshold_counts())
        return scalars, {**curves, "Precision": precision, "Recall": recall}


class SMeasure(_Accumulator):
    """S-measure (``"Sm"``) with weight ``alpha`` on the object score."""

    def __init__(self, alpha: float = S_ALPHA) -> None:
        self.alpha = alpha
        super().__init__()

    def _measure(self, pair: PreparedPair) -> Scores:
        return {"Sm": pair.s_measure(self.alpha)}, {}


class WeightedFMeasure(_Accumulator):
    """Weighted F-measure (``"wFm"``)."""

    def __init__(self, beta: float = WF_BETA) -> None:
        self.beta = beta
        super().__init__()

    def _measure(self, pair: PreparedPair) -> Scores:
        return {"wFm": weighted_f_measure(pair.pred, pair.gt, self.beta)}, {}


class MAE(_Accumulator):
    """Mean absolute error (``"MAE"``)."""

    def _measure(self, pair: PreparedPair) -> Scores:
        return {"MAE": pair.mae()}, {}


class EMeasure(_Accumulator):
    """E-measure: ``"adpEm"``, ``"meanEm"``, ``"maxEm"``."""

    def _measure(self, pair: PreparedPair) -> Scores:
        adaptive = float(e_measure(pair.adaptive_counts()))
        return {"adpEm": adaptive}, {"Em": e_measure(pair.threshold_counts())}


class FMeasure(_Accumulator):
    """F-measure with ``beta2`` (beta squared): ``"adpFm"``, ``"meanFm"``, ``"maxFm"``."""

    def __init__(self, beta2: float = F_BETA2) -> None:
        self.beta2 = beta2
        super().__init__()

    def _measure(self, pair: PreparedPair) -> Scores:
        adaptive = float(f_measure(pair.adaptive_counts(), self.beta2))
        return {"adpFm": adaptive}, {"Fm": f_measure(pair.threshold_counts(), self.beta2)}


class BinaryOverlap(_Accumulator):
    """Mean per-image IoU and Dice (``"IoU"``, ``"Dice"``) of the normalised ``pred > 0.5``."""

    def _measure(self, pair: PreparedPair) -> Scores:
        return overlap_scores(pair.binary_counts()), {}
