"""The frozen segmenter stand-in: a small SAM2 the project trains itself, supervised.

Seg-R1's segmenter is SAM2, pretrained on SA-1B to turn box / point prompts into masks. Offline,
this module trains the stand-in for that pretraining: a small transformers ``Sam2Model`` (the
class ``facebook/sam2.1-hiera-large`` loads into, built by
:func:`segr1.segment.sam2.tiny_sam2_config`), trained on synthetic scenes with box and point
prompts, then saved and frozen for RL.

Contract:

* :func:`pretrain_sam2` ``(out_dir, PretrainConfig) -> out_dir`` trains from seeded random
  weights and saves a transformers checkpoint (weights, config, processor) plus
  ``pretrain.json`` (config, losses, training seconds, held-out IoUs given the true box and a
  whole-frame box), which ``build_segmenter(str(out_dir))`` and
  :meth:`Sam2Segmenter.from_pretrained` load unchanged. Deterministic for a config (one torch
  thread, seeded): the same ``model.safetensors`` bytes on every run on one machine; a folder
  that already holds a stand-in of the same config is reused (``rebuild=True`` retrains).
* :func:`measure_standin` / :func:`heldout_scenes`: the held-out measurement of any segmenter
  on the scenes the stand-in's config describes (``benchmarks/sam2_standin.py`` prints it
  against GrabCut).
* :func:`train_sam2` is the loop itself (the frozen segmenter and per-step losses; an optional
  callback sees the model at chosen steps: the benchmark's IoU curve).
* :func:`measure_iou` scores ANY segmenter (GrabCut too) given one kind of prompt on held-out
  scenes through :func:`segr1.segment.answers.segment_answers_many`, the reward's own path: the
  scene stretched to the policy's S x S square, an :class:`~segr1.protocol.parse.Answer` written
  in that frame, IoU against the ground truth resized to S x S as the reward resizes it.
* :func:`draw_scenes` draws scenes from a seeded stream that no demo split uses (the demo's
  splits are streams 1 and 2 of :mod:`segr1.data.synth`; training here uses
  :data:`TRAIN_STREAM`, measurement :data:`HELDOUT_STREAM`).

Data. Every step draws its images from a pool of ``n_scenes`` scenes rendered by
:func:`~segr1.data.synth_scene.render_scene` with the demo's generator settings (but
``two_object_fraction`` of them with two objects), stretched to S as the reward stretches them
and embedded through :meth:`Sam2Segmenter.pixel_values` (the processor the saved checkpoint
keeps). A scene's segments are each object, the objects together (when there are two), with
``stuff_fraction > 0`` regions of the background's texture (:func:`stuff_segments`), and the
BACKGROUND: SA-1B masks cover stuff as well as things, and the background's box is about the
whole frame, so a whole-frame box asks for the background, not for the object (the prompt
GrabCut rewards and SAM2 does not). Why two objects and stuff: trained on one object per scene,
the stand-in learned to return the salient object wherever the box was (a box mirrored away
from the object got the same mask) and nothing on camouflaged scenes; when a prompt must pick
one of two objects, or a texture region, only the prompt's position tells the segments apart
(docs/sam2_standin_measured.md).

Prompts (one layout per step, so no padding tokens): a box alone, a box with 1 or 2 points, or
1 to 3 points alone. Box sides move by Gaussian noise of ``u`` x the box size, ``u`` uniform in
``[0, box_noise]``. The first point is on the segment (label 1); later points are on it with
probability 0.6, else off it (label 0); with a box, points lie inside the box (the combination
rule drops the others).

Loss: BCE + dice of the low-resolution logits against the segment area-resized to the logit
grid (``loss="focal"``: SAM2's own 20 x focal + dice), plus the IoU head's squared error to
each mask's IoU. Every prompt trains the single-mask output, the one the reward reads, and the
saved config turns off SAM2's fallback to the multimask outputs when the single mask is unstable
(``dynamic_multimask_via_stability``): with it on, an uncertain box-prompted mask would be
replaced by an output trained on single clicks only. ``multimask=True`` restores SAM2's scheme
(a single click trains the three multimask tokens, the loss of the best one; fallback on).
Adam, linear warm-up then cosine decay; ``encoder_lr_scale`` gives the image encoder (Hiera and
its neck) its own multiple of the learning rate.

``objects_weight > 0`` adds a dense objective on the image encoder alone (SAM2's Hiera is
pretrained before SA-1B; this is a stand-in for that): a throw-away 1 x 1 convolution on each of
the three image-embedding levels, summed at the logit grid, predicts where the scene's objects
are (BCE + dice against their union, no prompt). Without it the stand-in answered camouflaged
objects with its box prior and never looked at them (docs/sam2_standin_measured.md). The head
is not saved: the checkpoint stays a plain ``Sam2Model``.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np
from tqdm.auto import tqdm

from segr1.data.synth_scene import Scene, SynthConfig, render_scene
from segr1.machine import machine_record
from segr1.outdirs import read_record, refuse_foreign
from segr1.segment.base import Call, Segmenter
from segr1.segment.sam2 import check_tiny_sam2_size

if TYPE_CHECKING:
    import torch

    from segr1.segment.sam2 import Sam2Segmenter

TRAIN_STREAM = 11  # seed streams: the demo's synth splits are 1 (train) and 2 (test)
HELDOUT_STREAM = 12
#: Prompt layouts (box?, number of points) and how often each is drawn.
LAYOUTS: tuple[tuple[bool, int], ...] = ((True, 0), (True, 1), (True, 2), (False, 1), (False, 2),
                                         (False, 3))  # fmt: skip
LAYOUT_WEIGHTS = (0.4, 0.15, 0.15, 0.1, 0.1, 0.1)
PROMPT_KINDS = ("true-box", "jittered-box", "box+points", "jittered-box+points", "whole-frame",
                "demo-hack", "central-answer", "mirrored-box", "object-boxes")  # fmt: skip
#: The constant answer GRPO learned with GrabCut in the first demo (``[11,11,99,99]``, object
#: points (61, 31), (61, 11), a background point (11, 11), in S = 100), as fractions of S.
DEMO_HACK = ([0.11, 0.11, 0.99, 0.99], [[0.61, 0.31], [0.61, 0.11], [0.11, 0.11]], [1, 1, 0])
#: The near-constant answer GRPO learned with the first SAM2 stand-in (58 of 120 test answers:
#: box ``[16,16,76,83]``, object points (63, 63), (66, 63), a background point (33, 33)).
CENTRAL_ANSWER = ([0.16, 0.16, 0.76, 0.83], [[0.63, 0.63], [0.66, 0.63], [0.33, 0.33]],
                  [1, 1, 0])  # fmt: skip
CONSTANT_ANSWERS = {"demo-hack": DEMO_HACK, "central-answer": CENTRAL_ANSWER}
MASK_LOSSES = ("bce", "focal")


@dataclass(frozen=True)
class PretrainConfig:
    """One stand-in: model size, data, prompts and optimisation. The defaults are an earlier
    demo stand-in (hidden 32, 6,000 steps: about 30 minutes on one CPU core; true box 0.79
    against GrabCut's 0.86 at camouflage 0.7); the demo now ships ``width=16, hidden=128,
    learning_rate=5e-4, steps=10000`` (``DemoConfig.sam2``: about 107 minutes; true box 0.85,
    whole-frame box 0.02, the true box mirrored away from the object 0.11). Both measured in
    docs/sam2_standin_measured.md."""

    image_size: int = 96  # the model's input side (a multiple of 8 x stride)
    width: int = 8  # tiny_sam2_config width (parameters grow as its square)
    #: tiny_sam2_config stride: the image embedding is image_size / (4 x stride) tokens a side,
    #: the logits image_size / stride
    stride: int = 2
    #: FPN / prompt encoder / mask decoder width (None: 4 x width). The mask is a per-image
    #: linear function of hidden / 8 channels per pixel; 64 or 128 need a learning rate of 1e-3
    #: or 5e-4 to learn position (docs/sam2_standin_measured.md)
    hidden: int | None = None
    steps: int = 6000
    batch_size: int = 16  # images per step
    prompts_per_image: int = 4  # segments prompted per image per step
    learning_rate: float = 3e-3
    warmup_steps: int = 50
    grad_clip: float = 1.0
    n_scenes: int = 4000  # the pool of generated training scenes
    scene_size: int = 128  # rendered scene side (the demo's)
    side: int = 100  # S: the policy's square, the image the segmenter embeds
    camo_strength: float = 0.7  # the scenes' camouflage strength (the demo's SynthConfig)
    camo_low: float | None = None  # training camouflage strengths in [camo_low, camo_strength]
    #: share of training scenes with two objects (the demo's data: 0.2); a prompt then asks for
    #: one of them, which only its position tells apart
    two_object_fraction: float = 0.9
    box_noise: float = 0.2  # largest jitter, as a fraction of the box size (per side, sigma)
    background_fraction: float = 0.15  # prompts whose segment is the background
    stuff_fraction: float = 0.3  # prompts whose segment is a region of the background texture
    #: True: a single click trains the three multimask tokens and the saved model keeps SAM2's
    #: fallback to them when the single mask is unstable. False: every prompt trains the
    #: single-mask token and the fallback is off in the saved config.
    multimask: bool = False
    #: weight of the dense objects objective on the image encoder (module docstring); 0: off
    objects_weight: float = 0.0
    #: the mask loss: "bce" (BCE + dice, every stand-in shipped so far) or "focal" (SAM2's own
    #: weighting: 20 x sigmoid focal loss, alpha 0.25, gamma 2, + dice; at hidden 128 it learned
    #: camouflaged objects more slowly: docs/sam2_standin_measured.md)
    loss: str = "bce"
    #: the image encoder's (Hiera + neck) learning rate as a multiple of ``learning_rate`` (a
    #: wide mask decoder needs a low rate to learn position); 4 at hidden 128 learned less alone
    #: and ended level with the camouflage curriculum (docs/sam2_standin_measured.md)
    encoder_lr_scale: float = 1.0
    seed: int = 0
    threads: int = 1

    def __post_init__(self) -> None:
        at_least = {"steps": 0, "batch_size": 1, "prompts_per_image": 1, "warmup_steps": 0,
                    "n_scenes": 1, "threads": 1, "box_noise": 0.0, "objects_weight": 0.0}  # fmt: skip
        for name, low in at_least.items():
            if not low <= getattr(self, name) < math.inf:  # NaN fails too
                raise ValueError(f"PretrainConfig.{name} must be a finite number of at least "
                                 f"{low}, got {getattr(self, name)}")  # fmt: skip
        for name in ("learning_rate", "encoder_lr_scale", "grad_clip"):  # 0 would stop learning
            if not 0 < getattr(self, name) < math.inf:  # NaN fails too
                raise ValueError(f"PretrainConfig.{name} must be a finite number > 0, "
                                 f"got {getattr(self, name)}")  # fmt: skip
        _ = self.synth  # SynthConfig checks the scene fields (size, camouflage, two objects)
        check_tiny_sam2_size(self.image_size, self.width, self.hidden, self.stride)
        for name in ("background_fraction", "stuff_fraction"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"PretrainConfig.{name} must be in [0, 1], "
                                 f"got {getattr(self, name)}")  # fmt: skip
        if self.background_fraction + self.stuff_fraction > 1.0:
            raise ValueError("PretrainConfig: background_fraction + stuff_fraction must be at "
                             "most 1 (the rest of the prompts ask for objects)")  # fmt: skip
        if self.loss not in MASK_LOSSES:
            raise ValueError(f"PretrainConfig.loss must be one of {', '.join(MASK_LOSSES)}, "
                             f"got {self.loss!r}")  # fmt: skip
        if self.camo_low is not None and not 0.0 <= self.camo_low <= self.camo_strength:
            raise ValueError(f"PretrainConfig.camo_low must be in [0, camo_strength "
                             f"{self.camo_strength}], got {self.camo_low}")  # fmt: skip

    @property
    def synth(self) -> SynthConfig:
        """The training scenes' generator settings."""
        return SynthConfig(size=self.scene_size, camo_strength=self.camo_strength,
                           two_object_fraction=self.two_object_fraction)  # fmt: skip


# ---- data -------------------------------------------------------------------------------


def draw_scenes(
    n: int,
    seed: int,
    stream: int,
    cfg: SynthConfig,
    camo_low: float | None = None,
    keep_background: bool = False,
) -> list[Scene]:
    """``n`` scenes of stream ``stream``; scene ``i`` from its own generator, kinds drawn with
    the config's fractions (empty, then camouflage among the rest, else salient). ``camo_low``:
    each scene's camouflage strength uniform in ``[camo_low, cfg.camo_strength]`` (easier
    scenes among the hard ones); None keeps ``cfg.camo_strength``. ``keep_background``: each
    scene also keeps its image without the objects (:func:`render_scene`)."""
    scenes = []
    for i in range(n):
        rng = np.random.default_rng([seed, stream, i])
        if rng.random() < cfg.empty_fraction:
            kind = "empty"
        elif rng.random() < cfg.camo_fraction:
            kind = "camouflage"
        else:
            kind = "salient"
        c = cfg if camo_low is None else replace(cfg, camo_strength=float(
            rng.uniform(camo_low, cfg.camo_strength)))  # fmt: skip
        scenes.append(render_scene(rng, kind, c, keep_background))
    return scenes


def tight_box(mask: np.ndarray) -> np.ndarray | None:
    """(4,) float ``[x1, y1, x2 + 1, y2 + 1]`` around a bool mask's pixels; None when empty."""
    ys, xs = np.nonzero(mask)
    if len(xs) == 0:
        return None
    return np.array([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1], np.float32)


def stuff_segments(scene: Scene, most: int = 3) -> list[np.ndarray]:
    """Up to ``most`` regions of the background's texture as (H, W) bool masks, largest first:
    connected components of the lighter and of the darker half of the smoothed luminance (split
    at its median off the objects), outside the objects, each 2 % to 40 % of the image. SA-1B
    masks cover such stuff too; trained on them, a box asks for what fills its extent."""
    fg = scene.mask > 127
    lum = cv2.GaussianBlur(scene.image.astype(np.float32).mean(-1), (0, 0), 2.0)
    off = ~fg
    if not off.any():
        return []
    split = float(np.median(lum[off]))
    area = fg.size
    found = []
    for half in (lum > split, lum <= split):
        n, comp, stats, _ = cv2.connectedComponentsWithStats((half & off).astype(np.uint8), 8)
        for k in range(1, n):
            a = int(stats[k, cv2.CC_STAT_AREA])
            if 0.02 * area <= a <= 0.4 * area:
                found.append((a, comp == k))
    found.sort(key=lambda t: -t[0])
    return [m for _, m in found[:most]]


def scene_segments(scene: Scene, stuff: bool = False) -> list[np.ndarray]:
    """The scene's segments as (H, W) bool masks: each object (the connected components lying in
    its box), both objects when there are two, with ``stuff`` the background's texture regions
    (:func:`stuff_segments`), and last the background."""
    fg = scene.mask > 127
    n, comp = cv2.connectedComponents(fg.astype(np.uint8), connectivity=8)
    out = []
    for x1, y1, x2, y2 in scene.boxes:
        inside = np.zeros_like(fg)
        inside[y1 : y2 + 1, x1 : x2 + 1] = True
        labels = [k for k in range(1, n) if not (comp == k)[~inside].any()]
        obj = np.isin(comp, labels) if labels else fg & inside
        out.append(obj)
    if len(out) > 1:
        out.append(fg)
    if stuff:
        out += stuff_segments(scene)
    out.append(~fg)
    return out


@dataclass(frozen=True)
class PoolScene:
    image: np.ndarray  # (S, S, 3) uint8: the scene as the segmenter sees it
    masks: np.ndarray  # (K, S, S) bool: the segments in the S frame (background last)
    targets: np.ndarray  # (K, h, w) float32: the segments area-resized to the logit grid
    boxes: np.ndarray  # (K, 4) float32: each segment's tight box in the S frame
    n_objects: int  # segments 0 .. n_objects - 1 are objects (stuff follows, background last)


def pool_scene(scene: Scene, side: int, grid: int, stuff: bool = False) -> PoolScene:
    from segr1.imaging import resize_mask
    from segr1.rewards import as_rgb

    segs = scene_segments(scene, stuff)
    small = [resize_mask(s, (side, side)) for s in segs]
    n_objects = len(scene.boxes) + (len(scene.boxes) > 1)
    keep = [i for i in range(len(segs)) if i < n_objects or small[i].any()]  # stuff must survive
    segs = [segs[i] for i in keep]
    scale = side / scene.mask.shape[1]
    return PoolScene(
        image=as_rgb(scene.image, side),
        masks=np.stack([small[i] for i in keep]),
        targets=np.stack([cv2.resize(s.astype(np.float32), (grid, grid),
                                     interpolation=cv2.INTER_AREA) for s in segs]),
        boxes=np.stack([tight_box(s) * scale for s in segs]),  # every segment has pixels
        n_objects=n_objects,
    )  # fmt: skip


def jitter(box: np.ndarray, sigma: float, side: int, rng: np.random.Generator) -> np.ndarray:
    """Each side moved by N(0, sigma x the box's size), ordered and clipped to the S frame."""
    w, h = box[2] - box[0], box[3] - box[1]
    b = np.clip(box + rng.normal(0.0, sigma, 4) * np.array([w, h, w, h]), 0, side)
    return np.array([min(b[0], b[2]), min(b[1], b[3]), max(b[0], b[2]), max(b[1], b[3])],
                    np.float32)  # fmt: skip


def pick_point(
    mask: np.ndarray, box: np.ndarray | None, rng: np.random.Generator
) -> np.ndarray | None:
    """(2,) xy centre of a random pixel of the (S, S) bool ``mask``, inside ``box`` when the
    mask has pixels there; None when the mask is empty."""
    if box is not None:
        x1, y1 = np.floor(box[:2]).astype(int)
        x2, y2 = np.ceil(box[2:]).astype(int)
        inside = np.zeros_like(mask)
        inside[y1:y2, x1:x2] = mask[y1:y2, x1:x2]
        mask = inside if inside.any() else mask
    flat = np.flatnonzero(mask)
    if len(flat) == 0:
        return None
    y, x = divmod(int(flat[rng.integers(len(flat))]), mask.shape[1])
    return np.array([x + 0.5, y + 0.5], np.float32)


def prompt_call(
    ps: PoolScene, k: int, layout: tuple[bool, int], cfg: PretrainConfig, rng: np.random.Generator
) -> Call:
    """A training prompt for segment ``k`` of ``ps`` in the S frame (see the module docstring)."""
    has_box, n_points = layout
    box = jitter(ps.boxes[k], rng.uniform(0, cfg.box_noise), cfg.side, rng) if has_box else None
    points, labels = [], []
    for i in range(n_points):
        fg = i == 0 or rng.random() < 0.6
        point = pick_point(ps.masks[k] if fg else ~ps.masks[k], box, rng)
        if point is None:  # a segment too thin to survive the resize to S: a point on it anyway
            fg, point = True, ps.boxes[k].reshape(2, 2).mean(0)
        points.append(point)
        labels.append(int(fg))
    return Call(box, np.asarray(points, np.float32).reshape(-1, 2), np.asarray(labels, np.int64))


def choose_segment(ps: PoolScene, cfg: PretrainConfig, rng: np.random.Generator) -> int:
    """The background with ``background_fraction``, a stuff region (when the scene has one)
    with ``stuff_fraction``, else an object or the objects together."""
    n = len(ps.targets)
    # Random draws are part of a stand-in's recipe (a rebuild must write the same bytes): with
    # stuff off, a scene whose only segment is the background draws nothing (the first
    # stand-ins); with stuff on, every prompt draws its u (the shipped one).
    if n == 1 and not cfg.stuff_fraction:
        return 0
    n_stuff = n - 1 - ps.n_objects
    u = rng.random()
    if n == 1 or u < cfg.background_fraction:
        return n - 1
    if n_stuff and (u < cfg.background_fraction + cfg.stuff_fraction or not ps.n_objects):
        return ps.n_objects + int(rng.integers(n_stuff))
    return int(rng.integers(ps.n_objects))


# ---- training ----------------------------------------------------------------------------


def dice_loss(p: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Soft dice loss over the last two dimensions (smoothed by 1), one value per mask."""
    return 1 - (2 * (p * t).sum((-2, -1)) + 1) / (p.sum((-2, -1)) + t.sum((-2, -1)) + 1)


def seg_loss(
    logits: torch.Tensor, target: torch.Tensor, iou_pred: torch.Tensor, kind: str = "bce"
) -> torch.Tensor:
    """The mask loss. ``logits`` (B, C, M, h, w), ``target`` (B, C, h, w) in [0, 1],
    ``iou_pred`` (B, C, M): per mask BCE + dice (``kind="bce"``) or SAM2's 20 x focal + dice
    (``"focal"``), the best of the M masks counts, plus the IoU head's squared error to each
    mask's IoU."""
    import torch
    import torch.nn.functional as F

    t = target[:, :, None].expand_as(logits)
    per_pixel = F.binary_cross_entropy_with_logits(logits, t, reduction="none")
    p = torch.sigmoid(logits)
    if kind == "focal":  # sigmoid focal loss (alpha 0.25, gamma 2), SAM2's weight 20
        p_t = p * t + (1 - p) * (1 - t)
        per_pixel = 20 * (0.25 * t + 0.75 * (1 - t)) * (1 - p_t) ** 2 * per_pixel
    pixels = per_pixel.mean((-2, -1))
    dice = dice_loss(p, t)
    with torch.no_grad():
        hard, truth = logits > 0, t > 0.5
        union = (hard | truth).sum((-2, -1)).float()
        iou = torch.where(union > 0, (hard & truth).sum((-2, -1)) / union.clamp(min=1), 1.0)
    mask_loss = (pixels + dice).min(dim=2).values  # (B, C)
    return mask_loss.mean() + F.mse_loss(iou_pred, iou)


def lr_factor(step: int, cfg: PretrainConfig) -> float:
    if step < cfg.warmup_steps:
        return (step + 1) / cfg.warmup_steps
    done = (step - cfg.warmup_steps) / max(1, cfg.steps - cfg.warmup_steps)
    return 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * done))


