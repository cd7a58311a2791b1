"""GRPO on whole refinement episodes (``max_turns > 1``): TRL's ``rollout_func`` runs
:func:`segr1.episode.run_episodes` with the policy being trained.

One GRPO completion is one episode: the token ids of answer 1, the environment's reply (the
end of the assistant turn, a user turn holding the observation image and
:data:`~segr1.protocol.templates.REFINE_TEXT`, the start of the next assistant turn), answer 2,
... TRL receives them from :class:`EpisodeRollout` as ``completion_ids`` with ``env_mask`` (1 on
the policy's tokens, 0 on the environment's), which TRL multiplies into the loss mask: the
environment's tokens never receive loss (``tests/test_episodes.py`` checks it on token ids).
The completion the rewards see is the episode as messages (``[assistant, user, assistant,
...]``): the format reward asks every answer to be well formed, the segmentation reward scores
the FINAL answer's mask and logs each turn's IoU (:mod:`segr1.rewards`).

Generation runs here, on token ids (the ids the loss is computed on are exactly the ids that
were sampled), with the training model unwrapped as TRL unwraps it, the trainer's generation
config (temperature, top-p, ...) and ``max_completion_length`` new tokens per TURN. Images reach
the model through the processor's image processor, as in TRL's forward pass of tool images, so
generation and the loss see the same pixels. Not supported with multi-turn (refused by the
config): vLLM generation and FSDP.

Segmentation goes through :func:`segr1.segment.answers.segment_rows` (the reward's path): the G
episodes of one image share one embedding per turn, and the segmenter's content-keyed cache
serves it again at every later turn and in the reward, so each image is embedded once per step.

Why ``rollout_func`` and a small trainer subclass: the answer stays the Seg-R1 text (no tool
call to write, so released checkpoints run the episode zero-shot, which rules out
``tools`` / ``environment_factory``), and ``rollout_func`` is TRL's hook for a custom rollout
whose ``env_mask`` becomes the loss mask. What TRL 1.16 lacks is a way for a ``rollout_func`` to
hand images back for the forward pass; :class:`EpisodeTrainer` adds it
(:func:`segr1.compat.enable_episode_images`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from segr1.episode import run_episodes
from segr1.protocol.formats import get_format
from segr1.protocol.parse import DEFAULT_RULES
from segr1.protocol.templates import REFINE_TEXT, refine_messages
from segr1.rewards import as_rgb
from segr1.segment.answers import segment_rows
from segr1.segment.base import Segmenter

IMAGES_KEY = "episode_images"  # rollout output: every image of each episode, in order
MESSAGES_KEY = "episode_messages"  # rollout output: each episode as completion messages
_PROBE = "SEGR1-PROBE-ANSWER"


def prompt_images(prompt: list[dict]) -> list[Any]:
    """The images TRL put into a conversational prompt (``{"type": "image", "image": ...}``)."""
    return [
        part["image"]
        for message in prompt
        if isinstance(message.get("content"), list)
        for part in message["content"]
        if isinstance(part, dict) and part.get("type") == "image" and "image" in part
    ]


def reply_texts(processor: Any, prompt: list[dict]) -> tuple[str, str]:
    """``(close, reply)`` from the processor's chat template: ``close`` ends an assistant turn
    (Qwen: ``<|im_end|>\\n``), ``reply`` is the environment's user turn (one image placeholder +
    :data:`REFINE_TEXT`) up to the next assistant turn's generation prompt."""
    template = processor.apply_chat_template
    before = template(
        prompt + refine_messages(_PROBE)[:1], tokenize=False, add_generation_prompt=False
    )
    after = template(prompt + refine_messages(_PROBE), tokenize=False, add_generation_prompt=True)
    if not after.startswith(before) or _PROBE not in before:
        raise ValueError(
            "the policy's chat template does not render a conversation as a prefix of its "
            "continuation; multi-turn episodes need one that does (Qwen-VL's does)"
        )
    return before[before.rindex(_PROBE) + len(_PROBE) :], after[len(before) :]


