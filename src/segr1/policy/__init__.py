"""The policy: load any Qwen-VL checkpoint (:func:`load_policy`) or build the tiny offline one
(:func:`build_tiny_policy`). Importing this package is cheap; torch/transformers load on use."""

from segr1.policy.load import load_policy, resolve_dtype
from segr1.policy.tiny import ARCHS, TinySize, build_tiny_policy
from segr1.policy.tokenizer import CHAT_TEMPLATE, build_tiny_tokenizer

__all__ = [
    "ARCHS",
    "CHAT_TEMPLATE",
    "TinySize",
    "build_tiny_policy",
    "build_tiny_tokenizer",
    "load_policy",
    "resolve_dtype",
]
