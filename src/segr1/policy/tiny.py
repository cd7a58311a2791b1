"""The tiny offline policy: a randomly initialised Qwen2.5-VL (or Qwen3-VL) small enough for a
GRPO step on a CPU in well under a second, saved as an ordinary Hugging Face directory.

:func:`build_tiny_policy` writes ``config.json``, ``generation_config.json``,
``model.safetensors``, the tokenizer files, the processor / image-processor / video-processor
configs and the chat template. The directory loads with :func:`segr1.policy.load_policy` and with
plain ``AutoModelForImageTextToText.from_pretrained`` / ``AutoProcessor.from_pretrained``.

What is real: the model classes (``Qwen2_5_VLForConditionalGeneration``,
``Qwen3VLForConditionalGeneration``), the processor classes, the image processor
(``Qwen2VLImageProcessor``: patchify, merge, normalise), the chat template, the special tokens
and the config wiring of their ids, M-RoPE, window attention (2.5) and deepstack (3): the same
code paths a real checkpoint takes.

What is toy: the sizes (defaults in :class:`TinySize`: text hidden 128, 2 layers; vision hidden
64, depth 2), random weights, the ~1k-entry tokenizer (see :mod:`segr1.policy.tokenizer`), and
the image processor's pixel budget: every square image is resized to ``image_side`` pixels
(224 with patch 14 for Qwen2.5-VL, 256 with patch 16 for Qwen3-VL), i.e. 8 x 8 = 64 vision
tokens after the 2 x 2 merge, so a foreground prompt is about 200 tokens.

Deterministic: the same ``arch``, ``seed`` and sizes give byte-identical weights and tokenizer.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from segr1.policy.tokenizer import CHAT_TEMPLATE, EOS_TOKEN, PAD_TOKEN, build_tiny_tokenizer

Arch = Literal["qwen2_5_vl", "qwen3_vl"]
ARCHS: tuple[str, ...] = ("qwen2_5_vl", "qwen3_vl")
_PATCH = {"qwen2_5_vl": 14, "qwen3_vl": 16}


@dataclass(frozen=True)
class TinySize:
    """Sizes of the tiny policy; any field can be overridden through ``build_tiny_policy``."""

    hidden_size: int = 128
    intermediate_size: int = 256
    num_hidden_layers: int = 2
    num_attention_heads: int = 4
    num_key_value_heads: int = 2
    vision_hidden_size: int = 64
    vision_intermediate_size: int = 128
    vision_depth: int = 2
    vision_num_heads: int = 4
    image_side: int | None = None  # None: 8 merged patches per side (224 or 256 px)
    vocab_size: int = 1024  # BPE entries before the answer tags; the model rounds up to 64
    max_position_embeddings: int = 4096

    @property
    def head_dim(self) -> int:
        return self.hidden_size // self.num_attention_heads


def _mrope_section(head_dim: int, arch: str) -> list[int]:
    """Split ``head_dim / 2`` rotary frequencies over (time, height, width) in the real configs'
    proportions: [16, 24, 24] of 64 for Qwen2.5-VL, [24, 20, 20] of 64 for Qwen3-VL."""
    half = head_dim // 2
    if arch == "qwen2_5_vl":
        t = half // 4
        h = (half - t) // 2
        return [t, h, half - t - h]
    hw = half * 20 // 64
    return [half - 2 * hw, hw, hw]


def _token_ids(tokenizer) -> dict[str, int]:
    names = {
        "image_token_id": "<|image_pad|>",
        "video_token_id": "<|video_pad|>",
        "vision_start_token_id": "<|vision_start|>",
        "vision_end_token_id": "<|vision_end|>",
    }
    return {name: tokenizer.convert_tokens_to_ids(tok) for name, tok in names.items()}


def _text_config(size: TinySize, arch: str, vocab: int, eos: int, pad: int) -> dict[str, Any]:
    rope = {"rope_type": "default", "mrope_section": _mrope_section(size.head_dim, arch)}
    if arch == "qwen2_5_vl":
        rope["rope_theta"] = 1_000_000.0
    else:
        rope.update(rope_theta=5_000_000.0, mrope_interleaved=True)
    cfg: dict[str, Any] = {
        "vocab_size": vocab,
        "hidden_size": size.hidden_size,
        "intermediate_size": size.intermediate_size,
        "num_hidden_layers": size.num_hidden_layers,
        "num_attention_heads": size.num_attention_heads,
        "num_key_value_heads": size.num_key_value_heads,
        "max_position_embeddings": size.max_position_embeddings,
        "rope_parameters": rope,
        "pad_token_id": pad,
    }
    if arch == "qwen2_5_vl":
        cfg.update(bos_token_id=pad, eos_token_id=eos, max_window_layers=size.num_hidden_layers)
    else:
        cfg["head_dim"] = size.head_dim
    return cfg


def _vision_config(size: TinySize, arch: str, image_side: int) -> dict[str, Any]:
    patch = _PATCH[arch]
    cfg: dict[str, Any] = {
        "depth": size.vision_depth,
        "hidden_size": size.vision_hidden_size,
        "intermediate_size": size.vision_intermediate_size,
        "num_heads": size.vision_num_heads,
        "patch_size": patch,
        "spatial_merge_size": 2,
        "temporal_patch_size": 2,
        "out_hidden_size": size.hidden_size,
    }
    if arch == "qwen2_5_vl":
        # Windows of 4 x 4 merged patches; the last block attends globally (as in 2.5's 7B).
        cfg.update(window_size=patch * 2 * 4, fullatt_block_indexes=[size.vision_depth - 1])
    else:
        cfg.update(
            num_position_embeddings=(image_side // patch) ** 2,
            deepstack_visual_indexes=[0],
        )
    return cfg


def _config(size: TinySize, arch: str, tokenizer, image_side: int):
    from transformers import Qwen2_5_VLConfig, Qwen3VLConfig

    eos = tokenizer.convert_tokens_to_ids(EOS_TOKEN)
    pad = tokenizer.convert_tokens_to_ids(PAD_TOKEN)
    vocab = -(-len(tokenizer) // 64) * 64
    cls = Qwen2_5_VLConfig if arch == "qwen2_5_vl" else Qwen3VLConfig
    return cls(
        text_config=_text_config(size, arch, vocab, eos, pad),
        vision_config=_vision_config(size, arch, image_side),
        tie_word_embeddings=True,
        **_token_ids(tokenizer),
    )


def _processor(arch: str, tokenizer, image_side: int):
    from transformers import Qwen2_5_VLProcessor, Qwen2VLImageProcessor, Qwen3VLProcessor
    from transformers.models.qwen2_vl.video_processing_qwen2_vl import Qwen2VLVideoProcessor
    from transformers.models.qwen3_vl.video_processing_qwen3_vl import Qwen3VLVideoProcessor

    patch = _PATCH[arch]
    # A pixel budget of (side +- half a merged patch)^2 maps every square image to exactly
    # side x side: smart_resize floors / ceils sqrt(budget) / unit, immune to float round-off.
    half = patch  # half of a 2 x 2 merged unit
    pixels = {"shortest_edge": (image_side - half) ** 2, "longest_edge": (image_side + half) ** 2}
    kw = {"patch_size": patch, "merge_size": 2, "temporal_patch_size": 2, "size": pixels}
    image_processor = Qwen2VLImageProcessor(**kw)
    if arch == "qwen2_5_vl":
        video = Qwen2VLVideoProcessor(**kw)
        return Qwen2_5_VLProcessor(image_processor, tokenizer, video, chat_template=CHAT_TEMPLATE)
    video = Qwen3VLVideoProcessor(**kw)
    return Qwen3VLProcessor(image_processor, tokenizer, video, chat_template=CHAT_TEMPLATE)


def _generation_config(tokenizer):
    from transformers import GenerationConfig

    eos = tokenizer.convert_tokens_to_ids(EOS_TOKEN)
    pad = tokenizer.convert_tokens_to_ids(PAD_TOKEN)
    return GenerationConfig(eos_token_id=[eos, pad], pad_token_id=pad, do_sample=False)


def tiny_size(**overrides: Any) -> TinySize:
    """:class:`TinySize` with ``overrides``; unknown names raise with the list of valid ones."""
    valid = {f.name for f in dataclasses.fields(TinySize)}
    unknown = sorted(set(overrides) - valid)
    if unknown:
        raise TypeError(f"unknown size field(s) {unknown}; valid: {', '.join(sorted(valid))}")
    return dataclasses.replace(TinySize(), **overrides)


def build_tiny_policy(
    out_dir: str | Path, arch: Arch = "qwen2_5_vl", seed: int = 0, **size_overrides: Any
) -> Path:
    """Build the tiny random policy + processor and save them to ``out_dir``; returns the path."""
    import torch
    from transformers import Qwen2_5_VLForConditionalGeneration, Qwen3VLForConditionalGeneration

    if arch not in ARCHS:
        raise ValueError(f"unknown arch {arch!r}; choose one of {', '.join(ARCHS)}")
    size = tiny_size(**size_overrides)
    unit = _PATCH[arch] * 2
    image_side = size.image_side or unit * 8
    if image_side % unit:
        raise ValueError(f"image_side={image_side} must be a multiple of {unit} for {arch}")
    tokenizer = build_tiny_tokenizer(size.vocab_size)
    config = _config(size, arch, tokenizer, image_side)
    cls = (
        Qwen2_5_VLForConditionalGeneration
        if arch == "qwen2_5_vl"
        else Qwen3VLForConditionalGeneration
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = cls(config).to(torch.float32).eval()
    model.generation_config = _generation_config(tokenizer)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    _processor(arch, tokenizer, image_side).save_pretrained(out)
    _write_card(out, arch, seed, size, image_side)
    return out


def _write_card(out: Path, arch: str, seed: int, size: TinySize, image_side: int) -> None:
    meta = {"arch": arch, "seed": seed, "image_side": image_side, **dataclasses.asdict(size)}
    (out / "README.md").write_text(
        "# segr1 tiny policy (random weights)\n\n"
        "A toy Qwen-VL built offline by `segr1.policy.build_tiny_policy` for tests and the demo.\n"
        "Its answers mean nothing until it is trained. Build settings:\n\n"
        f"```json\n{json.dumps(meta, indent=2)}\n```\n"
    )
