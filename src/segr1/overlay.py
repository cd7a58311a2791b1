"""Draw what the policy said and what the segmenter made of it, on the image.

:func:`draw_overlay` returns a new ``(H, W, 3)`` uint8 RGB image: the mask tinted (with its
outline), each box as a rectangle, each point as a dot coloured by its label (green = object /
foreground, red = background). Prompts may be given as :class:`~segr1.protocol.geometry.Prompts`
in the image's frame, or as an :class:`~segr1.protocol.parse.Answer` in the S x S model frame
together with ``side`` (they are scaled to the image). Pure drawing: no model, no file I/O.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

from segr1.protocol.geometry import Prompts, scale_prompts
from segr1.protocol.parse import Answer

MASK_COLOR = (30, 144, 255)
BOX_COLOR = (255, 215, 0)
POINT_COLORS = {1: (0, 220, 0), 0: (230, 0, 0)}  # label -> RGB


def _as_prompts(prompts: Prompts | Answer | None, size: tuple[int, int], side: int | None):
    if prompts is None:
        return Prompts.empty()
    if isinstance(prompts, Answer):
        frame = side if side is not None else max(size)
        if side is None and size[0] != size[1]:
            raise ValueError("an Answer on a non-square image needs side= (the model frame S)")
        return scale_prompts(prompts.boxes, prompts.points, prompts.labels, frame, size)
    return prompts


def tint(image: np.ndarray, mask: np.ndarray, color=MASK_COLOR, alpha: float = 0.45) -> np.ndarray:
    """Blend ``color`` into the ``(H, W)`` mask region and draw the mask's outline."""
    import cv2

    out = image.astype(np.float32)
    m = np.asarray(mask, dtype=bool)
    if m.shape != image.shape[:2]:
        raise ValueError(f"mask {m.shape} does not match image {image.shape[:2]}")
    out[m] = (1 - alpha) * out[m] + alpha * np.asarray(color, np.float32)
    u8 = m.astype(np.uint8)
    width = max(1, round(min(m.shape) / 200))
    edge = m & ~cv2.erode(u8, np.ones((2 * width + 1,) * 2, np.uint8)).astype(bool)
    out[edge] = color
    return out.astype(np.uint8)


def draw_overlay(
    image: np.ndarray,
    mask: np.ndarray | None,
    answer_or_prompts: Prompts | Answer | None = None,
    *,
    side: int | None = None,
    alpha: float = 0.45,
) -> np.ndarray:
    """``(H, W, 3)`` uint8 RGB with the mask tinted, boxes drawn and points as labelled dots."""
    img = np.ascontiguousarray(np.asarray(image, dtype=np.uint8)[:, :, :3])
    h, w = img.shape[:2]
    if mask is not None:
        img = tint(img, mask, alpha=alpha)
    prompts = _as_prompts(answer_or_prompts, (w, h), side)
    pil = Image.fromarray(img)
    draw = ImageDraw.Draw(pil)
    line = max(1, round(min(h, w) / 150))
    for x1, y1, x2, y2 in np.asarray(prompts.boxes).reshape(-1, 4).tolist():
        draw.rectangle([x1, y1, x2, y2], outline=BOX_COLOR, width=line)
    radius = max(2, round(min(h, w) / 80))
    points = np.asarray(prompts.points).reshape(-1, 2).tolist()
    for (x, y), label in zip(points, np.asarray(prompts.labels).tolist(), strict=True):
        color = POINT_COLORS.get(int(label), POINT_COLORS[0])
        box = [x - radius, y - radius, x + radius, y + radius]
        draw.ellipse(box, fill=color, outline=(255, 255, 255), width=max(1, radius // 3))
    return np.asarray(pil)
