"""Render one synthetic scene: a procedural background and zero, one or two objects.

:func:`render_scene` is pure: ``(rng, kind, config) -> Scene(image (S, S, 3) uint8,
mask (S, S) uint8 0/255, boxes)``; the same generator state gives the same pixels.

* background: smooth multi-octave value noise through a small palette of related colours
  (one hue family, like bark, sand or foliage), a contrast curve for blotchy patches, and grain;
* camouflage object: the SAME texture family and palette, re-drawn with a new phase and a
  slightly different scale, a subtle tint and a faint lighting gradient, blended in with a soft
  boundary. ``camo_strength`` in [0, 1] scales how subtle: 1 gives identical statistics (only
  the phase break at the boundary betrays the object), 0 a clearly shifted scale and tint;
* salient object: a saturated colour opposite the background's hue, mildly shaded;
* shapes: ellipses, star-convex polygons, smooth blobs; areas log-uniform in
  ``[min_area, max_area]`` of the image; a second, non-overlapping object sometimes.

The ground truth is the hard shape; only the image's boundary is soft.
"""

from __future__ import annotations

import colorsys
from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np

KINDS = ("camouflage", "salient", "empty")


@dataclass(frozen=True)
class SynthConfig:
    """Knobs of the generator; ``camo_strength`` is the difficulty of camouflage scenes."""

    size: int = 256
    camo_strength: float = 0.7
    camo_fraction: float = 0.6
    empty_fraction: float = 0.03
    two_object_fraction: float = 0.2
    min_area: float = 0.03
    max_area: float = 0.2

    def __post_init__(self) -> None:
        if self.size < 32:
            raise ValueError(f"size must be at least 32 pixels, got {self.size}")
        for name in ("camo_strength", "camo_fraction", "empty_fraction", "two_object_fraction"):
            v = getattr(self, name)
            if not 0.0 <= v <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {v}")
        if not 0.0 < self.min_area <= self.max_area < 0.5:
            raise ValueError("need 0 < min_area <= max_area < 0.5 (fractions of the image)")


@dataclass(frozen=True)
class Scene:
    image: np.ndarray  # (S, S, 3) uint8 RGB
    mask: np.ndarray  # (S, S) uint8, 0 / 255
    kind: str
    boxes: list[list[int]]  # per object [x1, y1, x2, y2], inclusive pixels
    #: (S, S, 3) uint8: the same scene without its objects (``keep_background``), else None
    background: np.ndarray | None = None


@dataclass(frozen=True)
class Texture:
    cells: float  # coarsest noise grid (cells across the image)
    sharpness: float  # contrast curve slope: high -> blotchy patches
    stops: np.ndarray  # (K,) positions in [0, 1]
    colours: np.ndarray  # (K, 3) float RGB 0..255


def _noise(rng: np.random.Generator, size: int, cells: float, octaves: int = 3) -> np.ndarray:
    """(S, S) float32 in [0, 1]: bicubic-upsampled random grids, summed over octaves."""
    acc = np.zeros((size, size), np.float32)
    amp = 1.0
    for o in range(octaves):
        n = max(2, round(cells * 2**o)) + 1
        acc += amp * cv2.resize(
            rng.random((n, n), dtype=np.float32), (size, size), interpolation=cv2.INTER_CUBIC
        )
        amp *= 0.5
    lo, hi = float(acc.min()), float(acc.max())
    return (acc - lo) / max(hi - lo, 1e-6)


def _palette(rng: np.random.Generator, hue: float, k: int = 4) -> np.ndarray:
    """(k, 3) RGB 0..255: related hues, moderate saturation, spread-out brightness."""
    values = np.sort(rng.uniform(0.2, 0.9, k))
    cols = [
        colorsys.hsv_to_rgb((hue + rng.normal(0, 0.04)) % 1.0, rng.uniform(0.2, 0.6), v)
        for v in values
    ]
    return np.asarray(cols, np.float32) * 255.0


def random_texture(rng: np.random.Generator, hue: float) -> Texture:
    k = int(rng.integers(3, 6))
    stops = np.sort(np.concatenate([[0.0, 1.0], rng.uniform(0.15, 0.85, k - 2)]))
    return Texture(
        cells=float(rng.uniform(2.0, 6.0)),
        sharpness=float(rng.uniform(2.0, 12.0)),
        stops=stops.astype(np.float32),
        colours=_palette(rng, hue, k),
    )


