"""Every prompt string Seg-R1 speaks, per task and answer format. Nowhere else holds prompt text.

The strings are protocol constants of the released checkpoints (``geshang/Seg-R1-3B/7B``):
keep them byte-exact, including the missing space before "Where" in the system prompt.

A :class:`Template` turns a task (and, for referring / reasoning tasks, a query) into chat
messages in the Hugging Face format that Qwen-VL processors accept::

    [{"role": "system", "content": [{"type": "text", "text": ...}]},
     {"role": "user", "content": [{"type": "image"}, {"type": "text", "text": ...}]}]
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Task = Literal["foreground", "prerl", "referring", "reasoning"]
TASKS: tuple[str, ...] = ("foreground", "prerl", "referring", "reasoning")

_SYSTEM_HEAD = (
    "A conversation between User and Assistant. The user asks a question, and the Assistant "
    "solves it. The assistant first thinks about the reasoning process in the mind and then "
    "provides the user with the answer. The reasoning process should enclosed within "
    "<think> </think> tags, and the bounding box, points and points labels should be enclosed "
    "within <bbox></bbox>, <points></points>, and <labels></labels>, respectively. i.e., "
    "<think> reasoning process here </think> <bbox>[x1,y1,x2,y2]</bbox>, "
)
_SYSTEM_LABELS = (
    "<labels>[1,0,...]</labels>Where 1 indicates a foreground (object) point, and 0 indicates "
    "a background point."
)
_MODERATE = (
    " Only generate a moderate number of points, enough to clearly outline the object without "
    "overloading the system."
)

#: System prompt used in RL training (verbatim).
SYSTEM_PROMPT_TRAIN = (
    _SYSTEM_HEAD + "<points>[[x1,y1],[x2,y2],...]</points>, " + _SYSTEM_LABELS + _MODERATE
)
#: System prompt of the released evaluation code: no "moderate" sentence, points as x3/x4.
SYSTEM_PROMPT_EVAL = _SYSTEM_HEAD + "<points>[[x3,y3],[x4,y4],...]</points>, " + _SYSTEM_LABELS

#: The output-format instruction appended to every box+points task.
FORMAT_INSTRUCTION = (
    "Output the result using the exact format:\n"
    "<think> reasoning process here </think> <bbox>[x1,y1,x2,y2]</bbox>, "
    "<points>[[x3,y3],[x4,y4],...]</points>, <labels>[1,0,...]</labels>"
)

FOREGROUND_QUESTION = "Identify and segment all the primary objects in the image."

PRERL_QUESTION = (
    "Give a sparse set of foreground and background point prompts that segment the most "
    "salient object in the image. Output the result using the exact format:\n"
    "<points>[[x1,y1],[x2,y2],...]</points> <labels>[1,0,...]</labels>"
)


def foreground_text() -> str:
    """User text for camouflaged / salient object segmentation (leading + trailing newline)."""
    return f"\n{FOREGROUND_QUESTION}\n\n{FORMAT_INSTRUCTION}\n"


def referring_text(expression: str) -> str:
    """User text for RefCOCO-style referring expressions."""
    return f"\nIdentify and segment {expression}\n\n{FORMAT_INSTRUCTION}\n"


def reasoning_text(query: str, is_sentence: bool = True) -> str:
    """User text for ReasonSeg: a sentence query, or a short noun phrase."""
    body = f"{query} Identify and segment it." if is_sentence else f" Identify and segment {query}."
    return f"\n{body}\n\n{FORMAT_INSTRUCTION}\n"


@dataclass(frozen=True)
class Template:
    """How a task is asked. ``stage`` picks the system prompt: "train" or "eval"."""

    task: Task = "foreground"
    stage: Literal["train", "eval"] = "train"

    def __post_init__(self) -> None:
        if self.task not in TASKS:
            raise ValueError(f"unknown task {self.task!r}; choose one of {', '.join(TASKS)}")
        if self.stage not in ("train", "eval"):
            raise ValueError(f"unknown stage {self.stage!r}; choose 'train' or 'eval'")

    @property
    def system(self) -> str | None:
        if self.task == "prerl":
            return None
        return SYSTEM_PROMPT_TRAIN if self.stage == "train" else SYSTEM_PROMPT_EVAL

    @property
    def needs_box(self) -> bool:
        """Whether the answer format asks for boxes and a think part (False for pre-RL)."""
        return self.task != "prerl"

    def user_text(self, query: str | None = None, is_sentence: bool = True) -> str:
        if self.task == "foreground":
            return foreground_text()
        if self.task == "prerl":
            return PRERL_QUESTION
        if not query:
            raise ValueError(f"task {self.task!r} needs a query (the expression or question)")
        if self.task == "referring":
            return referring_text(query)
        return reasoning_text(query, is_sentence)

    def messages(self, query: str | None = None, is_sentence: bool = True) -> list[dict]:
        """Chat messages with one image placeholder, ready for ``apply_chat_template``."""
        msgs: list[dict] = []
        if self.system is not None:
            msgs.append({"role": "system", "content": [{"type": "text", "text": self.system}]})
        user = [{"type": "image"}, {"type": "text", "text": self.user_text(query, is_sentence)}]
        msgs.append({"role": "user", "content": user})
        return msgs
