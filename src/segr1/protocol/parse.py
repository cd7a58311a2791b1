"""Completion text <-> :class:`Answer` (boxes, points, labels, think). Pure Python: no torch,
no numpy. This module is the Seg-R1 answer format: it parses (:func:`parse_answer`), writes
(:func:`format_answer`) and decides what an answer is good for: :attr:`Answer.usable` (it can
prompt the segmenter: a box or a point; the ONE gate deciding which answers get a mask, in the
reward and in evaluation alike) and :meth:`Answer.rewardable` (the segmentation reward's stricter
requirement of SEG-R1.md section 4: parsed points, at least one, and a box for box tasks; a
usable answer outside it still gets its mask, but scores 0).

Contract of :func:`parse_answer`:

* never raises on any ``str`` and never evaluates model text as code;
* runs in time linear in the text length: tags are found with ``str.find``, never with a
  backtracking regular expression; a tag body is read by the C JSON reader after a linear
  normalisation (``(``/``)`` to brackets, trailing commas dropped), and only when that fails by a
  small recursive-descent reader with a fixed depth limit, which skips bodies longer than
  ``MAX_SLOW_CHARS`` (no real answer comes near it: completions are a few hundred tokens);
* follows the released Seg-R1 semantics: ALL ``<bbox>`` tags, the FIRST ``<points>`` and the
  FIRST ``<labels>``; points must be an N x 2 list and labels must have N entries (each 0 or 1),
  otherwise both are dropped; a box must have 4 numbers. One extension: a single ``<bbox>``
  holding a list of 4-number lists yields each of them as a box.

:class:`ParseRules` selects the released evaluation's stricter readings (``RELEASED_RULES``:
non-negative integers only, a tag holding anything else counts as absent;
``RELEASED_REASONSEG_RULES``: additionally only the FIRST ``<bbox>``, closing tag optional; the
released rules do not read a list of boxes inside one tag, nor an abstention).

"No target" (our extension, taught only by segr1's own templates): an answer whose first
``<bbox>`` holds ``none`` abstains (:attr:`Answer.abstain`): no mask, and in training full reward
on an empty ground truth, 0 where an object exists. A released checkpoint's answers never take
this form, and the released rules do not read it.

The literal grammar accepted inside a tag is Python/JSON list syntax restricted to numbers:
``[`` / ``(`` nesting, ``,`` separators (a trailing comma is allowed), and decimal numbers
with optional sign, fraction and exponent, finite and at most :data:`MAX_ABS` in magnitude (a
coordinate of a billion pixels is not an answer, and a 300-digit integer must not overflow a
float downstream). Anything else makes that tag unparseable.

Bounds: an answer with more than :data:`MAX_BOXES` boxes or :data:`MAX_POINTS` points is
``over_limit``: not usable (an empty mask, reward 0), and counted as such, so one hostile
completion costs a GRPO step or an evaluation a bounded number of segmenter calls.

``parse_answer(format_answer(a)) == a`` for every answer whose think text holds no tag (tested
as a property).
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from typing import Literal

Number = int | float

_MAX_DEPTH = 3  # a list of boxes is depth 2; nothing in the protocol is deeper
MAX_ABS = 1e6  # the largest coordinate magnitude read as a number
MAX_BOXES = 16  # more boxes than this: the answer is over_limit (released answers hold 1-2)
MAX_POINTS = 64  # more points than this: over_limit (released answers hold a handful)
_MAX_NUMBER_CHARS = 64
MAX_SLOW_CHARS = 1 << 16  # tag bodies the pure-Python reader will look at
_LITERAL_CHARS = frozenset("0123456789+-.eE[](), \t\r\n")
_PARENS = str.maketrans("()", "[]")
_TRAILING_COMMA = re.compile(r",[ \t\r\n]*\]")  # linear: a literal, a char class, a literal
_NUMBER_CHARS = frozenset("0123456789+-.eE")
_OPEN = {"[": "]", "(": ")"}


@dataclass(frozen=True)
class ParseRules:
    """How strictly a completion is read.

    ``boxes``: ``"all"`` (every ``<bbox>`` tag) or ``"first"`` (only the first, whose closing tag
    may be missing: its body runs to the first ``]``). ``integers_only``: every number must be a
    non-negative integer literal; a tag holding anything else counts as absent.
    """

    boxes: Literal["all", "first"] = "all"
    integers_only: bool = False
    box_lists: bool = True  # a single <bbox> holding a list of 4-number lists (our extension)
    abstention: bool = True  # <bbox>none</bbox> means "no target" (our extension)

    def __post_init__(self) -> None:
        if self.boxes not in ("all", "first"):
            raise ValueError(f"ParseRules.boxes={self.boxes!r}; choose 'all' or 'first'")


DEFAULT_RULES = ParseRules()
#: The released evaluation's parser for foreground and referring answers.
RELEASED_RULES = ParseRules(integers_only=True, box_lists=False, abstention=False)
#: The released ReasonSeg evaluation's parser: first box only, closing tag optional.
RELEASED_REASONSEG_RULES = ParseRules(
    boxes="first", integers_only=True, box_lists=False, abstention=False
)
#: The Seg-R1 format's "no target" answer (the first ``<bbox>`` holds ``none``).
ABSTAIN_BOX = "none"


@dataclass(frozen=True)
class Answer:
    """What a completion says, in the model's S x S frame.

    ``boxes``: list of ``[x1, y1, x2, y2]``; ``points``: list of ``[x, y]``; ``labels``: 0/1 per
    point (1 = object); ``think``: the text of the first ``<think>...</think>`` pair, or None
    when there is none. ``points_parsed`` is True when the first ``<points>`` and first
    ``<labels>`` both parsed with equal counts (possibly zero).
    """

    boxes: list[list[Number]] = field(default_factory=list)
    points: list[list[Number]] = field(default_factory=list)
    labels: list[int] = field(default_factory=list)
    think: str | None = None
    points_parsed: bool = False
    abstain: bool = False  # the answer says "no target" (and so prompts nothing)

    @property
    def has_think(self) -> bool:
        return self.think is not None

    @property
    def over_limit(self) -> bool:
        """More than :data:`MAX_BOXES` boxes or :data:`MAX_POINTS` points."""
        return len(self.boxes) > MAX_BOXES or len(self.points) > MAX_POINTS

    @property
    def usable(self) -> bool:
        """The one gate: can this answer prompt the segmenter? A box or a point (SEG-R1.md 3:
        a box alone, points alone, or both), within the limits, and not an abstention. An answer
        that fails it gets an empty mask, in training and evaluation alike, and is counted."""
        return (bool(self.boxes) or bool(self.points)) and not self.over_limit and not self.abstain

    def rewardable(self, needs_box: bool = True) -> bool:
        """The segmentation reward's requirement (SEG-R1.md 4): parsed points and labels, at
        least one point, and a box when the task asks for boxes. A usable answer that fails it
        still has a mask; the reward scores it 0."""
        return (
            self.usable
            and self.points_parsed
            and bool(self.points)
            and (bool(self.boxes) or not needs_box)
        )

    @property
    def format_ok(self) -> bool:
        """The format reward's condition for box+points tasks (released): a think pair, parsed
        points and labels (possibly zero of them) and at least one box."""
        return self.has_think and self.points_parsed and len(self.boxes) > 0

    @property
    def prerl_format_ok(self) -> bool:
        """The format reward's condition for the points-only pre-RL stage."""
        return self.points_parsed

    @property
    def is_empty(self) -> bool:
        """Nothing a segmenter could use: no box and no point."""
        return not self.boxes and not self.points

    def to_dict(self) -> dict:
        return {
            "boxes": self.boxes,
            "points": self.points,
            "labels": self.labels,
            "has_think": self.has_think,
            "points_parsed": self.points_parsed,
            "format_ok": self.format_ok,
            "usable": self.usable,
            "over_limit": self.over_limit,
            "abstain": self.abstain,
        }


