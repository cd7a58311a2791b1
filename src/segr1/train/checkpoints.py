"""What a run leaves on disk: resumable checkpoints and the final plain Hugging Face policy.

* ``output_dir/checkpoint-N`` are written by ``transformers.Trainer`` every ``save_steps``
  (the newest ``save_total_limit`` kept): weights, optimizer, scheduler, RNG states per process
  and ``trainer_state.json`` (written last). :func:`latest_checkpoint` returns the newest one
  that is COMPLETE, so a run killed while saving resumes from the previous checkpoint instead of
  a half-written one (``transformers.trainer_utils.get_last_checkpoint`` only looks at names).
* ``output_dir/final`` (:func:`save_final`): config, safetensors, processor, chat template and
  generation config, loadable with ``AutoModelForImageTextToText.from_pretrained``. A LoRA run
  saves its adapter to ``output_dir/final-adapter`` and merges it into the base weights (loaded
  unquantized, on the CPU, from ``policy``) so ``final`` needs no PEFT to load.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from segr1.train.config import SegR1Config

_CHECKPOINT = re.compile(r"^checkpoint-(\d+)$")
STATE_FILE = "trainer_state.json"
ADAPTER_NAME = "final-adapter"


def saved_step(checkpoint: str | Path) -> int | None:
    """The optimizer step ``checkpoint`` was saved at (its ``trainer_state.json``), or None
    when that file is missing, torn or empty: the save was cut short."""
    from segr1.outdirs import read_record

    step = (read_record(Path(checkpoint) / STATE_FILE) or {}).get("global_step")
    return step if isinstance(step, int) else None


def is_complete(checkpoint: Path) -> bool:
    """Whether ``checkpoint`` holds a whole ``trainer_state.json`` (:func:`saved_step`)."""
    return saved_step(checkpoint) is not None


def checkpoints(output_dir: str | Path) -> list[Path]:
    """Complete checkpoints (:func:`is_complete`) under ``output_dir``, oldest first."""
    root = Path(output_dir)
    if not root.is_dir():
        return []
    found = []
    for p in root.iterdir():
        m = _CHECKPOINT.match(p.name)
        if m and p.is_dir() and is_complete(p):
            found.append((int(m.group(1)), p))
    return [p for _, p in sorted(found)]


def latest_checkpoint(output_dir: str | Path) -> Path | None:
    """The newest complete checkpoint, or None."""
    found = checkpoints(output_dir)
    return found[-1] if found else None


def save_final(trainer, cfg: SegR1Config, final_dir: str | Path) -> Path:
    """Save the trained policy as a plain HF directory (LoRA merged). Call on every process."""
    from accelerate.utils import is_peft_model

    final_dir = Path(final_dir)
    if not is_peft_model(trainer.model):
        trainer.save_model(str(final_dir))  # gathers ZeRO-3 / FSDP shards; writes the processor
    else:
        adapter_dir = final_dir.parent / ADAPTER_NAME
        trainer.save_model(str(adapter_dir))
        if cfg.should_save:
            merge_adapter(cfg, adapter_dir, final_dir, trainer.processing_class)
    trainer.accelerator.wait_for_everyone()
    return final_dir


def merge_adapter(cfg: SegR1Config, adapter_dir: Path, final_dir: Path, processor) -> None:
    """Base policy (unquantized, CPU) + adapter -> merged weights in ``final_dir``."""
    from peft import PeftModel
    from trl.trainer.utils import create_model_from_path

    kwargs = dict(cfg.model_init_kwargs or {})
    kwargs.pop("quantization_config", None)
    kwargs["device_map"] = None
    kwargs.setdefault("trust_remote_code", cfg.trust_remote_code)
    base = create_model_from_path(cfg.policy, **kwargs)
    merged = PeftModel.from_pretrained(base, str(adapter_dir)).merge_and_unload()
    merged.save_pretrained(str(final_dir))
    processor.save_pretrained(str(final_dir))
