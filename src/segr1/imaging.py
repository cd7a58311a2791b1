"""Pixel conversions shared by training rows, rewards, inference and scoring: ONE place, so they
agree by construction.

* :func:`to_rgb`: PIL image or array -> ``(H, W, 3)`` uint8 RGB;
* :func:`stretch`: the protocol's S x S stretch (aspect ratio ignored). Every S x S image in
  segr1 comes from it: the training rows, the image the policy sees, the image the segmenter
  embeds. One filter, :data:`STRETCH_RESAMPLE` (PIL bilinear; the ``released`` evaluation
  profile re-stretches the policy's copy with PIL's default, bicubic);
* :func:`resize_levels`: a mask's 0..255 levels to another size (PIL bilinear), unthresholded;
* :func:`binarize`: 0..255 levels -> bool with the one threshold, :data:`FOREGROUND_ABOVE`
  (``> 128``, PySODMetrics' ground-truth rule), for ground truths and predictions alike;
* :func:`mask_levels`: a ground truth as 0..255 levels; bool and 0/1 masks become 0 / 255, so a
  mask stored as 0/1 (or palette index 1) scores the same everywhere;
* :func:`jpeg_roundtrip`: encode and decode as JPEG (the released evaluation's policy input).
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from segr1.metrics.convert import GT_THRESHOLD
from segr1.protocol.geometry import Size

ImageLike = np.ndarray | Image.Image

RESAMPLE = {
    "bicubic": Image.Resampling.BICUBIC,
    "bilinear": Image.Resampling.BILINEAR,
    "nearest": Image.Resampling.NEAREST,
}
#: The filter of the one S x S stretch.
STRETCH_RESAMPLE = "bilinear"
#: The filter every mask resize uses.
MASK_RESAMPLE = "bilinear"
#: A level is foreground when it is above this (PySODMetrics: ``gt > 128``).
FOREGROUND_ABOVE = GT_THRESHOLD


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


def _resample(name: str) -> Image.Resampling:
    if name not in RESAMPLE:
        raise ValueError(f"unknown resample {name!r}; choose one of {', '.join(RESAMPLE)}")
    return RESAMPLE[name]


def stretch(image: np.ndarray, side: int, resample: str = STRETCH_RESAMPLE) -> np.ndarray:
    """``(H, W, 3)`` uint8 -> ``(S, S, 3)``, aspect ratio ignored (an S x S image is returned
    as it is)."""
    if side < 1:
        raise ValueError(f"side must be positive, got {side}")
    if image.shape[:2] == (side, side):
        return image
    filt = _resample(resample)
    return np.asarray(Image.fromarray(image).resize((side, side), filt), dtype=np.uint8)


def mask_levels(mask: ImageLike) -> np.ndarray:
    """A ground truth (PIL image, bool or integer array) -> ``(H, W)`` uint8 levels 0..255.

    bool masks and masks whose values are all 0 or 1 become 0 / 255; a palette ("P") image
    whose indices are all 0 or 1 is such a mask, any other image is read as luminance ("L")."""
    if isinstance(mask, Image.Image):
        arr = np.asarray(mask) if mask.mode == "P" else None
        if arr is None or (arr.size and arr.max() > 1):
            arr = np.asarray(mask.convert("L"))
    else:
        arr = np.asarray(mask)
    if arr.ndim != 2:
        raise ValueError(f"a mask must be 2-D (H, W), got shape {arr.shape}")
    if arr.dtype == bool:
        return arr.astype(np.uint8) * np.uint8(255)
    if not np.issubdtype(arr.dtype, np.integer) or (
        arr.size and (arr.min() < 0 or arr.max() > 255)
    ):
        raise TypeError(f"a mask must hold integers in 0..255 (or bool), got {arr.dtype}")
    arr = arr.astype(np.uint8, copy=False)
    if arr.size and arr.max() <= 1:
        return arr * np.uint8(255)
    return arr


def resize_levels(levels: np.ndarray, size: Size, resample: str = MASK_RESAMPLE) -> np.ndarray:
    """``(h, w)`` bool or uint8 0..255 -> ``(H, W)`` uint8 levels for ``size = (W, H)``, NOT
    thresholded (bool masks are read as 0 / 255)."""
    arr = levels.astype(np.uint8) * np.uint8(255) if levels.dtype == bool else levels
    arr = np.asarray(arr, dtype=np.uint8)
    if arr.shape[::-1] == tuple(size):
        return arr
    return np.asarray(Image.fromarray(arr).resize(tuple(size), _resample(resample)))


def binarize(levels: np.ndarray) -> np.ndarray:
    """0..255 levels -> bool foreground (``> FOREGROUND_ABOVE``); bool stays as it is."""
    levels = np.asarray(levels)
    return levels if levels.dtype == bool else levels > FOREGROUND_ABOVE


def resize_mask(mask: np.ndarray, size: Size) -> np.ndarray:
    """A mask to ``size = (W, H)``: :func:`resize_levels` then :func:`binarize`."""
    return binarize(resize_levels(mask, size))


def jpeg_roundtrip(image: np.ndarray, quality: int = 75) -> np.ndarray:
    """``(H, W, 3)`` uint8 encoded as JPEG at ``quality`` (PIL's default 75) and decoded."""
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format="JPEG", quality=quality)
    buf.seek(0)
    return np.asarray(Image.open(buf).convert("RGB"), dtype=np.uint8)