def batch_inputs(
    seg: Sam2Segmenter, pool: Sequence[PoolScene], cfg: PretrainConfig, rng: np.random.Generator
) -> tuple[dict[str, Any], torch.Tensor, bool, torch.Tensor | None]:
    """One step's model inputs (pixel values + prompts, ``(B, C, ...)``), targets
    ``(B, C, h, w)``, whether it asks for the three multimask outputs (a single click), and each
    image's objects together ``(B, 1, h, w)`` (the objects objective's target; None when the
    objective is off)."""
    import torch

    layout = LAYOUTS[rng.choice(len(LAYOUTS), p=LAYOUT_WEIGHTS)]
    rows = rng.integers(len(pool), size=cfg.batch_size)
    calls, targets = [], []
    for r in rows:
        for _ in range(cfg.prompts_per_image):
            k = choose_segment(pool[r], cfg, rng)
            calls.append(prompt_call(pool[r], k, layout, cfg, rng))
            targets.append(pool[r].targets[k])
    b, c = cfg.batch_size, cfg.prompts_per_image
    prompts = seg.prompt_tensors(calls, (cfg.side, cfg.side))  # (1, B*C, ...)
    inputs = {key: v.reshape(b, c, *v.shape[2:]) for key, v in prompts.items()}
    inputs["pixel_values"] = seg.pixel_values([pool[r].image for r in rows])
    target = torch.from_numpy(np.stack(targets)).reshape(b, c, *targets[0].shape)
    objects = None
    if cfg.objects_weight:
        objects = torch.from_numpy(np.stack([1.0 - pool[r].targets[-1] for r in rows]))[:, None]
    return inputs, target, cfg.multimask and layout == (False, 1), objects


