"""The language between policy and segmenter: prompt templates, answer parsing, geometry."""

from segr1.protocol.geometry import Prompts, answer_prompts
from segr1.protocol.parse import Answer, parse_answer
from segr1.protocol.templates import TASKS, Template

__all__ = ["TASKS", "Answer", "Prompts", "Template", "answer_prompts", "parse_answer"]
