"""What the trainer needs to know about the policy: LoRA / QLoRA configs and vision freezing.

The policy itself is loaded by TRL from ``config.policy`` (hub id or directory) with
``config.model_init_kwargs`` (dtype, attention implementation): TRL builds the reference model
for the KL term the same way, so the policy and its reference cannot drift apart, and TRL places
both correctly under DeepSpeed / FSDP / device maps. The processor is loaded from the same
source by TRL (``AutoProcessor``, left padding).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch

    from segr1.train.config import SegR1Config


def lora_config(cfg: SegR1Config) -> Any | None:
    """A ``peft.LoraConfig`` for the language model, or None without ``use_peft``."""
    if not cfg.use_peft:
        return None
    from peft import LoraConfig

    return LoraConfig(
        r=cfg.lora_r,
        lora_alpha=cfg.lora_alpha,
        lora_dropout=cfg.lora_dropout,
        target_modules=list(cfg.lora_target_modules),
        task_type="CAUSAL_LM",
    )


def quantization_config(cfg: SegR1Config) -> Any | None:
    """4-bit NF4 (QLoRA) through bitsandbytes, or None. Needs CUDA and ``bitsandbytes``."""
    if not cfg.load_in_4bit:
        return None
    import torch
    from transformers import BitsAndBytesConfig

    if not torch.cuda.is_available():
        raise RuntimeError("load_in_4bit needs a CUDA GPU (bitsandbytes 4-bit kernels)")
    return BitsAndBytesConfig(
        load_in_4bit=True,
        bnb_4bit_quant_type="nf4",
        bnb_4bit_use_double_quant=True,
        bnb_4bit_compute_dtype=torch.bfloat16,
    )


def vision_tower(model: torch.nn.Module) -> torch.nn.Module:
    """The image encoder of a transformers VLM (``visual`` for Qwen-VL, ``vision_tower``, ...)."""
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    tower = base.get_encoder(modality="image") if hasattr(base, "get_encoder") else None
    if tower is None or tower is base or tower is getattr(base, "model", None):
        raise ValueError(
            f"{type(base).__name__} has no vision tower transformers can find "
            "(get_encoder('image')); set freeze_vision: false"
        )
    return tower


def freeze_vision(model: torch.nn.Module) -> int:
    """Stop gradients into the vision tower (Qwen: including its merger). Returns #params frozen."""
    n = 0
    for p in vision_tower(model).parameters():
        if p.requires_grad:
            p.requires_grad_(False)
            n += p.numel()
    return n