def tie_positional_encodings(model: Any) -> None:
    """Give the prompt encoder the image's random Fourier basis. SAM2 has ONE positional
    encoding for image tokens and prompt coordinates (a released checkpoint stores it twice,
    equal); a transformers ``Sam2Model`` built from a config draws the two copies independently,
    and prompts then cannot be located on the image."""
    import torch

    with torch.no_grad():
        model.prompt_encoder.shared_embedding.positional_embedding.copy_(
            model.shared_image_embedding.positional_embedding
        )


def train_sam2(
    cfg: PretrainConfig,
    progress: bool = True,
    on_step: Callable[[int, Sam2Segmenter], None] | None = None,
    every: int = 0,
) -> tuple[Sam2Segmenter, list[float]]:
    """Train the stand-in; returns it frozen (eval mode, no gradients) and the loss per step.
    ``on_step(step, segmenter)`` is called with the frozen model after every ``every`` steps
    (and at the end), then training resumes; it must not touch the random generators."""
    import torch

    from segr1.segment.sam2 import Sam2Segmenter, tiny_sam2_config

    threads = torch.get_num_threads()
    torch.set_num_threads(cfg.threads)
    try:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(cfg.seed)
            model_cfg = tiny_sam2_config(cfg.image_size, cfg.width, cfg.hidden, cfg.stride)
            model_cfg.mask_decoder_config.dynamic_multimask_via_stability = cfg.multimask
            seg = Sam2Segmenter.from_config(model_cfg, seed=cfg.seed)
            tie_positional_encodings(seg.model)
            grid = cfg.image_size // cfg.stride
            scenes = draw_scenes(cfg.n_scenes, cfg.seed, TRAIN_STREAM, cfg.synth, cfg.camo_low)
            pool = [pool_scene(s, cfg.side, grid, cfg.stuff_fraction > 0)
                    for s in tqdm(scenes, desc="segmenter scenes", disable=not progress)]  # fmt: skip
            rng = np.random.default_rng([cfg.seed, TRAIN_STREAM])
            losses = _loop(seg, pool, cfg, rng, progress, on_step, every)
    finally:
        torch.set_num_threads(threads)
    return seg, losses


