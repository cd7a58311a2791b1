"""Templates: every released prompt string pinned byte for byte against a literal copied from the
specification (SEG-R1.md section 2), and which text each task / stage sends."""

import pytest

from segr1.protocol import templates as t
from segr1.protocol.templates import Template

# Literals copied from SEG-R1.md section 2 (do not build these from the module's pieces).
SYSTEM_TRAIN = "A conversation between User and Assistant. The user asks a question, and the Assistant solves it. The assistant first thinks about the reasoning process in the mind and then provides the user with the answer. The reasoning process should enclosed within <think> </think> tags, and the bounding box, points and points labels should be enclosed within <bbox></bbox>, <points></points>, and <labels></labels>, respectively. i.e., <think> reasoning process here </think> <bbox>[x1,y1,x2,y2]</bbox>, <points>[[x1,y1],[x2,y2],...]</points>, <labels>[1,0,...]</labels>Where 1 indicates a foreground (object) point, and 0 indicates a background point. Only generate a moderate number of points, enough to clearly outline the object without overloading the system."
SYSTEM_EVAL = "A conversation between User and Assistant. The user asks a question, and the Assistant solves it. The assistant first thinks about the reasoning process in the mind and then provides the user with the answer. The reasoning process should enclosed within <think> </think> tags, and the bounding box, points and points labels should be enclosed within <bbox></bbox>, <points></points>, and <labels></labels>, respectively. i.e., <think> reasoning process here </think> <bbox>[x1,y1,x2,y2]</bbox>, <points>[[x3,y3],[x4,y4],...]</points>, <labels>[1,0,...]</labels>Where 1 indicates a foreground (object) point, and 0 indicates a background point."
FOREGROUND_TRAIN = "\nIdentify and segment all the primary objects in the image.\n\nOutput the result using the exact format:\n<think> reasoning process here </think> <bbox>[x1,y1,x2,y2]</bbox>, <points>[[x3,y3],[x4,y4],...]</points>, <labels>[1,0,...]</labels>\n"
FOREGROUND_EVAL = "\nIdentify and segment all the primary objects in the image.\n\nOutput the result using the exact format:\n<think> reasoning process here </think> <bbox>[x1,y1,x2,y2]</bbox>, <points>[[x3,y3],[x4,y4],...]</points>, <labels>[1,0,...]</labels>\n    "
PRERL = "\nYou are given an image. Your task is to generate a sparse set of point prompts to help segment the most salient object in the image.\n\nThe points should be informative: include both foreground points (on the object) and background points (off the object) to help define the object boundary.\n\nOnly generate a moderate number of points, enough to clearly outline the object without overloading the system.\n\nOutput the result using the exact format:\n<points>[[x1,y1],[x2,y2],...]</points> <labels>[1,0,...]</labels>\nWhere 1 indicates a foreground (object) point, and 0 indicates a background point.\n\n"


def test_system_prompts_are_the_released_literals():
    assert t.SYSTEM_PROMPT_TRAIN == SYSTEM_TRAIN
    assert t.SYSTEM_PROMPT_EVAL == SYSTEM_EVAL


def test_foreground_and_prerl_texts_are_the_released_literals():
    assert Template("foreground", "train").user_text() == FOREGROUND_TRAIN
    assert Template("foreground", "eval").user_text() == FOREGROUND_EVAL
    assert Template("foreground", "eval").user_text().endswith("</labels>\n    ")
    assert Template("prerl", "train").user_text() == PRERL
    assert Template("prerl", "eval").user_text() == PRERL


def test_referring_evaluation_text_is_the_expression_and_nothing_else():
    text = Template("referring", "eval").user_text("the man in a Red shirt.")
    assert text == "Identify and segment " + "the man in a Red shirt."


@pytest.mark.parametrize(
    ("query", "is_sentence", "expected"),
    [
        ("What can hold water?", True, "What can hold water? Identify and segment it."),
        ("The Tea Cup", False, " Identify and segment the tea cup."),
    ],
)
def test_reasoning_evaluation_texts(query, is_sentence, expected):
    assert Template("reasoning", "eval").user_text(query, is_sentence) == expected


def test_our_training_templates_are_named_ours_and_add_the_format_instruction():
    ref = Template("referring", "train")
    assert ref.source == "segr1" and ref.name == "segr1/train/referring"
    text = ref.user_text("the left dog")
    assert text == (
        "\nIdentify and segment the left dog\n\nOutput the result using the exact format:\n"
        "<think> reasoning process here </think> <bbox>[x1,y1,x2,y2]</bbox>, "
        "<points>[[x3,y3],[x4,y4],...]</points>, <labels>[1,0,...]</labels>\n"
    )
    assert (
        Template("reasoning", "train")
        .user_text("frog", False)
        .startswith("\nIdentify and segment frog.\n\n")
    )
    for task in ("foreground", "prerl", "referring", "reasoning"):
        assert Template(task, "eval").source == "released"


def test_messages_shape_and_system_prompt_per_stage():
    msgs = Template("foreground", "eval").messages()
    assert [m["role"] for m in msgs] == ["system", "user"]
    assert msgs[0]["content"] == [{"type": "text", "text": SYSTEM_EVAL}]
    assert msgs[1]["content"] == [{"type": "image"}, {"type": "text", "text": FOREGROUND_EVAL}]
    assert Template("foreground", "train").messages()[0]["content"][0]["text"] == SYSTEM_TRAIN
    prerl = Template("prerl", "eval").messages()
    assert [m["role"] for m in prerl] == ["user"]  # pre-RL: no system prompt
    with pytest.raises(ValueError, match="needs a query"):
        Template("referring").messages()
    with pytest.raises(ValueError, match="unknown task"):
        Template("nope")
    with pytest.raises(ValueError, match="unknown stage"):
        Template("foreground", "test")
