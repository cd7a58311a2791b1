"""What exactly the policy sees: :func:`describe_prompt` (``segr1 prompt``) returns, as plain
JSON-able data, the chat messages a :class:`segr1.Pipeline` sends for a task, query, stage and
profile (system and user text; the image placeholder's place), how the image is prepared, how
the answer is generated, parsed and turned into a mask. With ``model`` it also renders the chat
text with that checkpoint's own processor (loaded offline-first; no weights are loaded).
"""

from __future__ import annotations

from typing import Any

from segr1.profiles import Profile, get_profile
from segr1.protocol.formats import get_format, template_for


def default_side(task: str) -> int:
    """S: 768 for foreground / pre-RL, 1024 for referring / reasoning (the released values)."""
    return 768 if task in ("foreground", "prerl") else 1024


def describe_prompt(
    task: str,
    query: str | None = None,
    *,
    is_sentence: bool = True,
    profile: str | Profile = "default",
    stage: str = "eval",
    side: int | None = None,
    model: str | None = None,
    answer_format: str = "seg-r1",
    abstain: bool = False,
) -> dict[str, Any]:
    """The policy's input for one image (see the module docstring)."""
    fmt = get_format(answer_format)
    template = template_for(fmt, task, stage, abstain)
    prof = get_profile(profile)
    messages = template.messages(query, is_sentence)
    conv = prof.conventions(task)
    if fmt.name != "seg-r1":
        conv["parsing"] = (
            f"{fmt.name}: the first <answer>...</answer> body read as JSON (single quotes "
            "allowed; never evaluated); 'none' is the no-target answer"
        )
    s = side or fmt.side or default_side(task)
    budget = fmt.max_new_tokens or prof.max_new_tokens(task)
    info: dict[str, Any] = {
        "task": task,
        "stage": stage,
        "answer_format": fmt.name,
        "profile": prof.name,
        "template": template.name,
        "messages": messages,
        "image": {
            "where": "the first item of the user turn, before the text ({'type': 'image'})",
            "side": s,
            "policy_input": conv["policy input"],
            "segmenter_input": conv["segmenter input"],
        },
        "generation": {"decoding": "greedy", "max_new_tokens": budget},
        "answer": {"parsing": conv["parsing"], "prompts_to_mask": conv["prompts to mask"]},
    }
    if model is not None:
        from transformers import AutoProcessor

        from segr1.policy.load import resolve_source

        processor = AutoProcessor.from_pretrained(resolve_source(model))
        info["chat_text"] = processor.apply_chat_template(
            messages, tokenize=False, add_generation_prompt=True
        )
    return info
