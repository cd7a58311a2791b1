"""Frozen promptable segmenters behind one small protocol (see :mod:`segr1.segment.base`).

Light to import: transformers, torch and the official ``sam2`` package load only when a SAM2 or
SAM 3 segmenter is built.
"""

from segr1.segment.base import Call, Embedding, Segmenter, image_key, plan_calls
from segr1.segment.cache import CacheStats, EmbeddingCache
from segr1.segment.factory import NAMES, build_segmenter
from segr1.segment.grabcut import GrabCutSegmenter
from segr1.segment.sam2 import Sam2Segmenter, hiera_tiny_config, tiny_sam2_config
from segr1.segment.sam2_official import Sam2OfficialSegmenter
from segr1.segment.sam3 import Sam3Segmenter, tiny_sam3_config

__all__ = [
    "NAMES",
    "CacheStats",
    "Call",
    "Embedding",
    "EmbeddingCache",
    "GrabCutSegmenter",
    "Sam2OfficialSegmenter",
    "Sam2Segmenter",
    "Sam3Segmenter",
    "Segmenter",
    "build_segmenter",
    "hiera_tiny_config",
    "image_key",
    "plan_calls",
    "tiny_sam2_config",
    "tiny_sam3_config",
]