class ObjectsHead:
    """The objects objective (``objects_weight``): a 1 x 1 convolution per image-embedding level
    of a ``Sam2Model``'s output, upsampled to the logit grid and summed; BCE + dice against the
    objects' union. Trained with the model, never saved."""

    def __init__(self, model: Any) -> None:
        import torch

        hidden = model.config.mask_decoder_config.hidden_size
        # the levels ``Sam2Model`` returns as ``image_embeddings``: conv_s0 / conv_s1 / the top
        self.convs = torch.nn.ModuleList(
            torch.nn.Conv2d(c, 1, 1) for c in (hidden // 8, hidden // 4, hidden)
        )

    def parameters(self) -> list[Any]:
        return list(self.convs.parameters())

    def loss(self, image_embeddings: Sequence[torch.Tensor], objects: torch.Tensor) -> torch.Tensor:
        import torch.nn.functional as F

        size = objects.shape[-2:]
        logits = sum(
            F.interpolate(conv(e), size=size, mode="bilinear", align_corners=False)
            for conv, e in zip(self.convs, image_embeddings, strict=True)
        )
        dice = dice_loss(logits.sigmoid(), objects).mean()
        return F.binary_cross_entropy_with_logits(logits, objects) + dice


def _loop(seg, pool, cfg, rng, progress, on_step, every) -> list[float]:
    import torch

    model = seg.model.train().requires_grad_(True)
    head = ObjectsHead(model) if cfg.objects_weight else None
    params = list(model.parameters()) + (head.parameters() if head else [])
    groups: list[Any] = params
    if cfg.encoder_lr_scale != 1.0:  # one group otherwise: the stand-ins shipped so far
        encoder = {id(p) for p in model.vision_encoder.parameters()}
        groups = [{"params": [p for p in params if id(p) in encoder],
                   "lr": cfg.learning_rate * cfg.encoder_lr_scale},
                  {"params": [p for p in params if id(p) not in encoder]}]  # fmt: skip
    opt = torch.optim.Adam(groups, lr=cfg.learning_rate)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: lr_factor(s, cfg))
    losses: list[float] = []
    bar = tqdm(range(cfg.steps), desc="segmenter pretraining", disable=not progress)
    for step in bar:
        inputs, target, multi, objects = batch_inputs(seg, pool, cfg, rng)
        out = model(**inputs, multimask_output=multi)
        loss = seg_loss(out.pred_masks, target, out.iou_scores, cfg.loss)
        total = loss
        if head is not None:
            total = loss + cfg.objects_weight * head.loss(out.image_embeddings, objects)
        opt.zero_grad(set_to_none=True)
        total.backward()
        torch.nn.utils.clip_grad_norm_(params, cfg.grad_clip)
        opt.step()
        sched.step()
        losses.append(float(loss.item()))
        if progress and step % 20 == 0:
            bar.set_postfix(loss=f"{np.mean(losses[-20:]):.3f}")
        done = step + 1
        if on_step is not None and ((every and done % every == 0) or done == cfg.steps):
            model.eval().requires_grad_(False)
            on_step(done, seg)
            model.train().requires_grad_(True)
    model.eval().requires_grad_(False)
    return losses


