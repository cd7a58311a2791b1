"""Dense pretraining of the tiny policy's vision tower: the stand-in for a real VLM's pretrained
vision encoder.

A real Qwen-VL arrives with a vision tower pretrained on billions of images; the tiny policy's
starts from random weights, and next-token training on answers alone never teaches it where an
object is: every warm-up measured in docs/demo.md writes boxes no better than one constant box.
This stage trains the vision tower (its patch embedding, blocks and merger) ALONE, before the
answer warm-up, on two dense per-token objectives through temporary linear heads that are not
saved (the saved policy is an ordinary checkpoint of its class):

* **objectness** - every merged vision token predicts the share of its cell covered by the
  object (binary cross-entropy against the mask area-resized to the token grid);
* **position** - every merged token predicts its own (row, column) in the grid, scaled to
  [0, 1] (squared error after a sigmoid). Objectness alone is translation-equivariant, so it
  leaves the tokens with little of WHERE they are; without this, the language model has no
  position to read a box from. The tiny Qwen3-VL carries learned absolute position embeddings
  in its vision tower (Qwen2.5-VL's is rotary only), so this objective is learnable there.

Contract: :func:`pretrain_vision` ``(model, processor, images, masks, cfg)`` trains
``model.model.visual`` in place (AdamW, gradient norm clipped at 1, one torch thread as the
caller sets it), deterministic for ``cfg.seed``; returns the per-step losses. ``images`` are the
S x S squares the policy sees and ``masks`` the matching (S, S) bool ground truths. Merged
tokens are in raster order of the merge blocks (the Qwen-VL processors' layout), the grid being
``image_grid_thw / spatial_merge_size``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np
from tqdm.auto import tqdm


@dataclass(frozen=True)
class VisionPretrainConfig:
    steps: int = 400
    batch_size: int = 32
    learning_rate: float = 2e-3
    position_weight: float = 5.0
    seed: int = 0


def token_grid(processor, image) -> tuple[int, int]:
    """(rows, cols) of merged vision tokens the processor makes of ``image``."""
    enc = processor.image_processor(images=[image], return_tensors="pt")
    merge = processor.image_processor.merge_size
    _, h, w = (int(v) for v in enc["image_grid_thw"][0])
    return h // merge, w // merge


def cell_shares(mask: np.ndarray, grid: tuple[int, int]) -> np.ndarray:
    """(rows * cols,) float32: the share of each grid cell the (S, S) bool ``mask`` covers."""
    rows, cols = grid
    return cv2.resize(mask.astype(np.float32), (cols, rows), interpolation=cv2.INTER_AREA).ravel()


def pretrain_vision(
    model,
    processor,
    images: Sequence,
    masks: Sequence[np.ndarray],
    cfg: VisionPretrainConfig = VisionPretrainConfig(),
    progress: bool = True,
) -> list[float]:
    """Train ``model``'s vision tower on objectness + position (module docstring)."""
    import torch

    if not images or len(images) != len(masks):
        raise ValueError(f"need matching images and masks, got {len(images)} and {len(masks)}")
    grid = token_grid(processor, images[0])
    n_tok = grid[0] * grid[1]
    targets = torch.tensor(np.stack([cell_shares(m, grid) for m in masks]))  # (N, T)
    rr, cc = np.mgrid[0 : grid[0], 0 : grid[1]]
    where = torch.tensor(
        np.stack([(rr.ravel() + 0.5) / grid[0], (cc.ravel() + 0.5) / grid[1]], -1),
        dtype=torch.float32,
    )  # (T, 2)
    hidden = model.config.text_config.hidden_size  # the merger's output width
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(cfg.seed)
        objectness, position = torch.nn.Linear(hidden, 1), torch.nn.Linear(hidden, 2)
    visual = model.model.visual
    params = [*visual.parameters(), *objectness.parameters(), *position.parameters()]
    opt = torch.optim.AdamW(params, lr=cfg.learning_rate, weight_decay=0.0)
    rng = np.random.default_rng(cfg.seed)
    visual.train()
    losses = []
    bar = tqdm(range(cfg.steps), desc="vision pretraining (dense)", disable=not progress)
    for _ in bar:
        idx = rng.choice(len(images), size=min(cfg.batch_size, len(images)), replace=False)
        enc = processor.image_processor(images=[images[i] for i in idx], return_tensors="pt")
        out = model.model.get_image_features(enc["pixel_values"], enc["image_grid_thw"])
        pooled = getattr(out, "pooler_output", out)  # per image (T, hidden), or all rows at once
        if isinstance(pooled, (list, tuple)):
            pooled = torch.cat(list(pooled))
        tokens = pooled.reshape(len(idx), n_tok, hidden)
        loss = torch.nn.functional.binary_cross_entropy_with_logits(
            objectness(tokens).squeeze(-1), targets[idx]
        )
        loss = loss + cfg.position_weight * torch.nn.functional.mse_loss(
            position(tokens).sigmoid(), where.expand(len(idx), -1, -1)
        )
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        losses.append(float(loss.item()))
        bar.set_postfix(loss=f"{losses[-1]:.3f}")
    return losses
