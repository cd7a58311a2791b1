"""Every prompt string Seg-R1 speaks, per task and stage. Nowhere else holds prompt text.

The released strings are protocol constants of the released checkpoints
(``geshang/Seg-R1-3B/7B``): they are kept byte-exact, including the missing space before
"Where" in the system prompt, the trailing four spaces of the foreground evaluation text and the
leading space of a short ReasonSeg query. ``tests/test_protocol_templates.py`` pins each one
against a literal copy of the specification.

Which text a :class:`Template` sends:

==========  ========================================  =======================================
task        stage "train"                             stage "eval"
==========  ========================================  =======================================
foreground  released training text                    released evaluation text
prerl       released pre-RL text (no system prompt)   the same
referring   OURS: released text + format instruction  released: ``"Identify and segment " + q``
reasoning   OURS: released text + format instruction  released: sentence / short-name forms
==========  ========================================  =======================================

The released code never trained on referring or reasoning data; the two "ours" rows are this
project's own training templates (:attr:`Template.source` says ``"segr1"``) and are never used
to evaluate a checkpoint. ``Template(..., abstain=True)`` is also ours: the system prompt gains
:data:`ABSTAIN_SENTENCE`, which teaches the "no target" answer (``<bbox>none</bbox>``); the
released strings never mention it. :data:`REFINE_TEXT` is ours too: the user text of a
refinement turn (:mod:`segr1.episode`), sent after the policy's answer together with the image
showing what the segmenter made of it. A :class:`Template` turns a task (and, for referring / reasoning, a
query) into chat messages in the Hugging Face format Qwen-VL processors accept::

    [{"role": "system", "content": [{"type": "text", "text": ...}]},
     {"role": "user", "content": [{"type": "image"}, {"type": "text", "text": ...}]}]
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Task = Literal["foreground", "prerl", "referring", "reasoning"]
Stage = Literal["train", "eval"]
TASKS: tuple[str, ...] = ("foreground", "prerl", "referring", "reasoning")
STAGES: tuple[str, ...] = ("train", "eval")

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

#: System prompt of the released RL training (verbatim).
SYSTEM_PROMPT_TRAIN = (
    _SYSTEM_HEAD + "<points>[[x1,y1],[x2,y2],...]</points>, " + _SYSTEM_LABELS + _MODERATE
)
#: System prompt of the released evaluation: no "moderate" sentence, points as x3/x4.
SYSTEM_PROMPT_EVAL = _SYSTEM_HEAD + "<points>[[x3,y3],[x4,y4],...]</points>, " + _SYSTEM_LABELS

#: The output-format instruction of the released foreground texts.
FORMAT_INSTRUCTION = (
    "Output the result using the exact format:\n"
    "<think> reasoning process here </think> <bbox>[x1,y1,x2,y2]</bbox>, "
    "<points>[[x3,y3],[x4,y4],...]</points>, <labels>[1,0,...]</labels>"
)

#: Released foreground user text, RL training.
FOREGROUND_TRAIN_TEXT = (
    "\nIdentify and segment all the primary objects in the image.\n\n" + FORMAT_INSTRUCTION + "\n"
)
#: Released foreground user text, evaluation: the training text ending in newline + 4 spaces.
FOREGROUND_EVAL_TEXT = FOREGROUND_TRAIN_TEXT + "    "

#: Released pre-RL user text (points only; sent WITHOUT a system prompt).
PRERL_TEXT = (
    "\nYou are given an image. Your task is to generate a sparse set of point prompts to help "
    "segment the most salient object in the image.\n\n"
    "The points should be informative: include both foreground points (on the object) and "
    "background points (off the object) to help define the object boundary.\n\n"
    "Only generate a moderate number of points, enough to clearly outline the object without "
    "overloading the system.\n\n"
    "Output the result using the exact format:\n"
    "<points>[[x1,y1],[x2,y2],...]</points> <labels>[1,0,...]</labels>\n"
    "Where 1 indicates a foreground (object) point, and 0 indicates a background point.\n\n"
)


#: Our own addition to the system prompt when abstention is taught (never a released string).
ABSTAIN_SENTENCE = (
    " If the image holds no such object, answer <think> reasoning process here </think> "
    "<bbox>none</bbox> instead."
)


#: Our own refinement instruction (never a released string): the user text of every turn after
#: the first, sent with one image, the policy's previous answer drawn on the image it saw.
REFINE_TEXT = (
    "\nThe image shows the mask your prompts produced: the mask is tinted blue, your boxes are "
    "yellow, object points green and background points red. If the mask misses part of the "
    "object or covers background, answer again in the same format with corrected prompts. If "
    "it is right, repeat your previous answer unchanged to keep it.\n"
)


def refine_messages(previous_answer: str) -> list[dict]:
    """The messages a refinement turn appends: the policy's previous answer (assistant) and our
    refinement request (user: one image placeholder, then :data:`REFINE_TEXT`)."""
    return [
        {"role": "assistant", "content": [{"type": "text", "text": previous_answer}]},
        {"role": "user", "content": [{"type": "image"}, {"type": "text", "text": REFINE_TEXT}]},
    ]


def referring_eval_text(expression: str) -> str:
    """Released RefCOCO-family evaluation text: the expression as given, nothing appended."""
    return "Identify and segment " + expression


def reasoning_eval_text(query: str, is_sentence: bool) -> str:
    """Released ReasonSeg evaluation text: a sentence query, or a short name (lower-cased)."""
    if is_sentence:
        return f"{query} Identify and segment it."
    return f" Identify and segment {query.lower()}."


def with_format_instruction(question: str) -> str:
    """OUR training text for a referring / reasoning question: the released question, then the
    format instruction, laid out as the released foreground training text is."""
    return f"\n{question.strip()}\n\n{FORMAT_INSTRUCTION}\n"


@dataclass(frozen=True)
class Template:
    """How a task is asked at a stage ("train" or "eval"); see the module table."""

    task: Task = "foreground"
    stage: Stage = "train"
    abstain: bool = False  # teach the "no target" answer (ours; see the module docstring)

    def __post_init__(self) -> None:
        if self.task not in TASKS:
            raise ValueError(f"unknown task {self.task!r}; choose one of {', '.join(TASKS)}")
        if self.stage not in STAGES:
            raise ValueError(f"unknown stage {self.stage!r}; choose 'train' or 'eval'")
        if self.abstain and self.task == "prerl":
            raise ValueError("the points-only pre-RL stage has no 'no target' answer")

    @property
    def system(self) -> str | None:
        if self.task == "prerl":
            return None
        base = SYSTEM_PROMPT_TRAIN if self.stage == "train" else SYSTEM_PROMPT_EVAL
        return base + ABSTAIN_SENTENCE if self.abstain else base

    @property
    def needs_box(self) -> bool:
        """Whether the answer format asks for boxes and a think part (False for pre-RL)."""
        return self.task != "prerl"

    @property
    def source(self) -> str:
        """``"released"`` for the released strings, ``"segr1"`` for our own training texts."""
        ours = self.abstain or (self.stage == "train" and self.task in ("referring", "reasoning"))
        return "segr1" if ours else "released"

    @property
    def name(self) -> str:
        """``source/stage/task``, e.g. ``released/eval/referring`` (``+abstain`` when taught)."""
        return f"{self.source}/{self.stage}/{self.task}" + ("+abstain" if self.abstain else "")

    def user_text(self, query: str | None = None, is_sentence: bool = True) -> str:
        if self.task == "foreground":
            return FOREGROUND_TRAIN_TEXT if self.stage == "train" else FOREGROUND_EVAL_TEXT
        if self.task == "prerl":
            return PRERL_TEXT
        if not query:
            raise ValueError(f"task {self.task!r} needs a query (the expression or question)")
        if self.task == "referring":
            text = referring_eval_text(query)
        else:
            text = reasoning_eval_text(query, is_sentence)
        return with_format_instruction(text) if self.stage == "train" else text

    def messages(self, query: str | None = None, is_sentence: bool = True) -> list[dict]:
        """Chat messages with one image placeholder, ready for ``apply_chat_template``."""
        msgs: list[dict] = []
        if self.system is not None:
            msgs.append({"role": "system", "content": [{"type": "text", "text": self.system}]})
        user = [{"type": "image"}, {"type": "text", "text": self.user_text(query, is_sentence)}]
        msgs.append({"role": "user", "content": user})
        return msgs
