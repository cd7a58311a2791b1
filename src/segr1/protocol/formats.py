"""Answer formats as plug-ins: how a task is asked, and how the answer is read and written.

An :class:`AnswerFormat` owns its prompt texts (:meth:`messages`), its parser (:meth:`parse`,
text -> :class:`Answer`), its writer (:meth:`format_answer`, with ``parse(format_answer(a)) ==
a`` for every answer it can express, tested as a property), the per-object view the object
rewards read (:meth:`objects`), its own format check (:meth:`format_ok`) and the reward names it
trains with by default (:attr:`native_rewards`). Whatever the format, an :class:`Answer` holds
boxes and points in the format's S x S frame, so masks come from the one
:func:`segr1.segment.answers.segment_answers` path and the mask reward works with any format.

Formats by name (:data:`FORMATS`, :func:`get_format`):

* ``seg-r1`` (:class:`SegR1Format`): the released Seg-R1 tags (:mod:`segr1.protocol.templates`,
  :mod:`segr1.protocol.parse`);
* ``seg-zero`` (:mod:`segr1.protocol.seg_zero`): one object, a box and two points, in JSON;
* ``vision-reasoner`` (:mod:`segr1.protocol.vision_reasoner`): a JSON list of objects.

Adding a format: one new module with an :class:`AnswerFormat` subclass, plus one line in
:data:`FORMATS`. The JSON formats share :class:`JsonAnswerFormat` (tags found with
``str.find``, bodies read by ``json.loads`` after a linear quote normalisation: never evaluated,
linear time). "No target" (our extension, taught only by our own templates): every format has an
abstention answer a released checkpoint's normal answers never take (Seg-R1:
``<bbox>none</bbox>``; the JSON formats: ``<answer>none</answer>``).
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar

from segr1.protocol.parse import (
    DEFAULT_RULES,
    MAX_BOXES,
    Answer,
    Number,
    ParseRules,
    format_answer,
    is_coordinate,
    parse_answer,
    reject_constant,
    think_text,
)
from segr1.protocol.templates import Template

ABSTAIN_ANSWER = "none"  # the JSON formats' "no target" answer body
MAX_JSON_CHARS = 1 << 16  # answer bodies longer than this are not read (no real answer is)


@dataclass(frozen=True)
class Obj:
    """One object as an answer states it (model frame): its box and its point, None where
    missing or malformed."""

    box: list[Number] | None
    point: list[Number] | None


class AnswerFormat(ABC):
    """The small interface every answer format implements (see the module docstring)."""

    name: ClassVar[str]
    side: ClassVar[int | None] = None  # the format's own S (None: the task's default)
    max_new_tokens: ClassVar[int | None] = None  # its released budget (None: the profile's)
    native_rewards: ClassVar[tuple[str, ...]]  # reward names it trains with by default

    @abstractmethod
    def messages(
        self,
        task: str,
        stage: str = "eval",
        query: str | None = None,
        is_sentence: bool = True,
        abstain: bool = False,
    ) -> list[dict]:
        """Chat messages with one image placeholder (Hugging Face format)."""

    @abstractmethod
    def template_name(self, task: str, stage: str = "eval", abstain: bool = False) -> str:
        """``source/stage/task`` of the text :meth:`messages` sends (``released`` or ``segr1``)."""

    @abstractmethod
    def parse(self, text: str, rules: ParseRules = DEFAULT_RULES) -> Answer:
        """Completion text -> :class:`Answer`. Never raises on a ``str``; linear time."""

    @abstractmethod
    def format_answer(self, answer: Answer) -> str:
        """:class:`Answer` -> completion text in this format."""

    @abstractmethod
    def representable(self, answer: Answer) -> bool:
        """Whether :meth:`format_answer` can write ``answer`` without losing anything."""

    @abstractmethod
    def objects(self, text: str) -> list[Obj]:
        """The answer's objects as stated (for the object rewards); [] when none parse."""

    @abstractmethod
    def format_ok(self, text: str) -> bool:
        """The format's own format check (its format reward's condition)."""