class _Unparseable(Exception):
    pass


class _Reader:
    """Recursive-descent reader for nested number lists; each character is visited once."""

    def __init__(self, text: str) -> None:
        self.s = text
        self.i = 0

    def _skip_ws(self) -> None:
        s, n = self.s, len(self.s)
        while self.i < n and s[self.i] in " \t\r\n":
            self.i += 1

    def read(self) -> list | Number:
        value = self._value(0)
        self._skip_ws()
        if self.i != len(self.s):
            raise _Unparseable
        return value

    def _value(self, depth: int) -> list | Number:
        self._skip_ws()
        if self.i >= len(self.s):
            raise _Unparseable
        ch = self.s[self.i]
        if ch in _OPEN:
            if depth >= _MAX_DEPTH:
                raise _Unparseable
            return self._list(_OPEN[ch], depth + 1)
        return self._number()

    def _list(self, close: str, depth: int) -> list:
        self.i += 1  # the opening bracket
        items: list = []
        while True:
            self._skip_ws()
            if self.i >= len(self.s):
                raise _Unparseable
            if self.s[self.i] == close:
                self.i += 1
                return items
            items.append(self._value(depth))
            self._skip_ws()
            if self.i >= len(self.s):
                raise _Unparseable
            if self.s[self.i] == ",":
                self.i += 1
            elif self.s[self.i] != close:
                raise _Unparseable

    def _number(self) -> Number:
        s, n, start = self.s, len(self.s), self.i
        while self.i < n and s[self.i] in _NUMBER_CHARS:
            self.i += 1
            if self.i - start > _MAX_NUMBER_CHARS:
                raise _Unparseable
        token = s[start : self.i]
        if not token:
            raise _Unparseable
        try:
            if all(c.isdigit() for c in token.lstrip("+-")) and token.lstrip("+-"):
                return int(token)
            value = float(token)
        except ValueError:
            raise _Unparseable from None
        if not math.isfinite(value):
            raise _Unparseable
        return value


