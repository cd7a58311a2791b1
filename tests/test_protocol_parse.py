"""Parser: released-code semantics, never raises, never evaluates, linear time."""

import gc
import time

from hypothesis import given, settings
from hypothesis import strategies as st

from segr1 import parse_answer
from segr1.protocol.parse import (
    MAX_ABS,
    MAX_BOXES,
    MAX_POINTS,
    RELEASED_REASONSEG_RULES,
    RELEASED_RULES,
    Answer,
    format_answer,
)

EXAMPLE = (
    "<think>a frog on bark...</think> <bbox>[120,88,402,377]</bbox>, "
    "<points>[[260,230],[300,180],[30,40]]</points>, <labels>[1,1,0]</labels>"
)


def test_released_example():
    a = parse_answer(EXAMPLE)
    assert a.boxes == [[120, 88, 402, 377]]
    assert a.points == [[260, 230], [300, 180], [30, 40]]
    assert a.labels == [1, 1, 0]
    assert a.has_think and a.points_parsed and a.format_ok


def test_all_boxes_first_points_first_labels():
    text = (
        "<think></think><bbox>[1,2,3,4]</bbox><bbox>[5,6,7,8]</bbox>"
        "<points>[[1,1]]</points><labels>[1]</labels>"
        "<points>[[2,2],[3,3]]</points><labels>[0,0]</labels>"
    )
    a = parse_answer(text)
    assert a.boxes == [[1, 2, 3, 4], [5, 6, 7, 8]]
    assert a.points == [[1, 1]] and a.labels == [1]
    assert a.format_ok  # empty think text is allowed


def test_count_mismatch_drops_points_and_labels_but_keeps_boxes():
    a = parse_answer(
        "<think>x</think><bbox>[0,0,9,9]</bbox><points>[[1,1],[2,2]]</points><labels>[1]</labels>"
    )
    assert a.boxes == [[0, 0, 9, 9]]
    assert a.points == [] and a.labels == [] and not a.points_parsed
    assert not a.format_ok


def test_bad_shapes_are_rejected():
    assert parse_answer("<bbox>[1,2,3]</bbox>").boxes == []
    assert parse_answer("<bbox>[1,2,3,4,5]</bbox>").boxes == []
    a = parse_answer("<points>[[1,2,3]]</points><labels>[1]</labels>")
    assert not a.points_parsed
    a = parse_answer("<points>[[1,2]]</points><labels>[2]</labels>")
    assert not a.points_parsed


def test_floats_negative_whitespace_tuples_and_trailing_commas():
    a = parse_answer(
        "<bbox>( -1.5, 2e1 ,3 , 4, )</bbox><points>[ [1.0 ,2] ,]</points><labels>[1.0]</labels>"
    )
    assert a.boxes == [[-1.5, 20.0, 3, 4]]
    assert a.points == [[1.0, 2]] and a.labels == [1]


def test_nested_box_list_extension():
    assert parse_answer("<bbox>[[1,2,3,4],[5,6,7,8]]</bbox>").boxes == [[1, 2, 3, 4], [5, 6, 7, 8]]


def test_code_is_never_evaluated():
    for text in [
        "<bbox>__import__('os').system('echo pwned')</bbox>",
        "<bbox>[1+1,2,3,4]</bbox>",
        "<points>[[1,2]]*1000000</points><labels>[1]</labels>",
        "<bbox>[nan,inf,1,2]</bbox>",
        "<bbox>[1e999,1,2,3]</bbox>",
        "<bbox>[" + "9" * 5000 + ",1,2,3]</bbox>",
        "<bbox>[[[[[1]]]]]</bbox>",
    ]:
        a = parse_answer(text)
        assert a.boxes == [] and a.points == []


def test_think_must_be_closed_after_open():
    assert not parse_answer("</think><think>").has_think
    assert parse_answer("<think>\nmulti\nline\n</think>").has_think


def test_unclosed_tags_give_nothing():
    a = parse_answer("<bbox>[1,2,3,4]<points>[[1,1]]<labels>[1]")
    assert a == Answer()
    assert a.is_empty and not a.format_ok