class SegR1Format(AnswerFormat):
    """The released Seg-R1 tags: ``<think>..</think> <bbox>[..]</bbox>, <points>[[..]]</points>,
    <labels>[..]</labels>``; all boxes, the first points and labels."""

    name = "seg-r1"
    native_rewards = ("format", "segmentation")

    def messages(self, task, stage="eval", query=None, is_sentence=True, abstain=False):
        return Template(task, stage, abstain).messages(query, is_sentence)

    def template_name(self, task, stage="eval", abstain=False):
        return Template(task, stage, abstain).name

    def parse(self, text, rules=DEFAULT_RULES):
        return parse_answer(text, rules)

    def format_answer(self, answer):
        return format_answer(answer)

    def representable(self, answer):
        return not answer.abstain or not (answer.boxes or answer.points)

    def objects(self, text):
        """Each box with the first object point (label 1) inside it."""
        answer = self.parse(text)
        objs = []
        for box in answer.boxes[: MAX_BOXES + 1]:
            x1, y1, x2, y2 = box
            inside = [
                p
                for p, label in zip(answer.points, answer.labels, strict=True)
                if label == 1
                and min(x1, x2) <= p[0] <= max(x1, x2)
                and min(y1, y2) <= p[1] <= max(y1, y2)
            ]
            objs.append(Obj(list(box), list(inside[0]) if inside else None))
        return objs

    def format_ok(self, text):
        answer = self.parse(text)
        return answer.format_ok or (answer.abstain and answer.has_think)


def thinking_format(text: str) -> bool:
    """The JSON formats' thinking format: the whole text is ``<think>..</think>``, optional
    white space, ``<answer>..</answer>`` (the regex ``<think>.*?</think>\\s*<answer>.*?</answer>``
    fully matched, decided in linear time with ``str.find``)."""
    if not (text.startswith("<think>") and text.endswith("</answer>")):
        return False
    last = len(text) - len("</answer>")
    i = text.find("</think>", len("<think>"))
    while i >= 0:
        j = i + len("</think>")
        while j < len(text) and text[j] in " \t\r\n\f\v":
            j += 1
        if text.startswith("<answer>", j) and j + len("<answer>") <= last:
            return True
        i = text.find("</think>", i + 1)
    return False


def answer_body(text: str) -> str | None:
    """The body of the first ``<answer>...</answer>`` pair, or None."""
    start = text.find("<answer>")
    if start < 0:
        return None
    end = text.find("</answer>", start + len("<answer>"))
    return None if end < 0 else text[start + len("<answer>") : end]


def read_json(body: str) -> Any:
    """A JSON-like answer body (single quotes allowed, as the formats' examples write them):
    the value, or None when unreadable. Never evaluates the text."""
    if len(body) > MAX_JSON_CHARS:
        return None
    text = body.strip()
    if '"' not in text:
        text = text.replace("'", '"')
    try:
        return json.loads(text, parse_constant=reject_constant)
    except (ValueError, RecursionError):
        return None


def as_box(value: Any) -> list[Number] | None:
    ok = isinstance(value, list) and len(value) == 4 and all(map(is_coordinate, value))
    return list(value) if ok else None


def as_point(value: Any) -> list[Number] | None:
    ok = isinstance(value, list) and len(value) == 2 and all(map(is_coordinate, value))
    return list(value) if ok else None


def json_text(value: Any) -> str:
    """Compact JSON of an answer value, as the formats' examples lay it out."""
    return json.dumps(value, separators=(", ", ": "))