class TokenPolicy:
    """The training policy in an episode (:class:`segr1.episode.EpisodePolicy`), on token ids:
    each episode's sequence grows by the sampled answer ids (mask 1) and the environment's reply
    ids (mask 0); its images grow by the observation."""

    def __init__(self, trainer: Any, prompts: Sequence[list[dict]]) -> None:
        from PIL import Image

        self.trainer = trainer
        self.processor = trainer.processing_class
        self.tokenizer = self.processor.tokenizer
        self.images: list[list[Image.Image]] = [
            [img.convert("RGB") for img in prompt_images(p)] for p in prompts
        ]
        self.prompt_ids: list[list[int]] = []
        self.completion_ids: list[list[int]] = [[] for _ in prompts]
        self.env_mask: list[list[int]] = [[] for _ in prompts]
        self.messages: list[list[dict]] = [[] for _ in prompts]
        self.mm_types = False
        for prompt, images in zip(prompts, self.images, strict=True):
            text = self.processor.apply_chat_template(
                prompt, tokenize=False, add_generation_prompt=True
            )
            enc = self.processor(text=[text], images=images or None)
            self.prompt_ids.append(list(enc["input_ids"][0]))
            self.mm_types = self.mm_types or "mm_token_type_ids" in enc
        self.close, self.reply = reply_texts(self.processor, list(prompts[0]))
        eos = trainer.generation_config.eos_token_id
        self.eos_ids = set(eos if isinstance(eos, list) else [eos])
        eos_text = self.tokenizer.decode([trainer.generation_config.eos_token_id] if not isinstance(
            eos, list) else [eos[0]])  # fmt: skip
        self.after_eos = self.close[len(eos_text) :] if self.close.startswith(eos_text) else None
        self.image_token_id = self.tokenizer.convert_tokens_to_ids(self.processor.image_token)

    def answer(self, indices: Sequence[int]) -> list[str]:
        import torch
        from trl.models.utils import unwrap_model_for_generation
        from trl.trainer.utils import pad

        trainer = self.trainer
        seqs = [torch.tensor(self.prompt_ids[i] + self.completion_ids[i]) for i in indices]
        pad_id = self.tokenizer.pad_token_id
        ids = pad(seqs, padding_value=pad_id, padding_side="left")  # (B, L)
        attention = pad([torch.ones_like(s) for s in seqs], padding_value=0, padding_side="left")
        inputs: dict[str, Any] = {"input_ids": ids, "attention_mask": attention}
        flat = [img for i in indices for img in self.images[i]]
        if flat:
            inputs.update(self.processor.image_processor(images=flat, return_tensors="pt"))
            if self.mm_types:
                inputs["mm_token_type_ids"] = (ids == self.image_token_id).long()
        device = trainer.accelerator.device
        inputs = {k: v.to(device) if hasattr(v, "to") else v for k, v in inputs.items()}
        args = trainer.args
        with (
            unwrap_model_for_generation(
                trainer.model_wrapped,
                trainer.accelerator,
                gather_deepspeed3_params=args.ds3_gather_for_generation,
                generation_kwargs=trainer.generation_kwargs,
                gradient_checkpointing_kwargs=args.gradient_checkpointing_kwargs,
            ) as model,
            torch.no_grad(),
        ):
            out = model.generate(**inputs, generation_config=trainer.generation_config)
        texts = []
        for i, row in zip(indices, out[:, ids.shape[1] :].tolist(), strict=True):
            new = _through_eos(row, self.eos_ids)
            self.completion_ids[i] += new
            self.env_mask[i] += [1] * len(new)
            text = self.tokenizer.decode(new, skip_special_tokens=True)
            self.messages[i].append({"role": "assistant", "content": text})
            texts.append(text)
        return texts

    def show(self, index: int, answer: str, image: np.ndarray) -> None:
        from PIL import Image

        ended = bool(self.completion_ids[index]) and self.completion_ids[index][-1] in self.eos_ids
        close = self.after_eos if ended and self.after_eos is not None else self.close
        pil = Image.fromarray(image)
        ids = list(self.processor(text=[close + self.reply], images=[pil])["input_ids"][0])
        self.completion_ids[index] += ids
        self.env_mask[index] += [0] * len(ids)
        self.images[index].append(pil)
        self.messages[index].append(
            {"role": "user", "content": [{"type": "image"}, {"type": "text", "text": REFINE_TEXT}]}
        )


