"""``segr1 train``: the whole Seg-R1 RL flow in one short function, :func:`train`.

dataset rows (image, mask, id + prompt) -> TRL's ``GRPOTrainer`` generates G completions per
prompt -> rewards (format + segmentation: parse -> frozen segmenter, built ONCE here -> mask ->
IoU / S-measure) -> GRPO update. TRL does generation, advantages, KL, logging, checkpointing and
multi-process / DeepSpeed / FSDP / vLLM; this module only wires Seg-R1's pieces into it:

* the resolved config is written to ``output_dir/segr1_config.yaml`` before training;
* ``resume`` ("latest" or a path) -> ``Trainer.train(resume_from_checkpoint=...)``, which
  restores weights, optimizer, scheduler, RNG states and the data position;
* ``max_turns > 1``: each GRPO completion is a refinement episode (:mod:`segr1.train.episodes`,
  the same episode inference runs: :mod:`segr1.episode`);
* the final policy is saved as a plain Hugging Face directory in ``output_dir/final`` (LoRA
  adapters merged into the base weights), loadable by ``transformers`` and ``segr1``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from segr1.train.config import CONFIG_NAME, SegR1Config, parse_config, save_config
from segr1.train.rollouts import ROLLOUTS_NAME, set_aside, trim_rollout_log, with_rollout_log

if TYPE_CHECKING:
    from transformers import TrainerCallback

    from segr1.segment.base import Segmenter

logger = logging.getLogger(__name__)
FINAL_NAME = "final"


@dataclass(frozen=True)
class TrainResult:
    """Where a run left its outputs, and how far it got."""

    output_dir: Path
    final_dir: Path
    global_step: int
    log_history: list[dict[str, Any]]


def segmenter_device(cfg: SegR1Config) -> str:
    """``auto`` -> this training process's own device (shared with the policy)."""
    return str(cfg.device) if cfg.segmenter_device == "auto" else cfg.segmenter_device


def build_segmenter_for(cfg: SegR1Config) -> Segmenter:
    from segr1.segment import build_segmenter

    return build_segmenter(
        cfg.segmenter,
        device=segmenter_device(cfg),
        dtype=cfg.segmenter_dtype,
        bgr=cfg.bgr,
        cache_bytes=cfg.segmenter_cache_mb * 1_000_000,
        cache_dtype=cfg.segmenter_cache_dtype,
    )


def build_reward_funcs(cfg: SegR1Config, segmenter: Segmenter) -> list:
    """[format, segmentation] for ``cfg.task``, wrapped by the rollout log when enabled."""
    from segr1.rewards import build_rewards

    rewards = build_rewards(
        segmenter, cfg.image_side, cfg.reward_variant, cfg.w_iou, cfg.w_s, cfg.task != "prerl",
        answer_format=cfg.answer_format, names=cfg.rewards,
    )  # fmt: skip
    if cfg.rollout_log_steps <= 0:
        return rewards
    path = Path(cfg.output_dir) / ROLLOUTS_NAME
    return with_rollout_log(
        rewards, path, cfg.rollout_log_steps, cfg.reward_weights, cfg.process_index,
        answer_format=cfg.answer_format,
    )  # fmt: skip


def resume_checkpoint(cfg: SegR1Config) -> str | None:
    """``resume`` -> a checkpoint directory, or None. 'latest' skips incomplete checkpoints."""
    from segr1.train.checkpoints import latest_checkpoint

    if cfg.resume is None:
        return None
    if cfg.resume == "latest":
        found = latest_checkpoint(cfg.output_dir)
        if found is None:
            raise FileNotFoundError(
                f"resume=latest but {cfg.output_dir} holds no complete checkpoint-N directory; "
                "drop --resume to start fresh"
            )
        return str(found)
    from segr1.train.checkpoints import is_complete

    path = Path(cfg.resume)
    if not is_complete(path):
        raise FileNotFoundError(
            f"{path}: not a complete checkpoint (no readable trainer_state.json: the save was "
            "cut short?); give an earlier checkpoint-N, or --resume latest"
        )
    return str(path)