@settings(max_examples=300, deadline=None)
@given(
    st.text(
        alphabet=st.sampled_from(list("<>/[](),.-+e0123456789 \nbboxpointslabelsthink")),
        max_size=400,
    )
)
def test_never_raises_on_protocol_alphabet(text):
    a = parse_answer(text)
    assert isinstance(a, Answer)
    assert len(a.points) == len(a.labels)
    assert all(len(b) == 4 for b in a.boxes)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300))
def test_never_raises_on_any_text(text):
    assert isinstance(parse_answer(text), Answer)


numbers = st.one_of(
    st.integers(-(10**6), 10**6),
    st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False),
)
answers = st.builds(
    lambda boxes, pts, think, parsed: Answer(
        boxes=[list(b) for b in boxes],
        points=[[x, y] for x, y, _ in pts] if parsed else [],
        labels=[lab for *_, lab in pts] if parsed else [],
        think=think,
        points_parsed=parsed,
    ),
    st.lists(st.tuples(numbers, numbers, numbers, numbers), max_size=3),
    st.lists(st.tuples(numbers, numbers, st.integers(0, 1)), max_size=10),  # within the limits
    st.one_of(st.none(), st.text(alphabet=st.characters(exclude_characters="<>"), max_size=40)),
    st.booleans(),
)


@settings(max_examples=300, deadline=None)
@given(answers)
def test_parse_of_format_is_the_identity(answer):
    text = format_answer(answer)
    assert parse_answer(text) == answer
    assert parse_answer(text, RELEASED_RULES).boxes == [
        b for b in answer.boxes if all(isinstance(v, int) and v >= 0 for v in b)
    ]


def test_format_answer_writes_the_released_layout():
    a = parse_answer(EXAMPLE)
    assert format_answer(a) == EXAMPLE  # the released example, exactly
    prerl = Answer(points=[[1, 2]], labels=[0], points_parsed=True)
    assert format_answer(prerl) == "<points>[[1,2]]</points> <labels>[0]</labels>"


def test_released_rules_accept_only_non_negative_integers():
    ok = "<think></think> <bbox>[1,2,3,4]</bbox>, <points>[[5,6]]</points>, <labels>[1]</labels>"
    assert parse_answer(ok, RELEASED_RULES) == parse_answer(ok)
    for bad, part in (
        (ok.replace("[1,2,3,4]", "[1.0,2,3,4]"), "boxes"),
        (ok.replace("[1,2,3,4]", "[-1,2,3,4]"), "boxes"),
        (ok.replace("[[5,6]]", "[[5.5,6]]"), "points"),
        (ok.replace("[[5,6]]", "[[5,-6]]"), "points"),
    ):
        released, default = parse_answer(bad, RELEASED_RULES), parse_answer(bad)
        assert getattr(released, part) == [] and getattr(default, part) != [], bad
    assert not parse_answer(ok.replace("[1]</labels>", "[1.0]</labels>"), RELEASED_RULES).points


def test_first_box_rule_reads_an_unclosed_first_box_only():
    text = (
        "<bbox>[1,2,3,4] then <bbox>[5,6,7,8]</bbox> <points>[[2,2]]</points> <labels>[1]</labels>"
    )
    assert parse_answer(text, RELEASED_REASONSEG_RULES).boxes == [[1, 2, 3, 4]]
    assert parse_answer(text).boxes == []  # the shared parser needs closed tags
    assert parse_answer("<bbox> [ 9, 8 ,7,6 ]</bbox>", RELEASED_REASONSEG_RULES).boxes == [
        [9, 8, 7, 6]
    ]
    assert parse_answer("<bbox>[1,2,3]</bbox>", RELEASED_REASONSEG_RULES).boxes == []
    assert parse_answer("<bbox>[1,2,3,4", RELEASED_REASONSEG_RULES).boxes == []


def _timed(text: str) -> float:
    # The cyclic garbage collector is paused while timing: a full collection scans every object
    # the test process holds, which would time the process's heap instead of the parser.
    gc.collect()
    gc.disable()
    try:
        t0 = time.perf_counter()
        parse_answer(text)
        return time.perf_counter() - t0
    finally:
        gc.enable()