META = "pretrain.json"
#: Marks a folder :func:`pretrain_sam2` is training into (removed once ``pretrain.json`` is
#: written): an interrupted build is trained over, a folder of anyone else's files never.
BUILDING = "pretrain.building"


class OtherRecipe(FileExistsError):
    """``folder`` holds a finished stand-in whose recorded config differs in ``fields``."""

    def __init__(self, folder: Path, fields: list[str]) -> None:
        self.folder, self.fields = folder, fields
        super().__init__(self.message("give another folder, or rebuild=True to replace it"))

    def message(self, hint: str) -> str:
        """The error with the caller's own remedy (a command line names its options)."""
        return (f"{self.folder} holds a finished stand-in of another recipe (differs in: "
                f"{', '.join(self.fields)}): {hint}")  # fmt: skip


#: The package's shipped models (segr1/assets): never trained over.
ASSETS = Path(__file__).resolve().parent.parent / "assets"


def recorded_config(folder: str | Path) -> dict[str, Any] | None:
    """The config recorded by a finished stand-in in ``folder`` (its ``pretrain.json`` is
    written last); None when there is none."""
    recorded = (read_record(Path(folder) / META) or {}).get("config")
    return recorded if isinstance(recorded, dict) else None


#: Fields added after stand-ins were shipped, with the value every earlier recipe used: a record
#: leaves them out at that value, so an earlier stand-in keeps matching its config.
LATER_FIELDS = {"loss": "bce", "encoder_lr_scale": 1.0}


