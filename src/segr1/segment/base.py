"""The segmenter protocol and the Seg-R1 combination rule. numpy in, numpy out.

A segmenter embeds an image ONCE (:meth:`Segmenter.embed`) and then turns many prompt sets into
masks against that embedding in ONE batched decoder call (:meth:`Segmenter.segment`). Several
images are embedded in one batched encoder call by :meth:`Segmenter.embed_batch` where the
backend allows it (SAM2; the default embeds one by one), through the cache by
:meth:`Segmenter.embed_many_cached`. Backends implement only :meth:`embed` and :meth:`decode`
(and optionally :meth:`embed_batch`); how a prompt set becomes decoder calls and how their masks
combine is decided here, once, for every backend:

* for each box: that box plus the points inside it (inclusive), or the box alone;
* the prompt set's mask is the union (OR) of its per-box masks;
* points but no box: one call with all the points;
* nothing: an empty mask;
* a ``joint`` prompt set (the released ReasonSeg evaluation's rule): ONE call with the first
  box and ALL the points, inside the box or not.

Probabilities: :meth:`Segmenter.segment` with ``return_prob=True`` also returns each prompt
set's mask probability ``(P, H, W)`` float32, combined by the same rule with the union taken as
the per-pixel MAX of the per-box probabilities. Backends give them through
:meth:`Segmenter.decode_prob` (SAM2 / SAM 3: the sigmoid of the same logits whose sign makes the
mask); a backend without probabilities (GrabCut) gives its binary mask as 0.0 / 1.0.

Images are ``(H, W, 3)`` uint8 RGB arrays; prompts are in that image's pixel frame.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from segr1.protocol.geometry import Prompts


@dataclass(frozen=True)
class Embedding:
    """A backend's image embedding plus the embedded image's size ``(width, height)``."""

    size: tuple[int, int]
    data: Any


@dataclass(frozen=True)
class Call:
    """One decoder call: an optional box (4,), points (N, 2) and labels (N,)."""

    box: np.ndarray | None
    points: np.ndarray
    labels: np.ndarray


def points_in_box(points: np.ndarray, box: np.ndarray) -> np.ndarray:
    """Boolean (N,) mask of points inside ``box`` (x1, y1, x2, y2), borders included."""
    x, y = points[:, 0], points[:, 1]
    return (x >= box[0]) & (x <= box[2]) & (y >= box[1]) & (y <= box[3])


def plan_calls(prompts: Prompts) -> list[Call]:
    """The Seg-R1 combination rule: the decoder calls whose union is this prompt set's mask."""
    points = np.asarray(prompts.points, np.float32).reshape(-1, 2)
    labels = np.asarray(prompts.labels, np.int64).reshape(-1)
    if prompts.joint and len(prompts.boxes):
        first = np.asarray(prompts.boxes, np.float32).reshape(-1, 4)[0]
        return [Call(box=first, points=points, labels=labels)]
    if len(prompts.boxes):
        calls = []
        for box in np.asarray(prompts.boxes, np.float32).reshape(-1, 4):
            inside = points_in_box(points, box)
            calls.append(Call(box=box, points=points[inside], labels=labels[inside]))
        return calls
    if len(points):
        return [Call(box=None, points=points, labels=labels)]
    return []


def image_key(image: np.ndarray) -> bytes:
    """A content key for an image: same pixels, same key."""
    import hashlib

    arr = np.ascontiguousarray(image)
    h = hashlib.blake2b(digest_size=16)
    h.update(str((arr.shape, arr.dtype.str)).encode())
    h.update(memoryview(arr).cast("B"))
    return h.digest()


class Segmenter(ABC):
    """A frozen promptable segmenter. Subclasses implement :meth:`embed` and :meth:`decode`."""

    name: str = "segmenter"
    #: Optional bounded embedding cache (``segr1.segment.cache.EmbeddingCache``); set by
    #: ``build_segmenter``. It must offer ``get_many(images, compute_many) -> list[Embedding]``.
    cache: Any = None

    @abstractmethod
    def embed(self, image: np.ndarray) -> Embedding:
        """Run the image encoder once on an ``(H, W, 3)`` uint8 RGB image."""

    @abstractmethod
    def decode(self, embedding: Embedding, calls: Sequence[Call]) -> np.ndarray:
        """Masks ``(C, H, W)`` bool, one per call, in the embedded image's frame, batched."""

    def embed_batch(self, images: Sequence[np.ndarray]) -> list[Embedding]:
        """One embedding per image. Backends whose encoder takes a batch override this with ONE
        batched call; this default embeds one image at a time."""
        return [self.embed(image) for image in images]

    def embed_many_cached(self, images: Sequence[np.ndarray]) -> list[Embedding]:
        """One embedding per image through the cache when one is attached; the images it does
        not hold (each distinct one once) go to :meth:`embed_batch` together."""
        if self.cache is not None:
            return self.cache.get_many(images, self.embed_batch)
        keys = [image_key(image) for image in images]
        first = {key: i for i, key in reversed(list(enumerate(keys)))}  # key -> first index
        computed = dict(
            zip(first, self.embed_batch([images[i] for i in first.values()]), strict=True)
        )
        return [computed[key] for key in keys]

    def decode_prob(
        self, embedding: Embedding, calls: Sequence[Call]
    ) -> tuple[np.ndarray, np.ndarray]:
        """Masks ``(C, H, W)`` bool (exactly :meth:`decode`'s) and their probabilities
        ``(C, H, W)`` float32 in [0, 1], from the same decoder calls. This default is for
        backends without probabilities: the binary mask as 0.0 / 1.0."""
        masks = self.decode(embedding, calls)
        return masks, masks.astype(np.float32)

    def embed_cached(self, image: np.ndarray) -> Embedding:
        """:meth:`embed` through the cache when one is attached: the G completions of one image
        in a GRPO step run the encoder once, and a later epoch not at all while it fits."""
        return self.embed_many_cached([image])[0]

    def segment(
        self, embedding: Embedding, prompt_sets: Sequence[Prompts], *, return_prob: bool = False
    ) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
        """Masks ``(P, H, W)`` bool, one per prompt set, from ONE batched decode; with
        ``return_prob`` also their probabilities ``(P, H, W)`` float32 (union = max)."""
        w, h = embedding.size
        plans = [plan_calls(p) for p in prompt_sets]
        flat = [c for plan in plans for c in plan]
        out = np.zeros((len(prompt_sets), h, w), dtype=bool)
        prob = np.zeros((len(prompt_sets), h, w), dtype=np.float32) if return_prob else None
        if flat:
            if prob is None:
                masks, probs = self.decode(embedding, flat), None  # (C, H, W)
            else:
                masks, probs = self.decode_prob(embedding, flat)  # (C, H, W) twice
            start = 0
            for i, plan in enumerate(plans):
                if plan:
                    out[i] = masks[start : start + len(plan)].any(axis=0)
                    if prob is not None:
                        prob[i] = probs[start : start + len(plan)].max(axis=0)
                start += len(plan)
        return out if prob is None else (out, prob)

    def __call__(self, image: np.ndarray, prompt_sets: Sequence[Prompts]) -> np.ndarray:
        """Embed (through the cache, when one is attached) and segment."""
        return self.segment(self.embed_cached(image), prompt_sets)
