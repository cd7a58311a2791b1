"""Reading and writing images and masks. Errors name the file and what to do about it.

* :func:`read_image` -> ``(H, W, 3)`` uint8 RGB (grayscale and RGBA are converted; EXIF
  orientation is not applied, matching how the benchmarks' ground truths were drawn).
* :func:`read_mask` -> ``(H, W)`` uint8 0..255 (any PNG/JPEG mode; colour masks are converted to
  luminance): how predictions are read, as PySODMetrics reads them.
* :func:`read_ground_truth` -> ``(H, W)`` uint8 0..255 levels of a ground truth: as
  :func:`read_mask`, but a mask stored as 0/1 (or as palette indices 0/1) becomes 0/255
  (:func:`segr1.imaging.mask_levels`), so it scores the same in training and evaluation.
* :func:`write_mask` writes an 8-bit PNG atomically (temporary file + rename), so an interrupted
  run never leaves a half-written mask that a resume would mistake for a finished one.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")


class ImageReadError(ValueError):
    """An image or mask file could not be read; the message names the path."""


def _open(path: str | os.PathLike) -> Image.Image:
    p = Path(path)
    try:
        img = Image.open(p)
        img.load()
    except FileNotFoundError:
        raise ImageReadError(f"{p}: file not found") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as e:
        raise ImageReadError(
            f"{p}: not a readable image ({e}); re-export it as PNG/JPEG or remove it from the set"
        ) from None
    return img


def read_image(path: str | os.PathLike) -> np.ndarray:
    """RGB uint8 ``(H, W, 3)``."""
    return np.asarray(_open(path).convert("RGB"), dtype=np.uint8)


def _levels(img: Image.Image) -> np.ndarray:
    if img.mode in ("I;16", "I;16B", "I"):
        arr = np.asarray(img, dtype=np.float64)
        top = arr.max() if arr.size else 0
        scale = 255.0 / (65535.0 if top > 255 else 255.0)
        return np.clip(arr * scale, 0, 255).astype(np.uint8)
    return np.asarray(img.convert("L"), dtype=np.uint8)


def read_mask(path: str | os.PathLike) -> np.ndarray:
    """Grayscale uint8 ``(H, W)``, values 0..255."""
    return _levels(_open(path))


def read_ground_truth(path: str | os.PathLike) -> np.ndarray:
    """Ground-truth levels uint8 ``(H, W)``, 0..255; 0/1 masks (and palette indices 0/1) read
    as 0/255."""
    from segr1.imaging import mask_levels

    img = _open(path)
    return mask_levels(img if img.mode == "P" else _levels(img))


def write_mask(path: str | os.PathLike, mask: np.ndarray) -> Path:
    """Write ``mask`` ((H, W) bool or uint8 0..255, or float 0..1) as an 8-bit PNG, atomically."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    m = np.asarray(mask)
    if m.dtype == bool:
        m = m.astype(np.uint8) * 255
    elif np.issubdtype(m.dtype, np.floating):
        m = np.clip(np.rint(m * 255.0), 0, 255).astype(np.uint8)
    else:
        m = m.astype(np.uint8)
    write_image(p, m)
    return p


def write_image(path: str | os.PathLike, array: np.ndarray) -> Path:
    """Write a uint8 image (PNG/JPEG by suffix) atomically."""
    return save_atomic(path, Image.fromarray(np.asarray(array, dtype=np.uint8)))


def save_atomic(path: str | os.PathLike, image: Image.Image, **save_kwargs: object) -> Path:
    """Save a PIL image atomically (temporary file + rename); ``save_kwargs`` go to PIL's
    ``save`` (e.g. ``compress_level=1`` for fast PNGs). The format follows the suffix."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{p.stem}.", suffix=p.suffix, dir=p.parent)
    os.close(fd)
    try:
        image.save(tmp, **save_kwargs)
        os.replace(tmp, p)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return p