def config_record(cfg: PretrainConfig) -> dict[str, Any]:
    """``cfg`` as ``pretrain.json`` records it (JSON types; :data:`LATER_FIELDS` left out at
    their first value)."""
    record = json.loads(json.dumps(asdict(cfg)))
    return {k: v for k, v in record.items() if LATER_FIELDS.get(k, object()) != v}


def holds_standin(folder: str | Path, cfg: PretrainConfig) -> bool:
    """Whether ``folder`` holds a finished stand-in whose recorded config is ``cfg``."""
    return recorded_config(folder) == config_record(cfg)


def pretrain_sam2(
    out_dir: str | Path,
    config: PretrainConfig | None = None,
    progress: bool = True,
    heldout: int = 100,
    rebuild: bool = False,
    on_step: Callable[[int, Sam2Segmenter], None] | None = None,
    every: int = 0,
) -> Path:
    """Train the stand-in and save it to ``out_dir``; load it with
    ``build_segmenter(str(out_dir))``. A folder that already holds a finished stand-in of the
    same config is reused unless ``rebuild``; a folder of other files (no ``pretrain.json``, no
    interrupted build of this function's) is refused. ``pretrain.json`` records the config, the losses,
    the training seconds and the IoUs measured on ``heldout`` held-out scenes (0: none) given
    the true box and a whole-frame box (:func:`measure_standin`). ``on_step`` / ``every``: as
    :func:`train_sam2` (a training curve; the saved weights do not depend on them)."""
    cfg = config or PretrainConfig()
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise NotADirectoryError(f"{out} is a file; the stand-in is saved to a folder (created "
                                 "if missing): give another path")  # fmt: skip
    meta = out / META
    wanted, recorded = config_record(cfg), recorded_config(out)
    if not rebuild and recorded == wanted:
        if progress:
            print(f"reusing segmenter {out}")
        return out
    if out.resolve().is_relative_to(ASSETS):
        raise PermissionError(f"{out} is inside the package's shipped models ({ASSETS}): build "
                              "the stand-in in another folder (docs/demo.md says how one is "
                              "shipped)")  # fmt: skip
    if not rebuild and recorded is not None:
        differ = sorted(k for k in wanted.keys() | recorded.keys()
                        if recorded.get(k) != wanted.get(k))  # fmt: skip
        raise OtherRecipe(out, differ)
    refuse_foreign(out, (META, BUILDING), "a stand-in this command built",
                   "give a new or empty folder")  # fmt: skip
    out.mkdir(parents=True, exist_ok=True)
    (out / BUILDING).write_text("a SAM2 stand-in is being trained into this folder\n")
    if meta.exists():
        meta.unlink()  # the folder is incomplete until the new record is written
    t0 = time.perf_counter()
    seg, losses = train_sam2(cfg, progress, on_step, every)
    seconds = time.perf_counter() - t0
    seg.save_pretrained(out)
    t1 = time.perf_counter()
    measured = measure_standin(seg, cfg, heldout) if heldout else {}
    record = {
        "what": "segr1.segment.pretrain: SAM2 stand-in, supervised on synthetic scenes",
        "config": config_record(cfg),
        "parameters": sum(p.numel() for p in seg.model.parameters()),
        "seconds": round(seconds, 2),
        "torch_threads": cfg.threads,
        "machine": machine_record(),
        "loss_first_50": float(np.mean(losses[:50])),
        "loss_last_50": float(np.mean(losses[-50:])),
        "heldout": measured,
        "measure_seconds": round(time.perf_counter() - t1, 2),
        "losses": [round(v, 5) for v in losses],
    }
    meta.write_text(json.dumps(record, indent=1) + "\n")  # written last: marks it complete
    (out / BUILDING).unlink()
    return out


