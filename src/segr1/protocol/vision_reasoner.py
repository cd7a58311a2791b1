"""The VisionReasoner answer format (SEG-R1.md section 7): a JSON list of objects, each a box
and one point inside it, in ``<answer>`` tags; the image stretched to 840 x 840; no system
prompt; the user text is the released template with the question lower-cased and stripped of
``."?!``. The template and example are byte-exact released strings (pinned by
``tests/test_protocol_formats.py``).

Answer shape: ``[{"bbox_2d": [x1,y1,x2,y2], "point_2d": [x,y]}, ...]``. Read as
:class:`Answer` ``boxes`` (every well-formed ``bbox_2d``) and ``points`` (every well-formed
``point_2d``), labels 1; ``points_parsed`` when every object has a well-formed point. Each list
item is one object for the object rewards.
"""

from __future__ import annotations

from typing import Any

from segr1.protocol.formats import JsonAnswerFormat, Obj, as_box, as_point
from segr1.protocol.parse import MAX_BOXES, Answer

VISION_REASONER_TEMPLATE = (
    'Please find "{Question}" with bboxs and points.'
    "Compare the difference between object(s) and find the most closely matched object(s)."
    "Output the thinking process in <think> </think> and final answer in <answer> </answer> tags."
    "Output the bbox(es) and point(s) inside the interested object(s) in JSON format."
    "i.e., <think> thinking process here </think>"
    "<answer>{Answer}</answer>"
)
VISION_REASONER_EXAMPLE = '[{"bbox_2d": [10,100,200,210], "point_2d": [30,110]}, {"bbox_2d": [225,296,706,786], "point_2d": [302,410]}]'


class VisionReasonerFormat(JsonAnswerFormat):
    name = "vision-reasoner"
    template = VISION_REASONER_TEMPLATE
    example = VISION_REASONER_EXAMPLE

    @staticmethod
    def query(text: str) -> str:
        return text.lower().strip('."?!')

    def json_objects(self, value: Any) -> list[Obj] | None:
        if not isinstance(value, list):
            return None
        return [
            Obj(as_box(item.get("bbox_2d")), as_point(item.get("point_2d")))
            if isinstance(item, dict)
            else Obj(None, None)
            for item in value[: 4 * MAX_BOXES]  # beyond that the answer is over the limit anyway
        ]

    def json_prompts(self, value: Any) -> tuple[list, list, bool] | None:
        objs = self.json_objects(value)
        if objs is None:
            return None
        boxes = [o.box for o in objs if o.box is not None]
        points = [o.point for o in objs if o.point is not None]
        return boxes, points, bool(objs) and len(points) == len(objs)

    def objects_json(self, answer: Answer) -> list[dict]:
        return [
            {"bbox_2d": list(box), "point_2d": list(point)}
            for box, point in zip(answer.boxes, answer.points, strict=True)
        ]

    def representable(self, answer: Answer) -> bool:
        if answer.abstain:
            return not (answer.boxes or answer.points)
        return (
            answer.points_parsed
            and len(answer.boxes) == len(answer.points) >= 1
            and answer.labels == [1] * len(answer.points)
        )