_LUT_LEVELS = 1024


def _lut(tex: Texture) -> np.ndarray:
    """(L, 3) float32: noise level -> contrast curve -> palette colour."""
    q = np.linspace(0.0, 1.0, _LUT_LEVELS, dtype=np.float32)
    q = 1.0 / (1.0 + np.exp(-tex.sharpness * (q - 0.5)))  # contrast curve -> patches
    return np.stack([np.interp(q, tex.stops, tex.colours[:, c]) for c in range(3)], 1).astype(
        np.float32
    )


def paint(rng: np.random.Generator, tex: Texture, size: int) -> np.ndarray:
    """(S, S, 3) float32 RGB of texture ``tex`` with a fresh random phase, plus grain."""
    f = _noise(rng, size, tex.cells)  # (S, S) in [0, 1]
    out = _lut(tex)[(f * (_LUT_LEVELS - 1)).astype(np.int32)]  # (S, S, 3)
    out += 4.0 * rng.standard_normal((size, size, 1), dtype=np.float32)
    return out


@lru_cache(maxsize=8)
def _grid(size: int) -> tuple[np.ndarray, np.ndarray]:
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size - 0.5
    return xx, yy


def _ramp(rng: np.random.Generator, size: int) -> np.ndarray:
    """(S, S, 1) float32 linear lighting gradient in [-0.5, 0.5] along a random direction."""
    a = rng.uniform(0, 2 * np.pi)
    xx, yy = _grid(size)
    return (np.float32(np.cos(a)) * xx + np.float32(np.sin(a)) * yy)[..., None]


def _outline(rng: np.random.Generator, area: float) -> np.ndarray:
    """(N, 2) float vertices of a random shape centred at 0 with the given pixel area."""
    kind = rng.integers(3)
    if kind == 0:  # ellipse
        t = np.linspace(0, 2 * np.pi, 48, endpoint=False)
        r = np.stack([np.cos(t), rng.uniform(0.4, 1.0) * np.sin(t)], 1)
    elif kind == 1:  # star-convex polygon
        n = int(rng.integers(3, 9))
        t = (np.arange(n) + rng.uniform(-0.3, 0.3, n)) * (2 * np.pi / n)
        r = rng.uniform(0.55, 1.0, len(t))[:, None] * np.stack([np.cos(t), np.sin(t)], 1)
    else:  # smooth blob: radius = 1 + low-order Fourier terms
        t = np.linspace(0, 2 * np.pi, 64, endpoint=False)
        rad = np.ones_like(t)
        for k in range(2, 6):
            rad += rng.uniform(0, 0.3 / k * 2) * np.cos(k * t + rng.uniform(0, 2 * np.pi))
        r = rad[:, None] * np.stack([np.cos(t), np.sin(t)], 1)
    rot = rng.uniform(0, np.pi)
    c, s = np.cos(rot), np.sin(rot)
    r = r @ np.array([[c, s], [-s, c]])
    x, y = r[:, 0], r[:, 1]
    poly_area = 0.5 * abs(np.dot(x, np.roll(y, 1)) - np.dot(y, np.roll(x, 1)))
    return r * np.sqrt(area / max(poly_area, 1e-6))


def _place(rng: np.random.Generator, outline: np.ndarray, size: int) -> np.ndarray:
    """(S, S) bool: the outline translated to a random position fully inside the image."""
    margin = 2.0
    span = float((outline.max(0) - outline.min(0)).max())
    if span > size - 2 * margin - 1:  # too big for the frame: shrink to fit
        outline = outline * ((size - 2 * margin - 1) / span)
    lo, hi = outline.min(0), outline.max(0)
    low = margin - lo
    high = np.maximum(low, size - 1 - margin - hi)
    pts = outline + rng.uniform(low, high)
    mask = np.zeros((size, size), np.uint8)
    cv2.fillPoly(mask, [np.round(pts).astype(np.int32)], 1)
    return mask.astype(bool)


