"""Templates: the released strings, byte-exact where they are checkpoint protocol."""

import pytest

from segr1.protocol.templates import (
    SYSTEM_PROMPT_EVAL,
    SYSTEM_PROMPT_TRAIN,
    Template,
    foreground_text,
    reasoning_text,
    referring_text,
)


def test_system_prompt_is_verbatim():
    assert SYSTEM_PROMPT_TRAIN.startswith("A conversation between User and Assistant.")
    assert (
        "<labels>[1,0,...]</labels>Where 1 indicates" in SYSTEM_PROMPT_TRAIN
    )  # no space, as released
    assert "<points>[[x1,y1],[x2,y2],...]</points>" in SYSTEM_PROMPT_TRAIN
    assert SYSTEM_PROMPT_TRAIN.endswith("without overloading the system.")
    assert "<points>[[x3,y3],[x4,y4],...]</points>" in SYSTEM_PROMPT_EVAL
    assert SYSTEM_PROMPT_EVAL.endswith("indicates a background point.")
    assert "should enclosed within <think> </think> tags" in SYSTEM_PROMPT_TRAIN


def test_user_texts():
    fg = foreground_text()
    assert fg.startswith("\nIdentify and segment all the primary objects in the image.\n\n")
    assert fg.endswith("<labels>[1,0,...]</labels>\n")
    assert "\nIdentify and segment the left dog\n" in referring_text("the left dog")
    assert "\nWhat can hold water? Identify and segment it.\n" in reasoning_text(
        "What can hold water?"
    )
    assert "\n Identify and segment the cup.\n" in reasoning_text("the cup", is_sentence=False)


def test_messages_shape():
    msgs = Template("foreground").messages()
    assert [m["role"] for m in msgs] == ["system", "user"]
    assert msgs[1]["content"][0] == {"type": "image"}
    assert [m["role"] for m in Template("prerl").messages()] == ["user"]
    with pytest.raises(ValueError, match="needs a query"):
        Template("referring").messages()
    with pytest.raises(ValueError, match="unknown task"):
        Template("nope")