def test_one_megabyte_of_malformed_text_is_fast():
    cases = [
        "<points>[[1,1]" * (1_000_000 // 14),
        "<bbox>[1,2,3," * (1_000_000 // 12) + "</bbox>",
        "<think>" * 150_000 + "<bbox>" * 10_000,
        "<points>" + "[" * 1_000_000 + "</points><labels>[1]</labels>",
        "<points>[" + "[1,1]," * 160_000 + "(1,</points><labels>[1]</labels>",
    ]
    for text in cases:
        assert len(text) >= 900_000
        assert _timed(text) < 0.5, text[:40]


def _best_of(text: str, repeats: int = 3) -> float:
    return min(_timed(text) for _ in range(repeats))


def test_one_megabyte_of_well_formed_text_is_linear():
    # Valid but absurdly long answers are read in full (no truncation), in linear time: 4x the
    # text may take at most 8x the time (a quadratic parser takes 16x). A ratio of best-of-3
    # timings, not an absolute bound, so a busy machine does not fail it.
    def boxes(n: int) -> str:
        return "<bbox>[1,2,3,4]</bbox>" * n

    def points(n: int) -> str:
        return "<points>[" + "[1,1]," * n + "]</points><labels>[" + "1," * n + "]</labels>"

    for build, n in ((boxes, 45_000), (points, 160_000)):
        big = build(n)
        assert len(big) >= 900_000
        answer = parse_answer(big)
        assert len(answer.boxes) == n if build is boxes else len(answer.points) == n
        assert _best_of(big) < 8 * _best_of(build(n // 4)) + 0.05, big[:40]


hostile_numbers = st.one_of(
    st.integers().map(str),
    st.integers(10**18, 10**400).map(str),
    st.sampled_from(["nan", "NaN", "inf", "-inf", "1e999", "-0", "1e-400", "0x10", "1_0"]),
    st.sampled_from(["\u0663", "\uff11", "\x00", "1\x002", "\u00b2", "\U0001d7d9"]),
    st.floats().map(repr),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(hostile_numbers, min_size=1, max_size=6), st.sampled_from(["bbox", "points"]))
def test_never_raises_on_hostile_numbers(values, tag):
    body = "[" + ",".join(values) + "]"
    text = f"<{tag}>{body if tag == 'bbox' else '[' + body + ']'}</{tag}> <labels>[1]</labels>"
    answer = parse_answer(text)
    for box in answer.boxes:  # whatever is read is a usable coordinate
        assert all(abs(float(v)) <= MAX_ABS for v in box)
    for point in answer.points:
        assert all(abs(float(v)) <= MAX_ABS for v in point)
    import numpy as np

    np.asarray(answer.boxes, np.float32)  # the geometry downstream never overflows


def test_huge_integer_is_not_a_coordinate():
    text = "<bbox>[" + "9" * 300 + ",1,2,3]</bbox> <points>[[1,1]]</points> <labels>[1]</labels>"
    assert parse_answer(text).boxes == []


def test_answers_over_the_limits_are_not_usable():
    boxes = "".join(f"<bbox>[0,0,{i + 1},{i + 1}]</bbox>" for i in range(MAX_BOXES + 1))
    text = boxes + " <points>[[1,1]]</points> <labels>[1]</labels>"
    a = parse_answer(text)
    assert len(a.boxes) == MAX_BOXES + 1 and a.over_limit and not a.usable
    assert not a.rewardable() and a.to_dict()["over_limit"]
    at_limit = "".join(f"<bbox>[0,0,{i + 1},{i + 1}]</bbox>" for i in range(MAX_BOXES))
    assert parse_answer(at_limit + " <points>[[1,1]]</points> <labels>[1]</labels>").usable
    pts = ",".join("[1,1]" for _ in range(MAX_POINTS + 1))
    labels = ",".join("1" for _ in range(MAX_POINTS + 1))
    b = parse_answer(f"<bbox>[0,0,9,9]</bbox> <points>[{pts}]</points> <labels>[{labels}]</labels>")
    assert b.over_limit and not b.usable