# ---- measurement --------------------------------------------------------------------------


def measurement_answer(gt: np.ndarray, kind: str, rng: np.random.Generator, box_noise: float):
    """The answer a prompt ``kind`` (:data:`PROMPT_KINDS`) writes for an (S, S) bool ground
    truth with an object, in integer pixels of the S x S frame as a policy writes them
    (``"object-boxes"`` needs the scene's object boxes: :func:`object_boxes_answer`)."""
    from segr1.protocol.parse import Answer

    if kind == "object-boxes":
        raise ValueError("object-boxes answers come from the scene: use object_boxes_answer")
    side = gt.shape[0]
    box = tight_box(gt)
    assert box is not None
    if kind == "whole-frame":
        return Answer(boxes=[[0, 0, side, side]], points_parsed=True)
    if kind in CONSTANT_ANSWERS:
        (box_f, points_f, labels_f), s = CONSTANT_ANSWERS[kind], side
        return Answer(boxes=[[round(v * s) for v in box_f]], labels=list(labels_f),
                      points=[[round(x * s), round(y * s)] for x, y in points_f],
                      points_parsed=True)  # fmt: skip
    if kind == "mirrored-box":  # the true box's size, mirrored through the frame's centre
        return Answer(boxes=[[round(float(side - box[2])), round(float(side - box[3])),
                              round(float(side - box[0])), round(float(side - box[1]))]],
                      points_parsed=True)  # fmt: skip
    if kind.startswith("jittered-box"):
        box = jitter(box, box_noise, side, rng)
    ys, xs = np.nonzero(gt)
    points, labels = [], []
    if kind.endswith("+points"):
        pick_ = rng.choice(len(xs), size=min(int(rng.integers(1, 3)), len(xs)), replace=False)
        points = [[int(xs[i]), int(ys[i])] for i in pick_]
        labels = [1] * len(points)
    return Answer(boxes=[[round(float(v)) for v in box]], points=points, labels=labels,
                  points_parsed=True)  # fmt: skip


def object_boxes_answer(scene: Scene, gt: np.ndarray):
    """One box per object of ``scene`` in the S x S frame of its (S, S) ground truth ``gt`` (the
    protocol's several-box answer: the mask is the union of the per-box masks); a scene with one
    object gets the true box, as :func:`measurement_answer` writes it."""
    from segr1.protocol.geometry import scale_boxes
    from segr1.protocol.parse import Answer

    if len(scene.boxes) < 2:
        return measurement_answer(gt, "true-box", np.random.default_rng(0), 0.0)
    edges = np.asarray(scene.boxes, np.float64) + np.array([0, 0, 1, 1])  # inclusive -> edges
    (h, w), (gh, gw) = scene.mask.shape, gt.shape
    boxes = np.rint(scale_boxes(edges, (w, h), (gw, gh))).astype(int).tolist()
    return Answer(boxes=boxes, points_parsed=True)


