"""The classical backend: OpenCV GrabCut, no weights (the offline default segmenter).

:meth:`GrabCutSegmenter.embed` stores the image, downscaled once so its longer side is at most
``max_side`` (GrabCut's cost grows with the pixel count; ``None`` keeps full resolution).
:meth:`GrabCutSegmenter.decode` runs GrabCut per call on that working image:

* with a box: outside the box is background (``GC_BGD``), inside probable foreground
  (``GC_PR_FGD``); labelled points are painted as small discs, sure foreground (``GC_FGD``)
  for label 1, sure background (``GC_BGD``) for label 0;
* points only: everything probable background, a region around each foreground point
  probable foreground, discs as above; no foreground point at all -> empty mask;
* degenerate seeds (a zero-area or tiny box, or too few background / foreground pixels to fit
  GrabCut's 5-component colour models): no GrabCut, the mask is the seed's foreground part
  (the box rasterised plus the foreground discs; empty for a zero-area box without points).

The mask (``GC_FGD | GC_PR_FGD``) is resized back to the embedded image's ``(H, W)``.
Deterministic: OpenCV's RNG is seeded before every GrabCut run.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from segr1.segment.base import Call, Embedding, Segmenter
from segr1.segment.cache import EmbeddingCache

MIN_SEED_PIXELS = 25  # both colour models need enough samples for 5 k-means components


@dataclass(frozen=True)
class WorkImage:
    """The image GrabCut runs on and its scale from the embedded image's frame."""

    pixels: np.ndarray  # (h, w, 3) uint8
    scale: float


class GrabCutSegmenter(Segmenter):
    """Box / point prompts -> GrabCut masks; deterministic, CPU only, no model files."""

    name = "grabcut"

    def __init__(
        self,
        iterations: int = 5,
        max_side: int | None = 256,
        point_radius: float = 0.015,
        seed_radius: float = 0.12,
        seed: int = 0,
        bgr: bool = False,
        cache: EmbeddingCache | None = None,
    ) -> None:
        """``point_radius`` / ``seed_radius``: disc and points-only seed radii, as fractions of
        the working image's shorter side."""
        if iterations < 1:
            raise ValueError(f"GrabCutSegmenter(iterations={iterations}): needs at least 1")
        self.iterations = iterations
        self.max_side = max_side
        self.point_radius = point_radius
        self.seed_radius = seed_radius
        self.seed = seed
        self.bgr = bgr
        self.cache = cache

    def embed(self, image: np.ndarray) -> Embedding:
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise ValueError(
                f"GrabCut expects an (H, W, 3) uint8 RGB image, got {image.shape} {image.dtype}"
            )
        h, w = image.shape[:2]
        pixels = image[..., ::-1] if self.bgr else image
        scale = 1.0
        if self.max_side and max(h, w) > self.max_side:
            scale = self.max_side / max(h, w)
            size = (max(1, round(w * scale)), max(1, round(h * scale)))
            pixels = cv2.resize(pixels, size, interpolation=cv2.INTER_AREA)
        return Embedding(size=(w, h), data=WorkImage(np.ascontiguousarray(pixels), scale))

    def decode(self, embedding: Embedding, calls: Sequence[Call]) -> np.ndarray:
        w, h = embedding.size
        out = np.zeros((len(calls), h, w), dtype=bool)  # (C, H, W)
        for k, call in enumerate(calls):
            small = self.decode_one(embedding.data, call)  # (h', w') or None when degenerate
            if small is None:
                out[k] = self.fallback(call, (w, h))
            elif small.shape != (h, w):
                grey = cv2.resize(
                    small.astype(np.uint8) * 255, (w, h), interpolation=cv2.INTER_LINEAR
                )
                out[k] = grey > 127
            else:
                out[k] = small
        return out

    def fallback(self, call: Call, size: tuple[int, int]) -> np.ndarray:
        """A degenerate seed's mask (H, W): the box rasterised plus the foreground discs."""
        w, h = size
        mask = np.zeros((h, w), np.uint8)
        if call.box is not None:
            x1, y1, x2, y2 = np.round(np.asarray(call.box, np.float64)).astype(int)
            mask[max(y1, 0) : max(y2, 0), max(x1, 0) : max(x2, 0)] = 1
        r = max(1, round(self.point_radius * min(w, h)))
        for (x, y), label in zip(np.round(call.points).astype(int), call.labels, strict=True):
            if label == 1:
                cv2.circle(mask, (int(x), int(y)), r, 1, -1)
        return mask > 0

    def radius(self, work: WorkImage, fraction: float) -> int:
        return max(1, round(fraction * min(work.pixels.shape[:2])))

    def seed_mask(self, work: WorkImage, call: Call) -> np.ndarray:
        """The GrabCut label map (h', w') uint8 for one call."""
        h, w = work.pixels.shape[:2]
        points = np.round(np.asarray(call.points, np.float64) * work.scale).astype(int)
        labels = np.asarray(call.labels).reshape(-1)
        if call.box is not None:
            mask = np.full((h, w), cv2.GC_BGD, np.uint8)
            x1, y1, x2, y2 = np.round(np.asarray(call.box, np.float64) * work.scale).astype(int)
            mask[max(y1, 0) : max(y2, 0), max(x1, 0) : max(x2, 0)] = cv2.GC_PR_FGD
        else:
            mask = np.full((h, w), cv2.GC_PR_BGD, np.uint8)
            for (x, y), label in zip(points, labels, strict=True):
                if label == 1:
                    r = self.radius(work, self.seed_radius)
                    cv2.circle(mask, (int(x), int(y)), r, int(cv2.GC_PR_FGD), -1)
        r = self.radius(work, self.point_radius)
        for (x, y), label in zip(points, labels, strict=True):
            value = cv2.GC_FGD if label == 1 else cv2.GC_BGD
            cv2.circle(mask, (int(x), int(y)), r, int(value), -1)
        return mask

    def decode_one(self, work: WorkImage, call: Call) -> np.ndarray | None:
        """One call -> (h', w') bool mask in the working frame; None for a degenerate seed."""
        if call.box is None and not (np.asarray(call.labels) == 1).any():
            return np.zeros(work.pixels.shape[:2], dtype=bool)
        mask = self.seed_mask(work, call)
        fg = (mask == cv2.GC_FGD) | (mask == cv2.GC_PR_FGD)
        if fg.sum() < MIN_SEED_PIXELS or (~fg).sum() < MIN_SEED_PIXELS:
            return None  # GrabCut cannot fit both colour models
        bgd_model = np.zeros((1, 65), np.float64)
        fgd_model = np.zeros((1, 65), np.float64)
        cv2.setRNGSeed(self.seed)
        cv2.grabCut(
            work.pixels, mask, None, bgd_model, fgd_model, self.iterations, cv2.GC_INIT_WITH_MASK
        )
        return (mask == cv2.GC_FGD) | (mask == cv2.GC_PR_FGD)