def _through_eos(ids: list[int], eos: set[int]) -> list[int]:
    """The generated ids up to and including the first end-of-sequence id."""
    for k, token in enumerate(ids):
        if token in eos:
            return ids[: k + 1]
    return ids


class EpisodeRollout:
    """TRL ``rollout_func``: one refinement episode per prompt (prompts arrive repeated G times
    by TRL's sampler, so a group's G episodes share one image). Returns TRL's fields plus
    ``env_mask`` and the episodes' images and messages (:class:`EpisodeTrainer` takes them)."""

    def __init__(
        self,
        segmenter: Segmenter,
        max_turns: int,
        side: int,
        answer_format: str = "seg-r1",
    ) -> None:
        self.segmenter = segmenter
        self.max_turns = max_turns
        self.side = side
        self.format = get_format(answer_format)

    def __call__(self, prompts: Sequence[list[dict]], trainer: Any) -> dict[str, list]:
        policy = TokenPolicy(trainer, prompts)
        squares = [as_rgb(images[0], self.side) for images in policy.images]  # (S, S, 3)

        def segment(indices, _texts, answers):
            rows = [squares[i] for i in indices]
            return segment_rows(self.segmenter, rows, answers, side=self.side), [None] * len(rows)

        run_episodes(
            policy,
            segment,
            squares,
            max_turns=self.max_turns,
            parse=lambda text: self.format.parse(text, DEFAULT_RULES),
            side=self.side,
        )
        return {
            "prompt_ids": policy.prompt_ids,
            "completion_ids": policy.completion_ids,
            "logprobs": None,
            "env_mask": policy.env_mask,
            IMAGES_KEY: policy.images,
            MESSAGES_KEY: policy.messages,
        }


def episode_trainer_class():  # -> type[trl.GRPOTrainer]
    """:class:`EpisodeTrainer`, defined on first use (importing TRL is slow)."""
    global EpisodeTrainer
    if EpisodeTrainer is None:
        from trl import GRPOTrainer

        from segr1.compat import enable_episode_images, rollout_without_tool_loop

        class _EpisodeTrainer(GRPOTrainer):
            """``GRPOTrainer`` whose rollouts are :class:`EpisodeRollout` episodes and whose
            forward pass sees every image of each episode."""

            def __init__(self, *args: Any, rollout: EpisodeRollout, **kwargs: Any) -> None:
                super().__init__(*args, rollout_func=rollout, **kwargs)
                enable_episode_images(self)

            def _generate(self, prompts: list):
                with rollout_without_tool_loop(self):  # rollout_func path: env_mask is the mask
                    out = super()._generate(prompts)
                prompt_ids, completion_ids, mask, _, logprobs, extra, _, _ = out
                images = extra.pop(IMAGES_KEY)  # every episode: [turn-1 image, observations...]
                completions = extra.pop(MESSAGES_KEY)
                observations = [imgs[1:] for imgs in images]
                return (
                    prompt_ids,
                    completion_ids,
                    mask,
                    completions,
                    logprobs,
                    extra,
                    images,
                    observations,
                )

        EpisodeTrainer = _EpisodeTrainer
    return EpisodeTrainer


EpisodeTrainer: Any = None