def objects_key(kind: str, n_objects: int) -> str:
    """:func:`measure_iou`'s ``by_objects`` key: ``"camouflage, 2 objects"``."""
    return f"{kind}, {n_objects} object{'s' if n_objects > 1 else ''}"


def measure_iou(
    segmenter: Segmenter,
    scenes: Sequence[Scene],
    kind: str,
    side: int,
    seed: int = 0,
    box_noise: float = 0.15,
) -> dict[str, Any]:
    """Mean IoU of ``segmenter`` given prompt ``kind`` on the scenes that have an object, overall,
    per scene kind (``by_kind``) and per scene kind and object count (``by_objects``, keys like
    ``"camouflage, 2 objects"``: a box around two objects is one prompt for both, except for
    ``"object-boxes"``, one box per object; their scene counts in ``n_by_objects``), through
    ``segment_answers_many`` on the S x S image (the reward's path), and the IoU of each scene
    with an object in scene order (``per_scene``, ``n`` of them: two segmenters' lists pair
    up). The prompts' noise is seeded by ``seed``, the same for every segmenter."""
    from segr1.metrics import iou
    from segr1.rewards import as_rgb, gt_mask
    from segr1.segment.answers import segment_answers_many

    if kind not in PROMPT_KINDS:
        raise ValueError(f"unknown prompt kind {kind!r}; choose one of {', '.join(PROMPT_KINDS)}")
    rng = np.random.default_rng([seed, HELDOUT_STREAM, PROMPT_KINDS.index(kind)])
    kept = [(s, gt_mask(s.mask, side)) for s in scenes]
    kept = [(s, gt) for s, gt in kept if gt.any()]
    rows = [(as_rgb(s.image, side), gt, s.kind, len(s.boxes)) for s, gt in kept]
    answers = [[object_boxes_answer(s, gt) if kind == "object-boxes"
                else measurement_answer(gt, kind, rng, box_noise)] for s, gt in kept]  # fmt: skip
    scores: dict[str, list[float]] = {}
    groups: dict[str, list[float]] = {}
    for start in range(0, len(rows), 16):
        chunk = rows[start : start + 16]
        masks = segment_answers_many(segmenter, [r[0] for r in chunk],
                                     answers[start : start + 16], side=side)  # fmt: skip
        for (_, gt, k, n), m in zip(chunk, masks, strict=True):
            v = iou(m[0], gt)
            scores.setdefault("all", []).append(v)
            scores.setdefault(k, []).append(v)
            groups.setdefault(objects_key(k, n), []).append(v)
    by_objects = sorted(groups.items())
    return {"IoU": float(np.mean(scores["all"])), "n": len(scores["all"]),
            "by_kind": {k: float(np.mean(v)) for k, v in scores.items() if k != "all"},
            "by_objects": {k: float(np.mean(v)) for k, v in by_objects},
            "n_by_objects": {k: len(v) for k, v in by_objects},
            "per_scene": scores["all"]}  # fmt: skip


MEASURED_KINDS = ("true-box", "jittered-box", "whole-frame", "central-answer", "mirrored-box")


def heldout_scenes(cfg: PretrainConfig, n: int, keep_background: bool = False) -> list[Scene]:
    """``n`` held-out scenes (stream :data:`HELDOUT_STREAM`, seed 0) of the demo's generator at
    the stand-in's ``scene_size`` and ``camo_strength`` (the demo's share of two-object
    scenes, whatever the stand-in trained on); ``keep_background`` as :func:`draw_scenes`."""
    scfg = SynthConfig(size=cfg.scene_size, camo_strength=cfg.camo_strength)
    return draw_scenes(n, 0, HELDOUT_STREAM, scfg, keep_background=keep_background)


def objects_erased(scenes: Sequence[Scene]) -> list[Scene]:
    """The scenes (drawn with ``keep_background``) with their objects erased from the image and
    kept in the ground truth: :func:`measure_iou` on them scores what a segmenter answers from
    the prompt alone, where the image shows nothing."""
    if any(s.background is None for s in scenes):
        raise ValueError("objects_erased needs scenes drawn with keep_background=True")
    return [replace(s, image=s.background, background=None) for s in scenes]


def measure_standin(
    segmenter: Segmenter,
    cfg: PretrainConfig,
    n: int = 100,
    kinds: Sequence[str] = MEASURED_KINDS,
) -> dict[str, Any]:
    """:func:`measure_iou` of ``segmenter`` for each prompt kind on ``n`` :func:`heldout_scenes`
    of ``cfg``: ``{"scenes": n, "camo_strength": ..., kind: {"IoU", "n", "by_kind"}}``, IoUs
    rounded to 4 decimals."""
    scenes = heldout_scenes(cfg, n)
    out: dict[str, Any] = {"scenes": n, "camo_strength": cfg.camo_strength}
    for kind in kinds:
        r = measure_iou(segmenter, scenes, kind, cfg.side)
        out[kind] = {"IoU": round(r["IoU"], 4), "n": r["n"],
                     "by_kind": {k: round(v, 4) for k, v in r["by_kind"].items()}}  # fmt: skip
    return out
