"""Answer formats as plug-ins: the Seg-Zero / VisionReasoner texts byte for byte (literals copied
from SEG-R1.md section 7), parse(format_answer(a)) == a per format, hostile text never raises,
"no target" answers, and the messages each format sends."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from segr1.protocol import Answer
from segr1.protocol.formats import format_names, get_format, template_for, thinking_format
from segr1.protocol.parse import RELEASED_RULES

# Copied from SEG-R1.md section 7 (the adjacent literals joined); do not build from the module.
SEG_ZERO_TEXT = "Please find '{Question}' with bbox and points.Compare the difference between objects and find the most closely matched one.Output the thinking process in <think> </think> and final answer in <answer> </answer> tags.Output the one bbox and points of two largest inscribed circles inside the interested object in JSON format.i.e., <think> thinking process here </think><answer>{Answer}</answer>"
SEG_ZERO_EXAMPLE = "{'bbox': [10,100,200,210], 'points_1': [30,110], 'points_2': [35,180]}"
VR_TEXT = 'Please find "{Question}" with bboxs and points.Compare the difference between object(s) and find the most closely matched object(s).Output the thinking process in <think> </think> and final answer in <answer> </answer> tags.Output the bbox(es) and point(s) inside the interested object(s) in JSON format.i.e., <think> thinking process here </think><answer>{Answer}</answer>'
VR_EXAMPLE = '[{"bbox_2d": [10,100,200,210], "point_2d": [30,110]}, {"bbox_2d": [225,296,706,786], "point_2d": [302,410]}]'


def test_registry_lists_the_three_formats():
    assert format_names() == ("seg-r1", "seg-zero", "vision-reasoner")
    with pytest.raises(ValueError, match="unknown answer format 'lisa'"):
        get_format("lisa")


@pytest.mark.parametrize(
    ("name", "template", "example", "question", "asked"),
    [
        ("seg-zero", SEG_ZERO_TEXT, SEG_ZERO_EXAMPLE, "The Red Car.", "the red car"),
        ("vision-reasoner", VR_TEXT, VR_EXAMPLE, '"What Holds Water?"', "what holds water"),
    ],
)
def test_json_formats_send_the_released_text(name, template, example, question, asked):
    fmt = get_format(name)
    messages = fmt.messages("reasoning", "eval", question)
    assert [m["role"] for m in messages] == ["user"]  # no system prompt
    image, text = messages[0]["content"]
    assert image == {"type": "image"}
    assert text["text"] == template.format(Question=asked, Answer=example)
    assert fmt.side == 840 and fmt.max_new_tokens == 1024
    assert fmt.template_name("referring") == f"released/{name}/referring"
    ours = fmt.messages("foreground", abstain=True)[0]["content"][1]["text"]
    assert "all the primary objects in the image" in ours and "<answer>none</answer>" in ours
    assert fmt.template_name("foreground", abstain=True).startswith("segr1/")
    with pytest.raises(ValueError, match="needs a query"):
        fmt.messages("referring")


def test_seg_r1_abstention_is_ours_and_off_in_the_released_rules():
    tmpl = template_for("seg-r1", "referring", "eval", abstain=True)
    system = tmpl.messages("the cup")[0]["content"][0]["text"]
    assert system.endswith("<bbox>none</bbox> instead.") and tmpl.name.startswith("segr1/")
    fmt = get_format("seg-r1")
    abstain = fmt.parse("<think>no cup here</think> <bbox>None</bbox>")
    assert abstain.abstain and not abstain.usable and abstain.think == "no cup here"
    assert not fmt.parse("<bbox>none</bbox>", RELEASED_RULES).abstain  # not a released reading
    for name in ("seg-zero", "vision-reasoner"):
        a = get_format(name).parse("<think>t</think> <answer> NONE </answer>")
        assert a.abstain and not a.usable


def test_json_formats_read_their_answers():
    sz = get_format("seg-zero")
    single = "<think>a car</think><answer>{'bbox': [1,2,30,40], 'points_1': [5,6], 'points_2': [7,8]}</answer>"
    a = sz.parse(single)
    assert a.boxes == [[1, 2, 30, 40]] and a.points == [[5, 6], [7, 8]] and a.points_parsed
    assert a.labels == [1, 1] and a.usable and a.rewardable()
    assert [o.box for o in sz.objects(single)] == [[1, 2, 30, 40]]
    half = sz.parse('<answer>{"bbox": [1,2,30,40], "points_1": [5, "x"]}</answer>')
    assert half.boxes == [[1, 2, 30, 40]] and half.points == [] and not half.points_parsed
    vr = get_format("vision-reasoner")
    two = '<think>t</think> <answer>[{"bbox_2d": [1,2,30,40], "point_2d": [5,6]}, {"bbox_2d": [50,50,60,70]}]</answer>'
    b = vr.parse(two)
    assert b.boxes == [[1, 2, 30, 40], [50, 50, 60, 70]] and b.points == [[5, 6]]
    assert not b.points_parsed  # the second object has no point
    assert [o.point for o in vr.objects(two)] == [[5, 6], None]
    for bad in ("<answer>{'bbox': __import__('os')}</answer>", "<answer>[1,2</answer>", "no tags"):
        assert not vr.parse(bad).usable and not sz.parse(bad).usable


def test_thinking_format_is_the_full_match():
    assert thinking_format("<think>x</think> \n<answer>[]</answer>")
    assert thinking_format("<think>a</think>b</think><answer>c</answer>")
    assert not thinking_format(" <think>x</think><answer>y</answer>")  # leading space
    assert not thinking_format("<think>x</think><answer>y</answer>!")
    assert not thinking_format("<think>x</think> text <answer>y</answer>")
    assert not thinking_format("<answer>y</answer>")


numbers = st.one_of(st.integers(0, 10**6), st.floats(0, 1e6, allow_nan=False))
box = st.tuples(numbers, numbers, numbers, numbers).map(list)
point = st.tuples(numbers, numbers).map(list)
think = st.one_of(st.none(), st.text(st.characters(exclude_characters="<>"), max_size=30))


def _answer(boxes, points, think, abstain=False):
    if abstain:
        return Answer(think=think, abstain=True)
    return Answer(boxes, points, [1] * len(points), think, points_parsed=bool(points))


SHAPES = {  # answers each format can write: the property is checked on every one of them
    "seg-r1": st.builds(_answer, st.lists(box, max_size=4), st.lists(point, max_size=4), think,
                        st.booleans()),
    "seg-zero": st.builds(_answer, st.lists(box, min_size=1, max_size=1),
                          st.lists(point, min_size=2, max_size=2), think, st.booleans()),
    "vision-reasoner": st.integers(1, 4).flatmap(
        lambda n: st.builds(_answer, st.lists(box, min_size=n, max_size=n),
                            st.lists(point, min_size=n, max_size=n), think, st.booleans())
    ),
}  # fmt: skip


@pytest.mark.parametrize("name", ["seg-r1", "seg-zero", "vision-reasoner"])
@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_parse_of_format_is_the_identity(name, data):
    fmt = get_format(name)
    answer = data.draw(SHAPES[name])
    assert fmt.representable(answer)
    assert fmt.parse(fmt.format_answer(answer)) == answer


@pytest.mark.parametrize("name", ["seg-zero", "vision-reasoner"])
@settings(max_examples=150, deadline=None)
@given(
    st.text(
        alphabet=st.sampled_from(list("<>/{}[]\"':,.-+e0123456789 abdeinoprstwx_")), max_size=300
    )
)
def test_json_formats_never_raise(name, text):
    fmt = get_format(name)
    for candidate in (text, f"<answer>{text}</answer>", f"<think>t</think><answer>{text}"):
        answer = fmt.parse(candidate)
        assert all(len(b) == 4 for b in answer.boxes)
        fmt.objects(candidate)
        fmt.format_ok(candidate)
