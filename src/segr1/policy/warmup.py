"""Supervised grounding warm-up: the demo's stand-in for pretraining.

A real policy (Qwen2.5-VL) arrives already able to ground objects; the tiny random policy does
not. Before the pure-RL stage, the demo teaches it the answer format and a rough grounding by
next-token prediction on NOISY answers derived from the training masks:

* the box is the mask's bounding box with every side moved by Gaussian noise
  (``box_noise`` x the box's size), so the warm-up policy is deliberately imprecise; with
  ``per_object`` one such box per object instead (each connected region of the mask,
  :func:`segr1.metrics.grounding.object_boxes`, left to right): the protocol's several-box
  answer, whose mask is the union of one mask per box;
* ``n_fg`` foreground points drawn from the mask (with ``per_object``, ``n_fg // objects``, at
  least one, from the mask inside each object's tight box: where two objects' boxes overlap,
  a point may fall on the other object), ``n_bg`` background points drawn from outside the
  (noisy) boxes, with their labels;
* the answer is written in ``cfg.answer_format`` (any registered format, through its
  ``format_answer``; default ``seg-r1``). Formats that carry no background points (the JSON
  formats: every point is an object point) get the same draw without its background points, so
  two formats warmed up with one seed see the same noisy boxes and object points;
* scenes with no object are skipped (the format asks for a box) unless ``cfg.abstain``: then they
  are kept and their target is the format's abstention answer (Seg-R1 ``<bbox>none</bbox>``,
  the JSON formats ``<answer>none</answer>``);
* the prompt is ``template_for(cfg.answer_format, cfg.task, cfg.stage, cfg.abstain)`` (Seg-R1:
  ``Template(cfg.task, cfg.stage, cfg.abstain)``; with ``abstain`` it carries the abstention
  sentence) with each sample's own query (referring / reasoning samples), so a policy can be
  warmed up on the very texts it will be evaluated with.

With ``vision_steps > 0`` the vision tower is first pretrained alone on dense objectives
(:mod:`segr1.policy.vision_pretrain`: per-token objectness and position), the stand-in for a real
VLM's pretrained vision encoder; without it the tiny policy's boxes do not follow the objects
(docs/demo.md). Loss is on the answer tokens only. This stage never sees a reward; GRPO, which follows it, never
sees a target answer. Contract: plain PyTorch loop, deterministic for a seed, progress bar.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image
from tqdm.auto import tqdm

from segr1.imaging import binarize, resize_levels, stretch
from segr1.policy.vision_pretrain import cell_shares
from segr1.protocol.formats import get_format, template_for
from segr1.protocol.parse import Answer

BOX_READS = ("answer", "first")


@dataclass(frozen=True)
class WarmupConfig:
    steps: int = 300
    batch_size: int = 8
    learning_rate: float = 2e-3
    box_noise: float = 0.15
    #: target boxes scaled about their centre before the jitter (1.0: the tight box; 1.3: each
    #: side 30 % longer, the loose boxes of a roughly grounded model)
    box_scale: float = 1.0
    n_fg: int = 2
    n_bg: int = 1
    side: int = 224
    think: str = "object"
    seed: int = 0
    task: str = "foreground"  # the prompt template's task ...
    stage: str = "train"  # ... and stage
    answer_format: str = "seg-r1"  # the format targets are written in (segr1.protocol.formats)
    abstain: bool = False  # keep empty scenes, with the format's abstention answer as target
    #: Steps of dense vision-tower pretraining BEFORE the answer steps (0: none); see
    #: :mod:`segr1.policy.vision_pretrain` (objectness + token position, temporary heads).
    vision_steps: int = 0
    vision_batch_size: int = 32
    vision_learning_rate: float = 2e-3
    #: Dense objectives riding along the answer steps (0: off), on temporary heads over the
    #: language model's last hidden states: the state after each ``<bbox>`` of the ANSWER
    #: regresses its target's true box (smooth L1, coordinates / S), and every image token its
    #: cell's object share (BCE).
    box_weight: float = 0.0
    objectness_weight: float = 0.0
    #: one target box per object (connected region of the mask) instead of one around all
    per_object: bool = False
    #: where the box objective reads: ``"answer"``, the state after each ``<bbox>`` of the
    #: answer; ``"first"``, the state after the sequence's FIRST ``<bbox>``, which is in the
    #: system prompt's format instruction, before the image - image-blind, so it learns one
    #: mean box. ``"first"`` is kept only for the demo's one-box recipe (every build of it:
    #: the shipped policy, trained with it, rebuilds bit for bit where it was built, and other seeds and sizes
    #: stay comparable with it; docs/demo.md); never choose it for a new recipe.
    box_reads: str = "answer"

    def __post_init__(self) -> None:
        if self.box_reads not in BOX_READS:
            raise ValueError(f"box_reads={self.box_reads!r}; choose one of {', '.join(BOX_READS)}")
        if self.per_object and self.box_reads == "first":
            raise ValueError("per_object reads one box per object: use box_reads='answer'")
        if self.per_object and not get_format(self.answer_format).representable(
            Answer([[0, 0, 2, 2], [4, 4, 6, 6]], [[1, 1], [5, 5]], [1, 1], "", True)
        ):
            raise ValueError(
                f"the {self.answer_format} format holds one box: per_object needs one that "
                "holds several (seg-r1, vision-reasoner)"
            )


def target_boxes(mask: np.ndarray, per_object: bool) -> list[list[float]]:
    """The tight boxes a target answer is drawn around, in the mask's pixels: each object's (left
    to right) with ``per_object``, else the one around the whole mask; ``[]`` when empty."""
    from segr1.metrics.grounding import mask_box, object_boxes

    if per_object:
        return object_boxes(mask)
    box = mask_box(mask)
    return [] if box is None else [box]


def noisy_answer(mask: np.ndarray, rng: np.random.Generator, cfg: WarmupConfig) -> str | None:
    """A noisy target answer for an (S, S) bool mask, in the S x S frame, written in
    ``cfg.answer_format``. No object: the format's abstention answer with ``cfg.abstain``, else
    None. Raises ``ValueError`` when the format cannot write the drawn prompts (e.g.
    ``vision-reasoner`` holds one point per box: use ``n_fg=1``)."""
    fmt = get_format(cfg.answer_format)
    tight = target_boxes(mask, cfg.per_object)
    if not tight:
        return fmt.format_answer(Answer(think=cfg.think, abstain=True)) if cfg.abstain else None
    s = cfg.side
    n_fg = cfg.n_fg if len(tight) == 1 else max(1, cfg.n_fg // len(tight))
    boxes, points = [], []
    outside = ~mask  # background points: off the objects and outside every box
    for tight_box in tight:
        box = np.asarray(tight_box, np.float64)
        w, h = box[2] - box[0], box[3] - box[1]
        if cfg.box_scale != 1.0:
            half = (cfg.box_scale - 1.0) / 2 * np.array([w, h])
            box = box + np.concatenate([-half, half])
            w, h = w * cfg.box_scale, h * cfg.box_scale
        box = box + rng.normal(0.0, cfg.box_noise, 4) * np.array([w, h, w, h])
        box = np.clip(np.round(box), 0, s - 1).astype(int)
        x1, x2 = sorted((box[0], box[2]))
        y1, y2 = sorted((box[1], box[3]))
        own = mask
        if len(tight) > 1:  # this object's pixels: the mask within its tight box
            tx1, ty1, tx2, ty2 = (int(v) for v in tight_box)
            own = np.zeros_like(mask)
            own[ty1:ty2, tx1:tx2] = mask[ty1:ty2, tx1:tx2]
        ys, xs = np.nonzero(own)
        pick = rng.choice(len(xs), size=min(n_fg, len(xs)), replace=False)
        points += [[int(xs[i]), int(ys[i])] for i in pick]
        outside[y1 : y2 + 1, x1 : x2 + 1] = False
        boxes.append([int(x1), int(y1), int(x2), int(y2)])
    n_obj_points = len(points)
    bys, bxs = np.nonzero(outside)
    if len(bxs):
        pick = rng.choice(len(bxs), size=min(cfg.n_bg, len(bxs)), replace=False)
        points += [[int(bxs[i]), int(bys[i])] for i in pick]
    labels = [1] * n_obj_points + [0] * (len(points) - n_obj_points)
    answer = Answer(boxes, points, labels, think=cfg.think, points_parsed=True)
    if not fmt.representable(answer):  # the JSON formats: object points only
        keep = [i for i, label in enumerate(labels) if label == 1]
        answer = Answer(boxes, [points[i] for i in keep], [1] * len(keep), cfg.think, True)
    if not fmt.representable(answer):
        raise ValueError(
            f"the {fmt.name} format cannot write a box with {cfg.n_fg} object point(s): set "
            "n_fg to what it holds (seg-zero: 2, vision-reasoner: 1)"
        )
    return fmt.format_answer(answer)


def _examples(
    samples: Sequence, side: int, template, processor, keep_empty: bool = False
) -> list[tuple]:
    """(S x S image, (S, S) bool mask, chat prompt, its token count) per sample with an object
    (every sample with ``keep_empty``). ``template``: anything with ``messages(query,
    is_sentence)`` (a :class:`~segr1.protocol.formats.FormatTemplate` or a Seg-R1 ``Template``)."""
    out = []
    for s in tqdm(samples, desc="warm-up data", unit="img", leave=False):
        image = Image.fromarray(stretch(s.load_image(), side))
        m = binarize(resize_levels(s.load_mask(), (side, side)))  # (S, S) bool
        if keep_empty or m.any():
            messages = template.messages(s.query, s.is_sentence)
            prompt = processor.apply_chat_template(
                messages, add_generation_prompt=True, tokenize=False
            )
            n_prompt = len(processor(text=[prompt], images=[image]).input_ids[0])
            out.append((image, m, prompt, n_prompt))
    return out


def answer_step(
    model,
    processor,
    opt,
    n_prompt: int | Sequence[int],
    texts: list[str],
    images: list,
    dense: Callable | None = None,
) -> float:
    """One next-token step on ``texts`` (prompt + answer + end token, padded on the RIGHT so the
    prompt tokens come first; ``n_prompt`` of them, one count for all rows or one per row): loss
    on the answer tokens only, gradient norm clipped at 1. ``dense(enc, output)`` (optional)
    returns a loss added to it, computed from the output's hidden states. Returns the loss."""
    import torch

    enc = processor(text=texts, images=images, return_tensors="pt", padding=True)
    labels = enc["input_ids"].clone()
    counts = [n_prompt] * len(texts) if isinstance(n_prompt, int) else list(n_prompt)
    for row, n in enumerate(counts):
        labels[row, :n] = -100
    labels[enc["attention_mask"] == 0] = -100
    out = model(**enc, labels=labels, output_hidden_states=dense is not None)
    loss = out.loss if dense is None else out.loss + dense(enc, out)
    loss.backward()
    params = [p for group in opt.param_groups for p in group["params"]]
    torch.nn.utils.clip_grad_norm_(params, 1.0)
    opt.step()
    opt.zero_grad(set_to_none=True)
    return float(loss.item())


