"""Load any image-text-to-text policy (Qwen2.5-VL, Qwen3-VL, ...) and its processor by hub id or
local directory, through transformers' Auto classes. No model names are special-cased: a
released Seg-R1 checkpoint (``geshang/Seg-R1-7B``), a base Qwen-VL and the tiny offline policy
all take this one path.

Contract of :func:`load_policy`:

* returns ``(model, processor)``; the model is in eval mode on ``device``;
* the tokenizer pads on the LEFT (batched generation appends to the right end);
* ``pad_token_id`` of the model's generation config is set from the tokenizer when missing;
* ``dtype="auto"`` means bfloat16 on a CUDA device that supports it and float32 elsewhere
  (CPU bf16 matmuls are slow); ``"float32"``, ``"bfloat16"`` and ``"float16"`` force it;
* ``trust_remote_code`` stays False unless asked for.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch

DTYPES = ("auto", "float32", "bfloat16", "float16")


def resolve_dtype(dtype: str, device: str) -> torch.dtype:
    """``"auto"`` | ``"float32"`` | ``"bfloat16"`` | ``"float16"`` -> a torch dtype for ``device``."""
    import torch

    if dtype not in DTYPES:
        raise ValueError(f"unknown dtype {dtype!r}; choose one of {', '.join(DTYPES)}")
    if dtype != "auto":
        return getattr(torch, dtype)
    if (
        str(device).startswith("cuda")
        and torch.cuda.is_available()
        and torch.cuda.is_bf16_supported()
    ):
        return torch.bfloat16
    return torch.float32


def resolve_source(name_or_path: str | Path) -> str:
    """A local directory, or a hub id; a path-like name that does not exist fails here, naming
    it, instead of being sent to the hub."""
    text = str(name_or_path)
    path = Path(text).expanduser()
    if path.exists():
        return str(path)
    looks_local = isinstance(name_or_path, Path) or text.startswith((".", "/", "~"))
    if looks_local or text.count("/") > 1:
        raise FileNotFoundError(f"{text}: no such policy directory (nor a hub id 'org/name')")
    return text


def load_policy(
    name_or_path: str | Path,
    *,
    device: str = "cpu",
    dtype: str = "auto",
    attn_implementation: str | None = None,
    trust_remote_code: bool = False,
) -> tuple[Any, Any]:
    """``(model, processor)`` for a hub id or a local directory (see the module contract)."""
    from transformers import AutoModelForImageTextToText, AutoProcessor

    kwargs: dict[str, Any] = {"dtype": resolve_dtype(dtype, device)}
    source = resolve_source(name_or_path)
    if attn_implementation is not None:
        kwargs["attn_implementation"] = attn_implementation
    model = AutoModelForImageTextToText.from_pretrained(
        source, trust_remote_code=trust_remote_code, **kwargs
    )
    model.to(device).eval()
    processor = AutoProcessor.from_pretrained(source, trust_remote_code=trust_remote_code)
    tokenizer = processor.tokenizer
    tokenizer.padding_side = "left"
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    if model.generation_config.pad_token_id is None:
        model.generation_config.pad_token_id = tokenizer.pad_token_id
    return model, processor