def object_masks(rng: np.random.Generator, n: int, cfg: SynthConfig) -> list[np.ndarray]:
    """``n`` non-overlapping object masks (the second one retried a few times to avoid overlap)."""
    size, masks = cfg.size, []
    hi = cfg.max_area if n == 1 else max(cfg.min_area, 0.6 * cfg.max_area)
    for _ in range(n):
        area = np.exp(rng.uniform(np.log(cfg.min_area), np.log(hi))) * size * size
        outline = _outline(rng, area)
        for _attempt in range(10):
            m = _place(rng, outline, size)
            if not any(
                (m & cv2.dilate(o.astype(np.uint8), np.ones((5, 5))) > 0).any() for o in masks
            ):
                break
        masks.append(m)
    return masks


def _soft(mask: np.ndarray, sigma: float) -> np.ndarray:
    """(S, S, 1) float32 alpha: the hard mask blurred by ``sigma`` pixels."""
    a = cv2.GaussianBlur(mask.astype(np.float32), (0, 0), sigmaX=sigma)
    return a[..., None]


def _camouflage_layer(rng: np.random.Generator, tex: Texture, cfg: SynthConfig) -> np.ndarray:
    d = 1.0 - cfg.camo_strength
    scale = 1.0 + d * rng.choice([-0.45, 0.9])
    tint = rng.normal(0.0, 1.0, 3).astype(np.float32)
    tint *= d * 45.0 / max(float(np.linalg.norm(tint)), 1e-6)
    shifted = Texture(tex.cells * scale, tex.sharpness, tex.stops, tex.colours + tint)
    layer = paint(rng, shifted, cfg.size)
    return layer * (1.0 + d * 0.5 * _ramp(rng, cfg.size))


def _salient_layer(rng: np.random.Generator, hue: float, cfg: SynthConfig) -> np.ndarray:
    h = (hue + 0.5 + rng.uniform(-0.15, 0.15)) % 1.0
    rgb = np.asarray(colorsys.hsv_to_rgb(h, rng.uniform(0.65, 1.0), rng.uniform(0.6, 1.0)))
    shade = 0.85 + 0.3 * _noise(rng, cfg.size, 3.0, octaves=2)[..., None]  # (S, S, 1)
    layer = (rgb.astype(np.float32) * 255.0) * shade * (1.0 + 0.3 * _ramp(rng, cfg.size))
    return layer + 3.0 * rng.standard_normal((cfg.size, cfg.size, 1), dtype=np.float32)


def _box(mask: np.ndarray) -> list[int]:
    ys, xs = np.nonzero(mask)
    return [int(xs.min()), int(ys.min()), int(xs.max()), int(ys.max())]


def _to_uint8(image: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(image), 0, 255).astype(np.uint8)


def render_scene(
    rng: np.random.Generator, kind: str, cfg: SynthConfig, keep_background: bool = False
) -> Scene:
    """One scene of ``kind`` ("camouflage", "salient" or "empty"). ``keep_background`` also
    keeps the image before the objects were blended in (the same pixels away from them; the same
    random draws, so the scene is unchanged): does a segmenter look at the object, or answer
    from the prompt alone?"""
    if kind not in KINDS:
        raise ValueError(f"unknown scene kind {kind!r}; choose one of {', '.join(KINDS)}")
    hue = float(rng.uniform(0, 1))
    tex = random_texture(rng, hue)
    image = paint(rng, tex, cfg.size)  # (S, S, 3)
    background = _to_uint8(image) if keep_background else None
    n = 0 if kind == "empty" else (2 if rng.random() < cfg.two_object_fraction else 1)
    masks = object_masks(rng, n, cfg)
    for m in masks:
        if kind == "camouflage":
            layer = _camouflage_layer(rng, tex, cfg)
            alpha = _soft(m, 1.0 + 2.0 * cfg.camo_strength)
        else:
            layer, alpha = _salient_layer(rng, hue, cfg), _soft(m, 0.8)
        image = image * (1.0 - alpha) + layer * alpha
    union = np.zeros((cfg.size, cfg.size), bool)
    for m in masks:
        union |= m
    return Scene(
        image=_to_uint8(image),
        mask=union.astype(np.uint8) * 255,
        kind=kind,
        boxes=[_box(m) for m in masks],
        background=background,
    )