def dense_objectives(model, processor, cfg: WarmupConfig):
    """(heads, loss function) of the answer steps' dense objectives (``box_weight``,
    ``objectness_weight``); the loss takes ``(enc, output, rows, counts)``, ``rows`` the batch's
    (S, S) bool masks and ``counts`` each row's prompt token count: the k-th ``<bbox>`` AFTER
    the prompt (the prompt's own format instruction holds ``<bbox>`` too, before the image)
    regresses the k-th of :func:`target_boxes`."""
    import torch

    from segr1.metrics.grounding import mask_box

    hidden = model.config.text_config.hidden_size
    image_id = model.config.image_token_id
    bbox_id = processor.tokenizer.convert_tokens_to_ids("<bbox>")
    if cfg.box_weight and cfg.answer_format != "seg-r1":
        raise ValueError("box_weight reads the state after <bbox>: use answer_format seg-r1")
    if cfg.box_weight and (bbox_id is None or bbox_id == processor.tokenizer.unk_token_id):
        raise ValueError("box_weight needs a tokenizer with a <bbox> token (the tiny policy's)")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(cfg.seed)
        heads = torch.nn.ModuleDict({"box": torch.nn.Linear(hidden, 4),
                                     "objectness": torch.nn.Linear(hidden, 1)})  # fmt: skip

    def box_states(ids, last, rows, counts):
        """(the states the box head reads, their target boxes as fractions of S), or None when
        the batch has no box (abstention rows have none)."""
        if cfg.box_reads == "first":  # the shipped demo policy's reading (image-blind)
            keep = [i for i, m in enumerate(rows) if m.any()]
            if not keep:
                return None
            at = (ids[keep] == bbox_id).float().argmax(1) + 1
            return last[keep, at], [np.float32(mask_box(rows[i], side=1)) for i in keep]
        states, targets = [], []
        for i, m in enumerate(rows):
            found = (ids[i, counts[i] :] == bbox_id).nonzero().flatten() + counts[i] + 1
            for at, box in zip(found.tolist(), target_boxes(m, cfg.per_object), strict=False):
                states.append(last[i, at])
                targets.append(np.float32(box) / m.shape[0])
        return (torch.stack(states), targets) if states else None

    def loss(enc, out, rows: Sequence[np.ndarray], counts: Sequence[int]) -> torch.Tensor:
        ids, last = enc["input_ids"], out.hidden_states[-1]
        total = last.new_zeros(())
        picked = box_states(ids, last, rows, counts) if cfg.box_weight else None
        if picked is not None:
            states, targets = picked
            pred = heads["box"](states).sigmoid()
            total = total + cfg.box_weight * torch.nn.functional.smooth_l1_loss(
                pred, torch.tensor(np.stack(targets)), beta=0.05
            )
        if cfg.objectness_weight:
            n = int((ids[0] == image_id).sum())
            grid = round(n**0.5)
            tokens = last[ids == image_id].view(len(rows), n, hidden)
            target = torch.tensor(np.stack([cell_shares(m, (grid, grid)) for m in rows]))
            total = total + cfg.objectness_weight * (
                torch.nn.functional.binary_cross_entropy_with_logits(
                    heads["objectness"](tokens).squeeze(-1), target
                )
            )
        return total

    return heads, loss


