"""The model architectures the benchmarks build with random weights (real cost, meaningless
outputs; nothing is downloaded), and the answers they substitute for random text.

* policies: Qwen2.5-VL-3B-Instruct and -7B-Instruct (the released Seg-R1 sizes), and ``tiny``
  (the same classes at test size); the processor uses the project's offline tokenizer (it only
  encodes prompts, so the model's vocabulary size is the real one);
* segmenters: SAM2.1 hiera-large / hiera-tiny (1024 px), and ``test-tiny`` (the 64 px test SAM2);
* :func:`answer_text`: a well-formed answer like a trained policy's (1-2 boxes, 3-8 points),
  since text from random weights never parses and SAM2 would otherwise never run.
"""

from __future__ import annotations

from typing import Any

import numpy as np

QWEN25_VL_3B_TEXT = {
    "vocab_size": 151936,
    "hidden_size": 2048,
    "intermediate_size": 11008,
    "num_hidden_layers": 36,
    "num_attention_heads": 16,
    "num_key_value_heads": 2,
    "max_position_embeddings": 128000,
    "rms_norm_eps": 1e-6,
    "rope_parameters": {"rope_type": "default", "rope_theta": 1e6, "mrope_section": [16, 24, 24]},
}
QWEN25_VL_3B_VISION = {
    "depth": 32,
    "hidden_size": 1280,
    "intermediate_size": 3420,
    "num_heads": 16,
    "out_hidden_size": 2048,
    "patch_size": 14,
    "spatial_merge_size": 2,
    "temporal_patch_size": 2,
    "window_size": 112,
    "fullatt_block_indexes": [7, 15, 23, 31],
}
# Qwen2.5-VL-7B-Instruct: wider and shallower text model, same vision tower, untied embeddings
QWEN25_VL_7B_TEXT = {
    **QWEN25_VL_3B_TEXT,
    "vocab_size": 152064,
    "hidden_size": 3584,
    "intermediate_size": 18944,
    "num_hidden_layers": 28,
    "num_attention_heads": 28,
    "num_key_value_heads": 4,
}
QWEN25_VL_7B_VISION = {**QWEN25_VL_3B_VISION, "out_hidden_size": 3584}
TINY_TEXT = {
    **QWEN25_VL_3B_TEXT,
    "vocab_size": 2048,
    "hidden_size": 128,
    "intermediate_size": 256,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "rope_parameters": {**QWEN25_VL_3B_TEXT["rope_parameters"], "mrope_section": [4, 6, 6]},
}
TINY_VISION = {
    **QWEN25_VL_3B_VISION,
    "depth": 2,
    "hidden_size": 64,
    "intermediate_size": 128,
    "num_heads": 4,
    "out_hidden_size": 128,
    "fullatt_block_indexes": [1],
}
POLICIES = {
    "3b": (QWEN25_VL_3B_TEXT, QWEN25_VL_3B_VISION, True),  # (text, vision, tied embeddings)
    "7b": (QWEN25_VL_7B_TEXT, QWEN25_VL_7B_VISION, False),
    "tiny": (TINY_TEXT, TINY_VISION, True),
}
POLICY_NAMES = {"3b": "Qwen2.5-VL-3B", "7b": "Qwen2.5-VL-7B", "tiny": "tiny Qwen2.5-VL"}
SAM2_ARCHS = ("hiera-large", "hiera-tiny", "test-tiny")


