"""The language between policy and segmenter: prompt templates, answer parsing, geometry."""

from segr1.protocol.geometry import Prompts, answer_prompts, scale_prompts
from segr1.protocol.parse import (
    DEFAULT_RULES,
    RELEASED_REASONSEG_RULES,
    RELEASED_RULES,
    Answer,
    ParseRules,
    format_answer,
    parse_answer,
)
from segr1.protocol.templates import TASKS, Template

__all__ = [
    "DEFAULT_RULES",
    "RELEASED_REASONSEG_RULES",
    "RELEASED_RULES",
    "TASKS",
    "Answer",
    "ParseRules",
    "Prompts",
    "Template",
    "answer_prompts",
    "format_answer",
    "parse_answer",
    "scale_prompts",
]