def warmup(
    policy_dir: str | Path,
    samples: Sequence,
    out_dir: str | Path,
    cfg: WarmupConfig = WarmupConfig(),
    progress: bool = True,
) -> Path:
    """Train ``policy_dir`` on noisy answers for ``samples``; save a HF directory to ``out_dir``."""
    import torch

    from segr1.policy import load_policy

    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    model, processor = load_policy(str(policy_dir), device="cpu", dtype="float32")
    tok = processor.tokenizer
    template = template_for(cfg.answer_format, cfg.task, cfg.stage, cfg.abstain)
    examples = _examples(samples, cfg.side, template, processor, keep_empty=cfg.abstain)
    if not any(m.any() for _, m, _, _ in examples):
        raise ValueError("warm-up needs samples with a non-empty mask")
    if cfg.vision_steps:
        from segr1.policy.vision_pretrain import VisionPretrainConfig, pretrain_vision

        vcfg = VisionPretrainConfig(steps=cfg.vision_steps, batch_size=cfg.vision_batch_size,
                                    learning_rate=cfg.vision_learning_rate, seed=cfg.seed)  # fmt: skip
        pretrain_vision(model, processor, [e[0] for e in examples], [e[1] for e in examples],
                        vcfg, progress)  # fmt: skip
    end = tok.eos_token or "<|im_end|>"
    padding_side, tok.padding_side = tok.padding_side, "right"  # prompt tokens first in every row
    params = list(model.parameters())
    dense = None
    if cfg.box_weight or cfg.objectness_weight:
        heads, dense = dense_objectives(model, processor, cfg)
        params += list(heads.parameters())
    opt = torch.optim.AdamW(params, lr=cfg.learning_rate, weight_decay=0.0)
    warm = max(1, cfg.steps // 20)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt,
        lambda t: (
            min(1.0, (t + 1) / warm) * 0.5 * (1 + math.cos(math.pi * min(t, cfg.steps) / cfg.steps))
        ),
    )
    model.train()
    bar = tqdm(range(cfg.steps), desc="warm-up (supervised)", disable=not progress)
    for _ in bar:
        idx = rng.choice(len(examples), size=min(cfg.batch_size, len(examples)), replace=False)
        batch = [examples[i] for i in idx]
        texts = [prompt + noisy_answer(m, rng, cfg) + end for _, m, prompt, _ in batch]
        images, counts = [e[0] for e in batch], [e[3] for e in batch]
        rows = [e[1] for e in batch]
        extra = (
            None
            if dense is None
            else (lambda enc, out, rows=rows, counts=counts: dense(enc, out, rows, counts))
        )
        loss = answer_step(model, processor, opt, counts, texts, images, extra)
        sched.step()
        bar.set_postfix(loss=f"{loss:.3f}")
    model.eval()
    tok.padding_side = padding_side
    out = Path(out_dir)
    model.save_pretrained(out)
    processor.save_pretrained(out)
    return out