def reject_constant(name: str) -> None:
    """``json.loads(parse_constant=...)``: NaN and Infinity are not numbers of an answer."""
    raise ValueError(f"{name} is not a number")


def _reject_constant(name: str) -> None:
    raise _Unparseable


def _literal(text: str) -> list | Number | None:
    """A number or nested list of numbers, or None when the body is anything else."""
    if not set(text) <= _LITERAL_CHARS:
        return None
    try:  # fast path: C JSON reader on the normalised body
        return json.loads(
            _TRAILING_COMMA.sub("]", text.translate(_PARENS)), parse_constant=_reject_constant
        )
    except (ValueError, RecursionError, _Unparseable):
        pass
    if len(text) > MAX_SLOW_CHARS:
        return None
    try:  # Python literal spellings JSON lacks: "1.", ".5", "+1", "1_0" is not accepted
        return _Reader(text).read()
    except _Unparseable:
        return None


def is_coordinate(x: object) -> bool:
    """A number an answer may hold: a finite int or float of magnitude at most MAX_ABS."""
    return _is_number(x)


def _is_number(x: object) -> bool:
    """A finite int or float of magnitude at most MAX_ABS (never converts a huge int)."""
    if isinstance(x, bool) or not isinstance(x, int | float):
        return False
    if isinstance(x, int):
        return -MAX_ABS <= x <= MAX_ABS
    return math.isfinite(x) and abs(x) <= MAX_ABS


def _tag_spans(text: str, tag: str, first_only: bool) -> list[str]:
    """Contents of ``<tag>...</tag>`` pairs, as a lazy regex ``<tag>(.*?)</tag>`` (DOTALL) finds
    them, but in linear time."""
    open_t, close_t = f"<{tag}>", f"</{tag}>"
    out: list[str] = []
    pos = 0
    while True:
        start = text.find(open_t, pos)
        if start < 0:
            return out
        end = text.find(close_t, start + len(open_t))
        if end < 0:  # no later opening tag can have a closing tag either
            return out
        out.append(text[start + len(open_t) : end])
        if first_only:
            return out
        pos = end + len(close_t)


def _box_values(contents: list[str]) -> list:
    """Literal value of each ``<bbox>`` body (None where unreadable). All bodies are first read
    together by one JSON call; only when that fails is each read alone."""
    if len(contents) > 1:
        bodies = [c.translate(_PARENS) for c in contents]
        if all(set(b) <= _LITERAL_CHARS and b.strip().startswith("[") for b in bodies):
            joined = "[" + ",".join(_TRAILING_COMMA.sub("]", b) for b in bodies) + "]"
            try:
                values = json.loads(joined, parse_constant=_reject_constant)
            except (ValueError, RecursionError, _Unparseable):
                values = None
            if isinstance(values, list) and len(values) == len(contents):
                return values
    return [_literal(c) for c in contents]


def _is_box(value: object) -> bool:
    return isinstance(value, list) and len(value) == 4 and all(_is_number(v) for v in value)


def _is_plain_int(x: object) -> bool:
    return isinstance(x, int) and not isinstance(x, bool) and x >= 0


def _numbers_ok(value: object, rules: ParseRules) -> bool:
    """Every number in a nested list passes ``rules`` (always True without integers_only)."""
    if not rules.integers_only:
        return True
    if isinstance(value, list):
        return all(_numbers_ok(v, rules) for v in value)
    return _is_plain_int(value)


