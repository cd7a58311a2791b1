"""A test-only segmenter whose masks are known exactly from the prompts."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from segr1.segment.base import Call, Embedding, Segmenter


class Painter(Segmenter):
    """A call's mask is its box, plus a 3x3 square per foreground point (unless ``points`` is
    False). Counts embeddings and batched decodes and keeps every call it decoded."""

    name = "painter"

    def __init__(self, points: bool = True) -> None:
        self.points = points
        self.embeds = 0
        self.decodes = 0
        self.calls: list[Call] = []

    def embed(self, image: np.ndarray) -> Embedding:
        self.embeds += 1
        return Embedding(size=(image.shape[1], image.shape[0]), data=None)

    def decode(self, embedding: Embedding, calls: Sequence[Call]) -> np.ndarray:
        self.decodes += 1
        self.calls.extend(calls)
        w, h = embedding.size
        out = np.zeros((len(calls), h, w), bool)  # (C, H, W)
        for k, c in enumerate(calls):
            if c.box is not None:
                x1, y1, x2, y2 = np.round(c.box).astype(int)
                out[k, y1:y2, x1:x2] = True
            if not self.points:
                continue
            for (x, y), lab in zip(c.points.astype(int), c.labels, strict=True):
                if lab == 1:
                    out[k, max(y - 1, 0) : y + 2, max(x - 1, 0) : x + 2] = True
        return out
