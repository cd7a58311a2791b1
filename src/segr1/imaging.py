"""Pixel conversions shared by inference, rewards and evaluation (one place, so they agree).

* :func:`to_rgb`: PIL image or array -> ``(H, W, 3)`` uint8 RGB;
* :func:`stretch`: the protocol's S x S stretch (aspect ratio ignored, PIL bilinear);
* :func:`upsample_mask`: a bool mask to another size, bilinear on 0/255 then ``> 127`` (the
  convention the reward also uses for ground truths), or nearest.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from segr1.protocol.geometry import Size

ImageLike = np.ndarray | Image.Image


def to_rgb(image: ImageLike) -> np.ndarray:
    """PIL image or array -> ``(H, W, 3)`` uint8 RGB (gray is repeated, alpha dropped)."""
    if isinstance(image, Image.Image):
        return np.asarray(image.convert("RGB"), dtype=np.uint8)
    arr = np.asarray(image)
    if arr.dtype != np.uint8:
        raise TypeError(f"images must be uint8 RGB arrays or PIL images, got dtype {arr.dtype}")
    if arr.ndim == 2:
        arr = np.repeat(arr[:, :, None], 3, axis=2)
    if arr.ndim != 3 or arr.shape[2] not in (3, 4):
        raise ValueError(f"expected an (H, W, 3) RGB image, got shape {arr.shape}")
    return np.ascontiguousarray(arr[:, :, :3])


def stretch(image: np.ndarray, side: int) -> np.ndarray:
    """``(H, W, 3)`` -> ``(S, S, 3)``, aspect ratio ignored (bilinear)."""
    if image.shape[:2] == (side, side):
        return image
    return np.asarray(Image.fromarray(image).resize((side, side), Image.BILINEAR))


def upsample_mask(mask: np.ndarray, size: Size, how: str = "bilinear") -> np.ndarray:
    """``(h, w)`` bool, or uint8 0..255, -> ``(H, W)`` bool for ``size = (W, H)``."""
    levels = mask.astype(np.uint8) * 255 if mask.dtype == bool else mask.astype(np.uint8)
    if mask.shape[::-1] == tuple(size):
        return levels > 127
    pil = Image.fromarray(levels)
    if how == "nearest":
        return np.asarray(pil.resize(size, Image.NEAREST)) > 127
    return np.asarray(pil.resize(size, Image.BILINEAR)) > 127