class JsonAnswerFormat(AnswerFormat):
    """Shared by the Seg-Zero and VisionReasoner formats: ``<think>..</think> <answer>JSON
    </answer>``, no system prompt, the question put into a fixed template with an example
    answer. Subclasses give :attr:`template`, :attr:`example`, :meth:`query` and the JSON <->
    objects mapping (:meth:`json_objects`, :meth:`objects_json`)."""

    side = 840
    max_new_tokens = 1024
    native_rewards = ("thinking_format", "segmentation_format", "accuracy", "non_repetition")
    template: ClassVar[str]
    example: ClassVar[str]
    #: Foreground images have no query: this question is asked (ours, not a released text).
    foreground_question: ClassVar[str] = "all the primary objects in the image"
    abstain_sentence: ClassVar[str] = (
        "If there is no such object in the image, answer <answer>none</answer>."
    )

    @staticmethod
    @abstractmethod
    def query(text: str) -> str:
        """The released normalisation of a question before it enters the template."""

    @abstractmethod
    def json_prompts(self, value: Any) -> tuple[list, list, bool] | None:
        """Parsed JSON -> ``(boxes, points, complete)`` (None when it is not this format's
        shape); ``complete``: every point the format asks for is well formed."""

    @abstractmethod
    def json_objects(self, value: Any) -> list[Obj] | None:
        """Parsed JSON -> objects (None when the JSON is not this format's shape)."""

    @abstractmethod
    def objects_json(self, answer: Answer) -> Any:
        """:class:`Answer` -> the JSON value :meth:`format_answer` writes."""

    def question(self, task: str, query: str | None) -> str:
        if task == "prerl":
            raise ValueError(f"the {self.name} format has no points-only pre-RL task")
        if task in ("referring", "reasoning") and not query:
            raise ValueError(f"task {task!r} needs a query (the expression or question)")
        return self.query(query) if query else self.foreground_question

    def messages(self, task, stage="eval", query=None, is_sentence=True, abstain=False):
        text = self.template.format(Question=self.question(task, query), Answer=self.example)
        if abstain:
            text += self.abstain_sentence
        return [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": text}]}]

    def template_name(self, task, stage="eval", abstain=False):
        if task not in ("foreground", "referring", "reasoning"):
            raise ValueError(f"the {self.name} format has no task {task!r}")
        ours = abstain or (task == "foreground")
        suffix = "+abstain" if abstain else ""
        return f"{'segr1' if ours else 'released'}/{self.name}/{task}{suffix}"

    def parse(self, text, rules=DEFAULT_RULES):
        think = think_text(text)
        body = answer_body(text)
        if body is None:
            return Answer(think=think)
        if rules.abstention and body.strip().lower() == ABSTAIN_ANSWER:
            return Answer(think=think, abstain=True)
        read = self.json_prompts(read_json(body))
        if read is None:
            return Answer(think=think)
        boxes, points, complete = read
        return Answer(boxes, points, [1] * len(points), think, points_parsed=complete)

    def format_answer(self, answer):
        think = "" if answer.think is None else f"<think>{answer.think}</think> "
        body = ABSTAIN_ANSWER if answer.abstain else json_text(self.objects_json(answer))
        return f"{think}<answer>{body}</answer>"

    def objects(self, text):
        body = answer_body(text)
        found = None if body is None else self.json_objects(read_json(body))
        return found or []

    def format_ok(self, text):
        return thinking_format(text)


def _formats() -> dict[str, AnswerFormat]:
    from segr1.protocol.seg_zero import SegZeroFormat
    from segr1.protocol.vision_reasoner import VisionReasonerFormat

    return {f.name: f for f in (SegR1Format(), SegZeroFormat(), VisionReasonerFormat())}


def format_names() -> tuple[str, ...]:
    return tuple(_formats())


def get_format(name: str | AnswerFormat) -> AnswerFormat:
    """A format by name (``seg-r1`` | ``seg-zero`` | ``vision-reasoner``), or the one given."""
    if isinstance(name, AnswerFormat):
        return name
    formats = _formats()
    if name not in formats:
        raise ValueError(f"unknown answer format {name!r}; choose one of {', '.join(formats)}")
    return formats[name]


@dataclass(frozen=True)
class FormatTemplate:
    """How one task is asked in one format at one stage: what :class:`segr1.Pipeline` and the
    training set hold (``name``, ``messages``, ``user_text``, ``needs_box``)."""

    format: AnswerFormat
    task: str
    stage: str = "eval"
    abstain: bool = False

    def __post_init__(self) -> None:
        self.format.template_name(self.task, self.stage, self.abstain)  # checks task and stage

    @property
    def name(self) -> str:
        return self.format.template_name(self.task, self.stage, self.abstain)

    @property
    def needs_box(self) -> bool:
        """Whether answers are boxes with points (False for the points-only pre-RL task)."""
        return self.task != "prerl"

    def messages(self, query: str | None = None, is_sentence: bool = True) -> list[dict]:
        return self.format.messages(self.task, self.stage, query, is_sentence, self.abstain)

    def user_text(self, query: str | None = None, is_sentence: bool = True) -> str:
        """The user turn's text (raises when the task needs a query and has none)."""
        return self.messages(query, is_sentence)[-1]["content"][-1]["text"]


def template_for(
    answer_format: str | AnswerFormat, task: str, stage: str = "eval", abstain: bool = False
) -> FormatTemplate:
    """The :class:`FormatTemplate` of a format (by name) for a task, stage and abstention."""
    return FormatTemplate(get_format(answer_format), task, stage, abstain)
