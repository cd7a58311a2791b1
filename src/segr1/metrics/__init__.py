"""Segmentation metrics: pure per-image functions plus accumulators (``step`` / ``results`` /
``reset``). Foreground metrics reproduce PySODMetrics 1.6.2; training rewards and evaluation
call the same functions, so they cannot drift apart.

Per-image functions take a prepared pair (``pred`` float64 in [0, 1] or bool, ``gt`` bool);
:func:`prepare` converts saved uint8 0..255 masks exactly as PySODMetrics does. Accumulators
take the saved uint8 masks directly.

* ``convert``      prepare(), EPS, the gt threshold
* ``overlap``      iou(), dice(), overlap_counts() on bool masks (optional ignore mask)
* ``structure``    s_measure()
* ``weighted_f``   weighted_f_measure()
* ``thresholds``   E-measure, F-measure (256 thresholds and adaptive), MAE
* ``prepared``     PreparedPair: a saved pair and its one-pass level histogram
* ``accumulators`` ForegroundMetrics and one accumulator per metric
* ``referring``    ReferringMetrics (cIoU / gIoU)
"""

from .accumulators import (
    FOREGROUND_KEYS,
    MAE,
    BinaryOverlap,
    EMeasure,
    FMeasure,
    ForegroundMetrics,
    SMeasure,
    WeightedFMeasure,
    foreground_scores,
    pair_scores,
)
from .convert import (
    ADAPTIVE_FACTOR,
    BINARY_THRESHOLD,
    EPS,
    F_BETA2,
    GT_THRESHOLD,
    N_THRESHOLDS,
    PYSODMETRICS_VERSION,
    S_ALPHA,
    WF_BETA,
    prepare,
)
from .overlap import dice, iou, overlap_counts
from .prepared import PreparedPair
from .referring import ReferringMetrics
from .structure import s_measure
from .thresholds import (
    ThresholdCounts,
    adaptive_counts,
    e_measure,
    f_measure,
    mae,
    precision_recall,
    threshold_counts,
)
from .weighted_f import weighted_f_measure

__all__ = [
    "ADAPTIVE_FACTOR",
    "BINARY_THRESHOLD",
    "EPS",
    "FOREGROUND_KEYS",
    "F_BETA2",
    "GT_THRESHOLD",
    "MAE",
    "N_THRESHOLDS",
    "PYSODMETRICS_VERSION",
    "S_ALPHA",
    "WF_BETA",
    "BinaryOverlap",
    "EMeasure",
    "FMeasure",
    "ForegroundMetrics",
    "PreparedPair",
    "ReferringMetrics",
    "SMeasure",
    "ThresholdCounts",
    "WeightedFMeasure",
    "adaptive_counts",
    "dice",
    "e_measure",
    "f_measure",
    "foreground_scores",
    "iou",
    "mae",
    "overlap_counts",
    "pair_scores",
    "precision_recall",
    "prepare",
    "s_measure",
    "threshold_counts",
    "weighted_f_measure",
]
