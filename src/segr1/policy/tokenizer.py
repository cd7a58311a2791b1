"""The tiny policy's tokenizer, built offline: a byte-level BPE trained on the protocol strings,
wrapped as a ``PreTrainedTokenizerFast``, plus the Qwen2.5-VL chat template.

What is real: the byte-level BPE machinery and alphabet (any text
encodes and decodes exactly), the NFC normaliser, the special tokens Qwen2.5-VL's processor and
chat template need (``<|im_start|>``, ``<|im_end|>``, ``<|endoftext|>``, ``<|vision_start|>``,
``<|vision_end|>``, ``<|image_pad|>``, ``<|video_pad|>``, ...), ``eos = <|im_end|>`` and
``pad = <|endoftext|>`` as in Qwen2.5-VL, and :data:`CHAT_TEMPLATE` (Qwen2.5-VL's template).

What is toy: the vocabulary (about a thousand entries instead of 151k) and its pre-tokenizer.
Qwen splits text into words before BPE; here only digits are split off, so BPE may merge across
words and the long protocol prompts compress to a few dozen tokens (short prompts keep CPU
training fast). Every digit is its own token, so a policy writes coordinates digit by digit, and
the answer tags (``<think>``, ``<bbox>``, ``<points>``, ``<labels>`` and their closers) are
single, non-special added tokens, so they survive ``skip_special_tokens=True``. Training is
deterministic: the same corpus gives the same vocabulary.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from segr1.protocol import templates

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase

#: Qwen2.5-VL's special tokens, in Qwen's order (``<|endoftext|>`` first).
SPECIAL_TOKENS: tuple[str, ...] = (
    "<|endoftext|>",
    "<|im_start|>",
    "<|im_end|>",
    "<|object_ref_start|>",
    "<|object_ref_end|>",
    "<|box_start|>",
    "<|box_end|>",
    "<|quad_start|>",
    "<|quad_end|>",
    "<|vision_start|>",
    "<|vision_end|>",
    "<|vision_pad|>",
    "<|image_pad|>",
    "<|video_pad|>",
)
#: Answer-format tags: single tokens, not special (decoding keeps them).
TAG_TOKENS: tuple[str, ...] = (
    "<think>",
    "</think>",
    "<bbox>",
    "</bbox>",
    "<points>",
    "</points>",
    "<labels>",
    "</labels>",
)
EOS_TOKEN = "<|im_end|>"
PAD_TOKEN = "<|endoftext|>"
DEFAULT_VOCAB_SIZE = 1024

#: Qwen2.5-VL's chat template (as shipped in its ``chat_template.json``).
CHAT_TEMPLATE = (
    "{% set image_count = namespace(value=0) %}{% set video_count = namespace(value=0) %}"
    "{% for message in messages %}{% if loop.first and message['role'] != 'system' %}"
    "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n{% endif %}"
    "<|im_start|>{{ message['role'] }}\n{% if message['content'] is string %}"
    "{{ message['content'] }}<|im_end|>\n{% else %}{% for content in message['content'] %}"
    "{% if content['type'] == 'image' or 'image' in content or 'image_url' in content %}"
    "{% set image_count.value = image_count.value + 1 %}{% if add_vision_id %}"
    "Picture {{ image_count.value }}: {% endif %}<|vision_start|><|image_pad|><|vision_end|>"
    "{% elif content['type'] == 'video' or 'video' in content %}"
    "{% set video_count.value = video_count.value + 1 %}{% if add_vision_id %}"
    "Video {{ video_count.value }}: {% endif %}<|vision_start|><|video_pad|><|vision_end|>"
    "{% elif 'text' in content %}{{ content['text'] }}{% endif %}{% endfor %}<|im_end|>\n"
    "{% endif %}{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)

_EXAMPLE_ANSWERS = (
    "<think>a frog on bark, the object is in the center</think> <bbox>[120,88,402,377]</bbox>, "
    "<points>[[260,230],[300,180],[30,40]]</points>, <labels>[1,1,0]</labels>",
    "<think> the object is the red shape on the left </think> <bbox>[12,40,96,130]</bbox>, "
    "<points>[[50,80],[200,200]]</points>, <labels>[1,0]</labels>",
    "<points>[[10,20],[30,40]]</points> <labels>[1,0]</labels>",
)
_ENGLISH = (
    "the a an of in on at to and or is are it this that with from by for as object objects "
    "image picture scene background foreground left right top bottom center middle corner edge "
    "small large big tiny round square circle triangle rectangle ellipse shape shapes blob "
    "red green blue yellow white black gray orange purple pink brown dark light bright "
    "person man woman dog cat bird frog fish car tree leaf animal camouflaged hidden salient "
    "one two three near far above below inside outside next behind front first second "
    "I see there which looks like the main primary most visible part region points box"
)


def training_corpus() -> list[str]:
    """Texts the BPE is trained on: protocol prompts (weighted up), chat scaffolding, answers,
    and some plain English. Deterministic."""
    t = templates
    protocol = [
        t.SYSTEM_PROMPT_TRAIN,
        t.SYSTEM_PROMPT_EVAL,
        t.FOREGROUND_TRAIN_TEXT,
        t.FOREGROUND_EVAL_TEXT,
        t.PRERL_TEXT,
        t.referring_eval_text("the red circle on the left"),
        t.with_format_instruction(t.referring_eval_text("the red circle on the left")),
        t.reasoning_eval_text("Which object looks like a frog?", is_sentence=True),
        t.reasoning_eval_text("frog", is_sentence=False),
        "You are a helpful assistant.",
        "system\n",
        "user\n",
        "assistant\n",
        "\n",
    ]
    words = _ENGLISH.split()
    english = [" ".join(words[i : i + 7]) for i in range(0, len(words), 7)]
    return protocol * 50 + list(_EXAMPLE_ANSWERS) * 20 + english * 5 + words * 3


def _pre_tokenizer():  # -> tokenizers.pre_tokenizers.PreTokenizer
    """Digits become single pre-tokens (never merged); everything else is byte-level BPE."""
    from tokenizers import Regex, pre_tokenizers

    return pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(r"\p{N}"), behavior="isolated"),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )


def _train_bpe(vocab_size: int):  # -> tokenizers.Tokenizer
    from tokenizers import Tokenizer, decoders, normalizers, pre_tokenizers
    from tokenizers.models import BPE
    from tokenizers.trainers import BpeTrainer

    tok = Tokenizer(BPE(unk_token=None, continuing_subword_prefix="", end_of_word_suffix=""))
    tok.normalizer = normalizers.NFC()
    tok.pre_tokenizer = _pre_tokenizer()
    tok.decoder = decoders.ByteLevel()
    trainer = BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=2,
        special_tokens=list(SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(training_corpus(), trainer)
    return tok


def build_tiny_tokenizer(vocab_size: int = DEFAULT_VOCAB_SIZE) -> PreTrainedTokenizerBase:
    """A ``PreTrainedTokenizerFast`` with a BPE vocabulary of at most ``vocab_size`` entries (plus
    the answer tags), the Qwen-VL special tokens and :data:`CHAT_TEMPLATE`; left padding."""
    from tokenizers import AddedToken
    from transformers import PreTrainedTokenizerFast

    if vocab_size < 256 + len(SPECIAL_TOKENS):
        raise ValueError(f"vocab_size={vocab_size} is too small: the byte alphabet needs 270")
    backend = _train_bpe(vocab_size)
    backend.add_tokens([AddedToken(t, special=False, normalized=False) for t in TAG_TOKENS])
    return PreTrainedTokenizerFast(
        tokenizer_object=backend,
        eos_token=EOS_TOKEN,
        pad_token=PAD_TOKEN,
        extra_special_tokens=[t for t in SPECIAL_TOKENS if t not in (EOS_TOKEN, PAD_TOKEN)],
        padding_side="left",
        chat_template=CHAT_TEMPLATE,
    )
