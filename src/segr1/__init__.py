"""Seg-R1: a vision-language model writes box and point prompts as text, a frozen promptable
segmenter turns them into a mask, and GRPO trains the model from the mask's quality alone.

Importing ``segr1`` is cheap: heavy pieces (torch, transformers) load on first use.
"""

from __future__ import annotations

from typing import Any

from segr1.protocol.parse import Answer, parse_answer

__version__ = "0.1.0"
__all__ = ["Answer", "Pipeline", "__version__", "parse_answer"]


def __getattr__(name: str) -> Any:
    if name == "Pipeline":
        from segr1.inference import Pipeline

        return Pipeline
    raise AttributeError(f"module 'segr1' has no attribute {name!r}")
