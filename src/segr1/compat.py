"""Workarounds for upstream library bugs, each behind a version check and naming its issue.

* :func:`restore_checkpoint_weights` - transformers >= 4.52 (checked up to 5.24.0, still open):
  huggingface/transformers#43701. ``Trainer.train(resume_from_checkpoint=...)`` reads the
  checkpoint's ``model.safetensors`` with ``model.load_state_dict(state_dict, strict=False)``
  and no key conversion. Vision-language models such as Qwen2.5-VL and Qwen3-VL save their
  weights under the original names (``model.layers.0...``, ``visual...``) but hold them as
  ``model.language_model.layers.0...`` / ``model.visual...`` in memory, so every key mismatches,
  nothing is loaded, and the "resumed" run silently trains on from the INITIAL weights (with the
  restored optimizer state). The workaround loads the checkpoint with ``from_pretrained`` (which
  applies the conversion) into the model before ``Trainer`` resumes; Trainer's own load then
  matches no key and changes nothing, and it still restores optimizer, scheduler, RNG and data
  position. DeepSpeed and FSDP checkpoints, and PEFT adapters, take other loading paths and are
  left alone.
"""

from __future__ import annotations

import json
from pathlib import Path

_CONVERSION_BUG_SINCE = "4.52.0"


def _checkpoint_keys(checkpoint: Path) -> set[str] | None:
    index = checkpoint / "model.safetensors.index.json"
    if index.is_file():
        return set(json.loads(index.read_text())["weight_map"])
    single = checkpoint / "model.safetensors"
    if not single.is_file():
        return None
    from safetensors import safe_open

    with safe_open(str(single), framework="pt") as f:
        return set(f.keys())


def restore_checkpoint_weights(trainer, checkpoint: str | Path) -> bool:
    """Load ``checkpoint``'s weights into ``trainer.model`` with key conversion, when Trainer's
    own resume would miss them (see the module docstring). Returns whether it loaded them."""
    import transformers
    from accelerate.utils import is_peft_model
    from packaging.version import Version

    if Version(transformers.__version__) < Version(_CONVERSION_BUG_SINCE):
        return False
    model = trainer.model
    if trainer.is_deepspeed_enabled or trainer.is_fsdp_enabled or is_peft_model(model):
        return False
    keys = _checkpoint_keys(Path(checkpoint))
    if keys is None or keys <= set(model.state_dict()):
        return False  # nothing saved under other names: Trainer's load works
    loaded = type(model).from_pretrained(str(checkpoint), dtype=model.dtype, device_map=None)
    model.load_state_dict(loaded.state_dict(), strict=True)
    return True
