"""A tiny policy whose greedy answers PARSE and DIFFER PER IMAGE, for evaluation tests.

A random tiny policy never writes a usable answer, so an evaluation test run with it sees only
empty masks: a mask written under the wrong id, or scored against the wrong ground truth, would
still pass. :func:`answering_policy` teaches the tiny Qwen2.5-VL, by next-token prediction, one
answer per image (a box around that image's object and one object point, in the S x S frame),
until it reproduces every answer exactly under greedy decoding (under a minute on one CPU
thread for 20 images).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

POLICY_IMAGE_SIDE = 56  # the tiny processor's pixel side: 2 x 2 merged patches, 4 image tokens


def object_answer(mask: np.ndarray) -> str:
    """The answer for an (S, S) bool mask: its bounding box and one pixel of it; a fixed box in
    the top-left corner when the mask is empty."""
    from segr1.protocol import Answer, format_answer

    ys, xs = np.nonzero(mask)
    if not len(xs):
        return format_answer(Answer([[2, 2, 12, 12]], [[6, 6]], [1], think="", points_parsed=True))
    box = [int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1]
    point = [int(xs[len(xs) // 2]), int(ys[len(ys) // 2])]
    return format_answer(Answer([box], [point], [1], think="", points_parsed=True))


def sample_answers(samples: Sequence, side: int) -> list[tuple[np.ndarray, str]]:
    """(S x S image, its answer) for each sample, through the project's one stretch."""
    from segr1.imaging import binarize, resize_levels, stretch

    out = []
    for s in samples:
        image, mask = s.load_pair()
        out.append(
            (stretch(image, side), object_answer(binarize(resize_levels(mask, (side, side)))))
        )
    return out


def answering_policy(
    out_dir: Path,
    pairs: Sequence[tuple[np.ndarray, str]],
    stage: str = "eval",
    max_steps: int = 1200,
    check_every: int = 100,
    seed: int = 0,
) -> Path:
    """Teach a fresh tiny policy to answer the foreground prompt of ``stage`` with ``pairs[i][1]``
    when shown ``pairs[i][0]``; saved under ``out_dir``. Training stops once greedy decoding
    reproduces every answer (checked every ``check_every`` steps); raises when it never does."""
    import torch
    from PIL import Image

    from segr1.policy import build_tiny_policy, load_policy
    from segr1.policy.warmup import answer_step
    from segr1.protocol.templates import Template

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    raw = build_tiny_policy(out_dir / "raw", image_side=POLICY_IMAGE_SIDE, seed=seed)
    model, processor = load_policy(raw, dtype="float32")
    tok = processor.tokenizer
    messages = Template("foreground", stage).messages()  # type: ignore[arg-type]
    prompt = processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    images = [Image.fromarray(img) for img, _ in pairs]
    n_prompt = len(processor(text=[prompt], images=images[:1]).input_ids[0])
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=0.0)
    said: list[str] = []
    for step in range(1, max_steps + 1):
        model.train()
        tok.padding_side = "right"
        idx = rng.choice(len(pairs), size=min(8, len(pairs)), replace=False)
        texts = [prompt + pairs[i][1] + tok.eos_token for i in idx]
        answer_step(model, processor, opt, n_prompt, texts, [images[i] for i in idx])
        if step % check_every == 0:
            said = _greedy(model, processor, prompt, images)
            if said == [answer for _, answer in pairs]:
                break
    else:
        wrong = [
            i for i, (text, (_, want)) in enumerate(zip(said, pairs, strict=True)) if text != want
        ]
        raise AssertionError(f"the answering policy did not learn answers {wrong}: {said}")
    final = out_dir / "policy"
    model.save_pretrained(final)
    processor.save_pretrained(final)
    return final


def _greedy(model, processor, prompt: str, images: list) -> list[str]:
    import torch

    model.eval()
    processor.tokenizer.padding_side = "left"
    enc = processor(text=[prompt] * len(images), images=images, return_tensors="pt", padding=True)
    with torch.inference_mode():
        out = model.generate(**enc, max_new_tokens=64, do_sample=False)
    return processor.batch_decode(out[:, enc["input_ids"].shape[1] :], skip_special_tokens=True)