def build_policy(scale: str, device: str, attn: str = "sdpa", seed: int = 0) -> tuple[Any, Any]:
    """(model, processor): the ``scale`` policy architecture with seeded random weights, bf16 on
    CUDA and float32 on the CPU, and a processor with the offline tokenizer."""
    import torch
    from transformers import (
        AutoModelForImageTextToText,
        Qwen2_5_VLConfig,
        Qwen2_5_VLProcessor,
        Qwen2VLImageProcessor,
    )
    from transformers.models.qwen2_vl.video_processing_qwen2_vl import Qwen2VLVideoProcessor

    from segr1.policy import CHAT_TEMPLATE, build_tiny_tokenizer

    tok = build_tiny_tokenizer()
    ids = {
        f"{name}_token_id": tok.convert_tokens_to_ids(token)
        for name, token in (
            ("image", "<|image_pad|>"),
            ("video", "<|video_pad|>"),
            ("vision_start", "<|vision_start|>"),
            ("vision_end", "<|vision_end|>"),
        )
    }
    text, vision, tied = POLICIES[scale]
    text = {**text, "eos_token_id": tok.eos_token_id, "pad_token_id": tok.pad_token_id}
    config = Qwen2_5_VLConfig(
        text_config=text, vision_config=dict(vision), tie_word_embeddings=tied, **ids
    )
    torch.manual_seed(seed)
    dtype = torch.bfloat16 if device.startswith("cuda") else torch.float32
    with torch.device(device):
        model = AutoModelForImageTextToText.from_config(
            config, dtype=dtype, attn_implementation=attn
        )
    # the real Qwen2.5-VL pixel budget: 768 px -> 756 px, 729 image tokens
    processor = Qwen2_5_VLProcessor(
        Qwen2VLImageProcessor(), tok, Qwen2VLVideoProcessor(), chat_template=CHAT_TEMPLATE
    )
    return model.eval(), processor


def build_sam2(arch: str, seed: int = 0, device: str = "cpu", dtype: str = "float32", **kw: Any):
    """A transformers-backend SAM2 of ``arch`` (see :data:`SAM2_ARCHS`), seeded random weights."""
    from segr1.segment import Sam2Segmenter, hiera_tiny_config, tiny_sam2_config
    from segr1.segment.sam2 import hiera_large_config

    configs = {
        "hiera-large": hiera_large_config,
        "hiera-tiny": hiera_tiny_config,
        "test-tiny": tiny_sam2_config,
    }
    return Sam2Segmenter.from_config(configs[arch](), seed=seed, device=device, dtype=dtype, **kw)


def answer_text(side: int, rng: np.random.Generator) -> str:
    """A well-formed answer like a trained policy's: 1-2 boxes, 3-8 labelled points."""
    from segr1.protocol import Answer, format_answer

    boxes = []
    for _ in range(rng.integers(1, 3)):
        x1, y1 = (int(v) for v in rng.integers(0, side // 2, 2))
        w, h = (int(v) for v in rng.integers(side // 8, side // 2, 2))
        boxes.append([x1, y1, x1 + w, y1 + h])
    n = int(rng.integers(3, 9))
    points = rng.integers(0, side, (n, 2)).tolist()
    labels = rng.integers(0, 2, n).tolist()
    return format_answer(Answer(boxes, points, labels, think="an object", points_parsed=True))


def busy_note(device: str) -> list[str]:
    """A warning line when other processes share the CPU that several torch threads run on."""
    import os

    import torch

    load = os.getloadavg()[0]
    if not device.startswith("cpu") or torch.get_num_threads() == 1 or load < 0.5:
        return []
    return [
        f"NOTE: other processes were running (load {load:.1f}) and torch used "
        f"{torch.get_num_threads()} threads: small ops (the SAM2 decoder, a tiny model) then "
        "vary with their load (OpenMP threads wait on each other); --threads 1 is steadier"
    ]


def footer(device: str = "cpu") -> list[str]:
    """The closing lines of every benchmark report: the machine, the libraries, the command."""
    import platform
    import shlex
    import sys

    import torch
    import transformers

    return [
        *busy_note(device),
        f"machine: {platform.platform()}, {platform.processor() or platform.machine()}, "
        f"torch {torch.__version__} ({torch.get_num_threads()} threads), "
        f"transformers {transformers.__version__}",
        "command: " + shlex.join([sys.executable.rsplit("/", 1)[-1], *sys.argv]),
    ]


def run_main(parse_args: Any, run: Any, report: Any, argv: list[str] | None = None) -> None:
    """A benchmark's ``main``: parse, set ``--threads`` when given, run, print the report."""
    import torch

    args = parse_args(argv)
    if getattr(args, "threads", 0):
        torch.set_num_threads(args.threads)
    print(report(args, run(args)))
