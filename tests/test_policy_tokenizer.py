"""The tiny policy's offline tokenizer: exact round trips, single-token digits and tags."""

from __future__ import annotations

import pytest

from segr1.policy.tokenizer import SPECIAL_TOKENS, TAG_TOKENS, build_tiny_tokenizer
from segr1.protocol import templates
from segr1.protocol.parse import parse_answer

ANSWER = (
    "<think>a frog on bark...</think> <bbox>[120,88,402,377]</bbox>, "
    "<points>[[260,230],[300,180],[30,40]]</points>, <labels>[1,1,0]</labels>"
)


@pytest.fixture(scope="module")
def tok():
    return build_tiny_tokenizer()


def test_answer_round_trips_exactly(tok):
    ids = tok(ANSWER)["input_ids"]
    assert tok.decode(ids) == ANSWER
    assert tok.decode(ids, skip_special_tokens=True) == ANSWER  # tags are not special
    assert parse_answer(tok.decode(ids, skip_special_tokens=True)).format_ok


@pytest.mark.parametrize(
    "text",
    [
        templates.SYSTEM_PROMPT_TRAIN,
        templates.SYSTEM_PROMPT_EVAL,
        templates.FOREGROUND_TRAIN_TEXT,
        templates.FOREGROUND_EVAL_TEXT,
        templates.PRERL_TEXT,
        templates.Template("referring", "train").user_text("the zebra with 3 stripes, ünïcode ok?"),
    ],
)
def test_protocol_text_round_trips(tok, text):
    assert tok.decode(tok(text)["input_ids"]) == text


def test_digits_and_tags_are_single_tokens(tok):
    for d in "0123456789":
        assert len(tok(d)["input_ids"]) == 1
    assert tok.convert_ids_to_tokens(tok("1203")["input_ids"]) == ["1", "2", "0", "3"]
    for tag in TAG_TOKENS:
        assert len(tok(tag)["input_ids"]) == 1, tag
    assert tok.convert_tokens_to_ids(list(SPECIAL_TOKENS)) == list(range(len(SPECIAL_TOKENS)))


def test_vocabulary_is_small_and_prompts_short(tok):
    assert 300 < len(tok) <= 2100
    assert len(tok(templates.SYSTEM_PROMPT_EVAL)["input_ids"]) < 100
    assert tok.eos_token == "<|im_end|>" and tok.pad_token == "<|endoftext|>"
    assert tok.padding_side == "left"


def test_build_is_deterministic(tok):
    again = build_tiny_tokenizer()
    assert again.backend_tokenizer.to_str() == tok.backend_tokenizer.to_str()
