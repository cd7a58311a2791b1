"""The Seg-Zero answer format (SEG-R1.md section 7): ONE object, a box and the centres of the
two largest circles inscribed in it, as JSON in ``<answer>`` tags; the image stretched to
840 x 840; no system prompt; the user text is the released template with the question
lower-cased and stripped of dots. The template and example are byte-exact released strings
(pinned by ``tests/test_protocol_formats.py``).

Answer shape: ``{'bbox': [x1,y1,x2,y2], 'points_1': [x,y], 'points_2': [x,y]}`` (single or double
quotes). Read as :class:`Answer` ``boxes=[bbox]``, ``points=[points_1, points_2]`` (those well
formed), labels 1; ``points_parsed`` when both points are well formed. Its one object (for the
object rewards) is the box with ``points_1``.
"""

from __future__ import annotations

from typing import Any

from segr1.protocol.formats import JsonAnswerFormat, Obj, as_box, as_point
from segr1.protocol.parse import Answer

SEG_ZERO_TEMPLATE = (
    "Please find '{Question}' with bbox and points."
    "Compare the difference between objects and find the most closely matched one."
    "Output the thinking process in <think> </think> and final answer in <answer> </answer> tags."
    "Output the one bbox and points of two largest inscribed circles inside the interested object in JSON format."
    "i.e., <think> thinking process here </think>"
    "<answer>{Answer}</answer>"
)
SEG_ZERO_EXAMPLE = "{'bbox': [10,100,200,210], 'points_1': [30,110], 'points_2': [35,180]}"


def _fields(value: Any) -> tuple | None:
    if not isinstance(value, dict):
        return None
    return (
        as_box(value.get("bbox")),
        as_point(value.get("points_1")),
        as_point(value.get("points_2")),
    )


class SegZeroFormat(JsonAnswerFormat):
    name = "seg-zero"
    template = SEG_ZERO_TEMPLATE
    example = SEG_ZERO_EXAMPLE

    @staticmethod
    def query(text: str) -> str:
        return text.lower().strip(".")

    def json_prompts(self, value: Any) -> tuple[list, list, bool] | None:
        fields = _fields(value)
        if fields is None:
            return None
        box, p1, p2 = fields
        points = [p for p in (p1, p2) if p is not None]
        return ([box] if box is not None else []), points, len(points) == 2

    def json_objects(self, value: Any) -> list[Obj] | None:
        fields = _fields(value)
        return None if fields is None else [Obj(fields[0], fields[1])]

    def objects_json(self, answer: Answer) -> dict:
        out: dict = {}
        if answer.boxes:
            out["bbox"] = list(answer.boxes[0])
        for k, point in enumerate(answer.points[:2], start=1):
            out[f"points_{k}"] = list(point)
        return out

    def representable(self, answer: Answer) -> bool:
        if answer.abstain:
            return not (answer.boxes or answer.points)
        two = answer.points_parsed and len(answer.points) == 2 and answer.labels == [1, 1]
        no_points = not answer.points_parsed and not answer.points
        return len(answer.boxes) <= 1 and (two or (no_points and len(answer.boxes) == 1))