def build_trainer(
    cfg: SegR1Config,
    segmenter: Segmenter | None = None,
    callbacks: Sequence[TrainerCallback] = (),
    train_dataset: Any = None,
):  # -> trl.GRPOTrainer
    """A ready ``GRPOTrainer``: policy by path, rewards, data, LoRA / frozen vision applied."""
    from trl import GRPOTrainer

    from segr1.train.data import build_train_dataset
    from segr1.train.policy_setup import freeze_vision, lora_config, quantization_config

    if segmenter is None:
        segmenter = build_segmenter_for(cfg)
    if train_dataset is None:
        train_dataset = build_train_dataset(
            cfg.dataset_specs, cfg.task, cfg.image_side, cfg.answer_format, cfg.abstain
        )
    trainer_class, episodes = GRPOTrainer, {}
    if cfg.max_turns > 1:  # refinement episodes (segr1.train.episodes)
        from segr1.train.episodes import EpisodeRollout, episode_trainer_class

        trainer_class = episode_trainer_class()
        episodes["rollout"] = EpisodeRollout(
            segmenter, cfg.max_turns, cfg.image_side, cfg.answer_format
        )
    trainer = trainer_class(
        model=cfg.policy,
        reward_funcs=build_reward_funcs(cfg, segmenter),
        args=cfg,
        train_dataset=train_dataset,
        callbacks=list(callbacks),
        peft_config=lora_config(cfg),
        quantization_config=quantization_config(cfg),
        **episodes,
    )
    if cfg.freeze_vision:
        n = freeze_vision(trainer.model)
        logger.info("froze %d vision-tower parameters", n)
    return trainer


def train(
    cfg: SegR1Config,
    segmenter: Segmenter | None = None,
    callbacks: Sequence[TrainerCallback] = (),
    train_dataset: Any = None,
) -> TrainResult:
    """Run GRPO as configured; returns where the final policy is. See the module docstring."""
    from segr1.compat import restore_checkpoint_weights
    from segr1.train.checkpoints import save_final, saved_step

    out = Path(cfg.output_dir)
    checkpoint = resume_checkpoint(cfg)  # a complete one: it has a saved step
    start = saved_step(checkpoint) if checkpoint is not None else None
    if cfg.should_save:  # as given (YAML + overrides), before the trainer adjusts any field
        save_config(cfg, out / CONFIG_NAME)
    if cfg.should_save and cfg.rollout_log_steps > 0:
        log = out / ROLLOUTS_NAME
        if start is None:  # a fresh run: an earlier run's log is kept beside, never mixed in
            kept = set_aside(log)
            if kept is not None:
                logger.warning("%s holds an earlier run's rollouts: moved to %s", log, kept)
        else:
            dropped = trim_rollout_log(log, start)
            if dropped:
                logger.warning("%s: dropped %d rows of steps >= %d, logged by the interrupted "
                               "run (resuming from %s generates them again)", log, dropped,
                               start, checkpoint)  # fmt: skip
    trainer = build_trainer(cfg, segmenter, callbacks, train_dataset)
    restored = checkpoint is not None and restore_checkpoint_weights(trainer, checkpoint)
    if restored:
        logger.info("loaded %s weights with key conversion (transformers#43701)", checkpoint)
    if start is not None and 0 < cfg.max_steps <= start:
        finished_at(trainer, checkpoint, restored)
    else:
        trainer.train(resume_from_checkpoint=checkpoint)
    final = save_final(trainer, cfg, out / FINAL_NAME)
    return TrainResult(out, final, trainer.state.global_step, list(trainer.state.log_history))


def finished_at(trainer, checkpoint: str | Path, restored: bool) -> None:
    """Resuming from a checkpoint saved at ``max_steps``: nothing is left to train, and
    ``Trainer.train`` would take one more step before it checks ``max_steps`` (it checks at a
    step's end). Load the checkpoint's weights and state instead, for :func:`save_final`."""
    from transformers import TrainerState

    from segr1.train.checkpoints import STATE_FILE

    if trainer.is_deepspeed_enabled or trainer.is_fsdp_enabled:
        raise ValueError(f"{checkpoint} was saved at max_steps: nothing is left to train (raise "
                         "--max_steps to go on)")  # fmt: skip
    if not restored:
        trainer._load_from_checkpoint(str(checkpoint))  # Trainer's own loader (weights only)
    trainer.state = TrainerState.load_from_json(str(Path(checkpoint) / STATE_FILE))
    logger.warning("%s was saved at step %d = max_steps: nothing left to train; exporting it",
                   checkpoint, trainer.state.global_step)  # fmt: skip


def main(argv: Sequence[str]) -> TrainResult:
    """``segr1 train --config FILE.yaml [--key value ...]``."""
    return train(parse_config(argv))
