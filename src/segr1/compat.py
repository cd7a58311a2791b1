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
* :func:`enable_episode_images` / :func:`rollout_without_tool_loop` - TRL 1.x (checked on
  1.16.0): a ``rollout_func`` cannot hand images back for the forward pass. ``GRPOTrainer.
  _generate`` returns ``images = None`` on the ``rollout_func`` path, and
  ``_generate_and_score_completions`` then re-renders the dataset prompt with the dataset's
  image only, so the observation images of a refinement episode (inside the completion) would
  have image tokens but no pixels. The one branch of the forward pass that takes images
  produced during the rollout is the tool branch (``if self.tools and any(tool_images)``: the
  image processor over every image, ``mm_token_type_ids`` from the ids). The workaround gives
  the trainer a non-empty ``tools`` list holding one marker that is never called (no tool is
  rendered into any prompt: the rollout renders its own prompts) and clears it while
  ``GRPOTrainer._generate`` runs, so TRL's tool-calling loop never runs and the rollout's
  ``env_mask`` stays the loss mask. :class:`segr1.train.episodes.EpisodeTrainer` returns the
  episode images from ``_generate``. Upstream: a ``rollout_func`` returning images is not
  supported (huggingface/trl, rollout_func docs: "prompt_ids", "completion_ids", "logprobs").
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

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


_EPISODE_IMAGES_CHECKED = ("1.16.0",)


def _episode_images_marker() -> None:
    """Marker in ``GRPOTrainer.tools`` (see the module docstring); never called."""
    raise RuntimeError("segr1's episode-images marker is not a tool")


def enable_episode_images(trainer: Any) -> None:
    """Route the rollout's images through TRL's tool-image forward branch (module docstring)."""
    import warnings

    import trl

    if not hasattr(trainer, "tools") or not hasattr(trainer, "_tool_call_loop"):
        raise RuntimeError(
            f"trl {trl.__version__}: GRPOTrainer has no tools / _tool_call_loop; segr1's "
            "multi-turn training was written against trl 1.16 (segr1.compat)"
        )
    if trl.__version__ not in _EPISODE_IMAGES_CHECKED:
        warnings.warn(
            f"segr1 multi-turn training was checked on trl {_EPISODE_IMAGES_CHECKED}, not "
            f"{trl.__version__}; tests/test_episodes.py says whether it still holds",
            stacklevel=2,
        )
    trainer.tools = [_episode_images_marker]


@contextlib.contextmanager
def rollout_without_tool_loop(trainer: Any) -> Iterator[None]:
    """Clear the marker while ``GRPOTrainer._generate`` runs (its tool loop would replace the
    rollout's ``env_mask``)."""
    tools, trainer.tools = trainer.tools, []
    try:
        yield
    finally:
        trainer.tools = tools