def _boxes(contents: list[str], rules: ParseRules = DEFAULT_RULES) -> list[list[Number]]:
    boxes: list[list[Number]] = []
    for value in _box_values(contents):
        if not _numbers_ok(value, rules):
            continue
        if _is_box(value):
            boxes.append(list(value))
        elif rules.box_lists and isinstance(value, list) and value and all(map(_is_box, value)):
            boxes.extend(list(b) for b in value)
    return boxes


def _first_box(text: str, rules: ParseRules) -> list[list[Number]]:
    """The first ``<bbox>``'s box, its body read up to the first ``]`` (no closing tag needed)."""
    start = text.find("<bbox>")
    if start < 0:
        return []
    start += len("<bbox>")
    end = text.find("]", start)
    if end < 0:
        return []
    value = _literal(text[start : end + 1])
    return [list(value)] if _is_box(value) and _numbers_ok(value, rules) else []


def _points_labels(
    text: str, rules: ParseRules = DEFAULT_RULES
) -> tuple[list[list[Number]], list[int], bool]:
    p_spans = _tag_spans(text, "points", first_only=True)
    l_spans = _tag_spans(text, "labels", first_only=True)
    if not p_spans or not l_spans:
        return [], [], False
    points, labels = _literal(p_spans[0]), _literal(l_spans[0])
    if not isinstance(points, list) or not isinstance(labels, list):
        return [], [], False
    if not (_numbers_ok(points, rules) and _numbers_ok(labels, rules)):
        return [], [], False
    if not all(isinstance(p, list) and len(p) == 2 and all(map(_is_number, p)) for p in points):
        return [], [], False
    if len(labels) != len(points) or not all(_is_number(v) and v in (0, 1) for v in labels):
        return [], [], False
    return [list(p) for p in points], [int(v) for v in labels], True


def think_text(text: str) -> str | None:
    """The text of the first ``<think>...</think>`` pair, or None."""
    return _think(text)


def _think(text: str) -> str | None:
    start = text.find("<think>")
    if start < 0:
        return None
    end = text.find("</think>", start + len("<think>"))
    return None if end < 0 else text[start + len("<think>") : end]


def parse_answer(text: str, rules: ParseRules = DEFAULT_RULES) -> Answer:
    """Parse one completion. Never raises for a ``str``; linear time in ``len(text)``."""
    if not isinstance(text, str):
        raise TypeError(f"parse_answer expects str, got {type(text).__name__}")
    if rules.abstention and _abstains(text):
        return Answer(think=_think(text), abstain=True)
    points, labels, ok = _points_labels(text, rules)
    if rules.boxes == "first":
        boxes = _first_box(text, rules)
    else:
        boxes = _boxes(_tag_spans(text, "bbox", first_only=False), rules)
    return Answer(boxes=boxes, points=points, labels=labels, think=_think(text), points_parsed=ok)


def _abstains(text: str) -> bool:
    """The first ``<bbox>`` body is ``none`` (any case, spaces around): "no target"."""
    spans = _tag_spans(text, "bbox", first_only=True)
    return bool(spans) and len(spans[0]) <= 16 and spans[0].strip().lower() == ABSTAIN_BOX


def _number_text(x: Number) -> str:
    return str(x) if isinstance(x, int) else repr(float(x))


def _list_text(values: list) -> str:
    """``[1,2]`` / ``[[1,2],[3,4]]``: compact, as the released answers are written."""
    parts = (_list_text(v) if isinstance(v, list) else _number_text(v) for v in values)
    return "[" + ",".join(parts) + "]"


def format_answer(answer: Answer) -> str:
    """The completion text of ``answer`` in the Seg-R1 format, e.g.
    ``<think>t</think> <bbox>[1,2,3,4]</bbox>, <points>[[2,3]]</points>, <labels>[1]</labels>``.
    Boxes become one ``<bbox>`` tag each; points and labels are written when ``points_parsed``;
    the think pair when ``think`` is not None."""
    parts: list[str] = []
    if answer.think is not None:
        parts.append(f"<think>{answer.think}</think>")
    if answer.abstain:
        return " ".join([*parts, f"<bbox>{ABSTAIN_BOX}</bbox>"])
    tags = [f"<bbox>{_list_text(list(b))}</bbox>" for b in answer.boxes]
    if answer.points_parsed:
        tags.append(f"<points>{_list_text([list(p) for p in answer.points])}</points>")
        tags.append(f"<labels>{_list_text(list(answer.labels))}</labels>")
    separator = ", " if answer.boxes else " "
    if tags:
        parts.append(separator.join(tags))
    return " ".join(parts)
