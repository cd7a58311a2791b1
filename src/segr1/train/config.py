"""The training configuration: TRL's ``GRPOConfig`` plus only the fields Seg-R1 adds.

Everything TRL and ``transformers.TrainingArguments`` already know (batch sizes,
``num_generations``, ``beta``, learning rate, ``save_steps``, ``report_to``, ``use_vllm``,
``model_init_kwargs`` ...) keeps TRL's name, meaning and help. :class:`SegR1Config` adds the
policy, the frozen segmenter, the data, the reward, the rollout log, freezing / LoRA and
resuming; each field's help is written once, in its ``metadata``.

:func:`parse_config` reads a YAML file (``--config FILE``) and then command-line overrides
(``--key value``) through TRL's ``TrlParser``; :func:`save_config` writes the resolved config as
YAML that :func:`parse_config` reads back to an equal config.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from trl import GRPOConfig

from segr1.protocol.templates import TASKS

CONFIG_NAME = "segr1_config.yaml"
TRAIN_TASKS: tuple[str, ...] = (*TASKS, "auto")
REWARD_VARIANTS: tuple[str, ...] = ("smeasure", "released")
# Left out of the saved config: generation_batch_size is derived by GRPOConfig (TRL rejects it
# together with steps_per_generation); the gradient_checkpointing* names are deprecated aliases
# that transformers mirrors from activation_checkpointing*.
_DERIVED = ("generation_batch_size", "gradient_checkpointing", "gradient_checkpointing_kwargs")


@dataclass(frozen=True)
class DatasetSpec:
    """One training dataset: a :func:`segr1.data.load_dataset` name, its root and split."""

    name: str
    root: str | None = None
    split: str | None = "train"

    @classmethod
    def parse(cls, entry: str | dict) -> DatasetSpec:
        """``"name:root:split"`` / ``"name:root"`` or a mapping ``{name, root, split}``."""
        if isinstance(entry, dict):
            unknown = sorted(set(entry) - {"name", "root", "split"})
            if unknown or "name" not in entry:
                raise ValueError(
                    f"dataset entry {entry!r}: use keys name, root, split (name is required)"
                )
            return cls(str(entry["name"]), entry.get("root"), entry.get("split", "train"))
        name, sep, rest = str(entry).partition(":")
        if not name or not sep:
            raise ValueError(
                f"dataset entry {entry!r}: write it as name:root[:split], e.g. "
                "cod10k:/data/COD10K-v3:train, or as a YAML mapping {name, root, split}"
            )
        root, _, split = rest.rpartition(":") if rest.count(":") else (rest, "", "train")
        return cls(name, root or None, split or "train")


def _help(text: str, **extra: Any) -> dict[str, Any]:
    return {"help": text, **extra}


@dataclass
class SegR1Config(GRPOConfig):
    """``GRPOConfig`` + Seg-R1's fields (policy, segmenter, data, reward, logging, LoRA)."""

    policy: str = field(
        default="Qwen/Qwen2.5-VL-3B-Instruct",
        metadata=_help(
            "The policy: a hub id or a local directory of any image-text-to-text model TRL's "
            "GRPO supports (Qwen2.5-VL, Qwen3-VL, ...). Loaded with `model_init_kwargs` (e.g. "
            "{dtype: bfloat16, attn_implementation: flash_attention_2})."
        ),
    )
    segmenter: str = field(
        default="grabcut",
        metadata=_help(
            "The frozen segmenter: 'grabcut' (no weights), 'sam2-random-tiny' (offline tests), "
            "a SAM2 hub id / directory such as facebook/sam2.1-hiera-large, or an official SAM2 "
            ".pt checkpoint (sam2.1_hiera_large.pt; needs segr1[sam2]). Built once."
        ),
    )
    segmenter_device: str = field(
        default="auto",
        metadata=_help(
            "Where the segmenter runs: 'auto' (the training process's own device, shared with "
            "the policy), 'cpu', or a device such as 'cuda:7' (its own GPU)."
        ),
    )
    segmenter_dtype: str = field(
        default="float32",
        metadata=_help("Segmenter weights dtype: float32, bfloat16 or float16."),
    )
    segmenter_cache_mb: int = field(
        default=1024,
        metadata=_help(
            "Bound of the segmenter's embedding cache in MB (0: no cache). One SAM2 1024 px "
            "embedding is 16.8 MB in float32."
        ),
    )
    segmenter_cache_dtype: str | None = field(
        default=None,
        metadata=_help(
            "Store cached embeddings as bfloat16 or float16 (half the memory; the decoder then "
            "always sees the rounded embedding, cached or not). Default: as computed."
        ),
    )
    bgr: bool = field(
        default=False,
        metadata=_help(
            "Hand the segmenter a channel-swapped (BGR) image, as the released Seg-R1 code did. "
            "Only for exact reproduction; the default is correct RGB."
        ),
    )
    datasets: list[str] = field(
        default_factory=list,
        metadata=_help(
            "Training datasets, concatenated: each 'name:root:split' (CLI) or, in YAML, a "
            "mapping {name, root, split}. Names are those of `segr1.data.load_dataset` "
            "(cod10k, camo, duts-tr, dis5k, synth, folder, ...)."
        ),
    )
    task: str = field(
        default="foreground",
        metadata=_help(
            "Prompt template and reward task: foreground (box + points), prerl (points only), "
            "referring / reasoning (every row must carry a query; segr1's own training texts: the "
            "released evaluation question plus the format instruction), or auto (each row's own "
            "task)."
        ),
    )
    image_side: int = field(
        default=768,
        metadata=_help("S: images and masks are stretched to S x S; answers are in that frame."),
    )
    answer_format: str = field(
        default="seg-r1",
        metadata=_help(
            "How the policy is asked and answers: seg-r1 (the released tags), seg-zero (one "
            "object: a box and two points, JSON; its released S is 840) or vision-reasoner (a "
            "JSON list of objects; S 840)."
        ),
    )
    rewards: list[str] = field(
        default_factory=list,
        metadata=_help(
            "Reward functions, summed with reward_weights: any of format, thinking_format, "
            "segmentation (the mask reward, any format), segmentation_format, accuracy, "
            "non_repetition. Empty: the answer format's own set (seg-r1: format + "
            "segmentation; seg-zero / vision-reasoner: their four object rewards)."
        ),
    )
    abstain: bool = field(
        default=False,
        metadata=_help(
            "Teach the 'no target' answer (segr1's own prompt addition): abstaining on an empty "
            "ground truth earns the full segmentation reward, abstaining where an object exists "
            "earns 0."
        ),
    )
    w_iou: float = field(default=0.7, metadata=_help("Weight of IoU in the segmentation reward."))
    w_s: float = field(
        default=0.3, metadata=_help("Weight of the S-measure part (or 1 - area for 'released').")
    )
    reward_variant: str = field(
        default="smeasure",
        metadata=_help(
            "'smeasure': the intended S-measure. 'released': what the released code optimised "
            "(w_iou * IoU + w_s * (1 - predicted area fraction)), for reproduction only."
        ),
    )
    max_turns: int = field(
        default=1,
        metadata=_help(
            "Refinement episodes (segr1.episode): after each answer the policy is shown its mask "
            "(the image with mask, boxes and points drawn) and answers again, up to max_turns "
            "answers; an episode ends early when the policy repeats its prompts (keeps its "
            "answer). GRPO trains on whole episodes: format reward on every answer, "
            "segmentation reward on the FINAL mask, no loss on the environment's tokens; "
            "max_completion_length bounds each turn. 1: the single-turn Seg-R1 protocol."
        ),
    )
    rollout_log_steps: int = field(
        default=10,
        metadata=_help(
            "Write every completion of every N-th step to output_dir/rollouts.jsonl (step, id, "
            "completion, parsed prompts, reward parts). A fresh run moves an earlier run's log "
            "to rollouts.jsonl.N; a resumed run drops the rows of the steps it generates again. "
            "0 disables the rollout log."
        ),
    )
    freeze_vision: bool = field(
        default=False,
        metadata=_help("Freeze the vision tower (and its merger); train only the language model."),
    )
    use_peft: bool = field(
        default=False, metadata=_help("Train LoRA adapters (PEFT) instead of all weights.")
    )
    lora_r: int = field(default=16, metadata=_help("LoRA rank."))
    lora_alpha: int = field(default=32, metadata=_help("LoRA alpha (scale = alpha / r)."))
    lora_dropout: float = field(default=0.05, metadata=_help("LoRA dropout."))
    lora_target_modules: list[str] = field(
        default_factory=lambda: ["q_proj", "k_proj", "v_proj", "o_proj"],
        metadata=_help(
            "Module names LoRA wraps. The defaults match the language model's attention "
            "projections (Qwen's vision tower uses 'qkv' / 'proj', so it stays untouched)."
        ),
    )
    load_in_4bit: bool = field(
        default=False,
        metadata=_help("QLoRA: load the policy in 4-bit NF4 (bitsandbytes, CUDA); needs use_peft."),
    )
    resume: str | None = field(
        default=None,
        metadata=_help(
            "Resume from a checkpoint: 'latest' (the newest complete checkpoint in output_dir) "
            "or a checkpoint directory. Restores weights, optimizer, scheduler, RNG and data "
            "position.",
            nargs="?",
            const="latest",
        ),
    )

    def __post_init__(self) -> None:
        self._check_counts()  # clear messages before TRL derives anything from them
        super().__post_init__()
        self._check_fields()

    def _check_counts(self) -> None:
        positive = ("per_device_train_batch_size", "gradient_accumulation_steps",
                    "max_completion_length", "image_side")  # fmt: skip
        for name in positive:
            value = getattr(self, name, None)
            if value is not None and value < 1:
                raise ValueError(f"{name} must be at least 1, got {value}")
        if self.num_generations is not None and self.num_generations < 2:
            raise ValueError(
                f"num_generations must be at least 2 (GRPO compares completions of one prompt), "
                f"got {self.num_generations}"
            )
        weights = {"w_iou": self.w_iou, "w_s": self.w_s, "learning_rate": self.learning_rate}
        for name, value in weights.items():
            if not math.isfinite(value) or value < 0:
                raise ValueError(f"{name} must be finite and non-negative, got {value}")
        for w in self.reward_weights or []:
            if not math.isfinite(w):
                raise ValueError(f"reward_weights must be finite, got {self.reward_weights}")

    def _check_fields(self) -> None:
        if self.task not in TRAIN_TASKS:
            raise ValueError(f"task={self.task!r}; choose one of {', '.join(TRAIN_TASKS)}")
        if self.reward_variant not in REWARD_VARIANTS:
            raise ValueError(
                f"reward_variant={self.reward_variant!r}; choose one of {REWARD_VARIANTS}"
            )
        if self.image_side <= 0:
            raise ValueError(f"image_side must be positive, got {self.image_side}")
        if self.rollout_log_steps < 0:
            raise ValueError("rollout_log_steps must be >= 0 (0 disables the rollout log)")
        if self.max_turns < 1:
            raise ValueError(f"max_turns must be at least 1, got {self.max_turns}")
        if self.max_turns > 1 and self.use_vllm:
            raise ValueError(
                "max_turns > 1 generates the episodes with the training model (segr1.train."
                "episodes); vLLM generation is not supported for them: set use_vllm: false"
            )
        if self.load_in_4bit and not self.use_peft:
            raise ValueError("load_in_4bit trains adapters only: set use_peft: true as well")
        for entry in self.datasets:
            DatasetSpec.parse(entry)  # fail early, naming the bad entry
        from segr1.protocol.formats import get_format
        from segr1.rewards import REWARD_NAMES

        get_format(self.answer_format)
        unknown = sorted(set(self.rewards) - set(REWARD_NAMES))
        if unknown:
            raise ValueError(f"rewards: unknown {unknown}; choose from {', '.join(REWARD_NAMES)}")

    @property
    def dataset_specs(self) -> list[DatasetSpec]:
        return [DatasetSpec.parse(e) for e in self.datasets]


def parser():  # -> trl.TrlParser
    """The argument parser of ``segr1 train`` (all of TRL's fields plus ours). A bad argument
    raises ``ValueError`` with argparse's one-line reason instead of printing the ~100-line
    usage: ``segr1 train --help`` lists every key."""
    from trl import TrlParser

    class Parser(TrlParser):
        def error(self, message: str):  # argparse's hook for bad arguments
            raise ValueError(f"{message} (segr1 train --help lists every key)")

    return Parser(SegR1Config, prog="segr1 train")


def parse_config(argv: Sequence[str]) -> SegR1Config:
    """``--config FILE.yaml`` (optional) then ``--key value`` overrides -> :class:`SegR1Config`."""
    args = list(argv)
    if "--config" in args:
        i = args.index("--config")
        if i + 1 >= len(args):
            raise ValueError("--config needs a YAML file path")
        path = Path(args[i + 1])
        if not path.is_file():
            raise FileNotFoundError(f"{path}: config file not found")
    (cfg,) = parser().parse_args_and_config(args)
    return cfg


def config_dict(cfg: SegR1Config) -> dict[str, Any]:
    """The resolved config as plain YAML-able values. ``*_token`` fields (secrets, which
    ``to_dict`` replaces by placeholders) are left out, so reading the file back never sets one."""
    init_fields = {f.name for f in dataclasses.fields(cfg) if f.init}
    return {
        k: v
        for k, v in cfg.to_dict().items()
        if k in init_fields and k not in _DERIVED and not k.endswith("_token")
    }


def save_config(cfg: SegR1Config, path: str | Path) -> Path:
    """Write the resolved config as YAML (readable again with ``--config``)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = yaml.safe_dump(config_dict(cfg), sort_keys=True, allow_unicode=True)
    header = "# Resolved segr1 training config (YAML + command-line overrides).\n"
    path.write_text(header + text)
    return path
