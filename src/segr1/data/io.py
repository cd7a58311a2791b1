"""Reading and writing images and masks. Errors name the file and what to do about it.

* :func:`read_image` -> ``(H, W, 3)`` uint8 RGB (grayscale and RGBA are converted; EXIF
  orientation is not applied, matching how the benchmarks' ground truths were drawn).
* :func:`read_mask` -> ``(H, W)`` uint8 levels 0..255 of a mask file, ground truth or prediction,
  by ONE rule (the same in training rows, scoring and evaluation):

  - 8-bit grey ("L") as stored; "1" (bilevel) as 0 / 255;
  - 16- and 32-bit integers: 0..255 as stored, wider ranges scaled from 0..65535;
  - float ("F", e.g. TIFF probabilities): values within 0..1 are probabilities, x 255;
    otherwise clipped to 0..255;
  - palette ("P"): indices when they are all 0 or 1, else the palette colours' luminance;
  - with alpha ("LA", "RGBA", "PA"): the alpha channel when the colour is the same everywhere
    (an alpha-only mask), else the colours' luminance;
  - other colour modes: luminance ("L");
  - then a mask whose values are all 0 or 1 becomes 0 / 255 (:func:`segr1.imaging.mask_levels`).
* Images larger than Pillow's decompression-bomb limit (``Image.MAX_IMAGE_PIXELS``, about 89 M
  pixels; twice that is refused) raise :class:`ImageReadError` naming the size; the environment
  variable ``SEGR1_MAX_IMAGE_PIXELS`` sets that limit for trusted large images.
* :func:`write_mask` writes an 8-bit PNG atomically (temporary file + rename), so an interrupted
  run never leaves a half-written mask that a resume would mistake for a finished one; written
  files get the usual permissions (0666 minus the umask, 0644 by default).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")
if os.environ.get("SEGR1_MAX_IMAGE_PIXELS"):
    Image.MAX_IMAGE_PIXELS = int(os.environ["SEGR1_MAX_IMAGE_PIXELS"])


def _file_mode() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


class ImageReadError(ValueError):
    """An image or mask file could not be read; the message names the path."""


def _open(path: str | os.PathLike) -> Image.Image:
    p = Path(path)
    try:
        img = Image.open(p)
        img.load()
    except FileNotFoundError:
        broken = " (a symbolic link whose target is missing)" if p.is_symlink() else ""
        raise ImageReadError(f"{p}: file not found{broken}") from None
    except Image.DecompressionBombError as e:
        raise ImageReadError(
            f"{p}: too large to read safely ({e}); downscale it, or raise the limit with "
            "SEGR1_MAX_IMAGE_PIXELS=<pixels> if you trust the file"
        ) from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, MemoryError) as e:
        raise ImageReadError(
            f"{p}: not a readable image ({e}); re-export it as PNG/JPEG or remove it from the set"
        ) from None
    return img


def read_image(path: str | os.PathLike) -> np.ndarray:
    """RGB uint8 ``(H, W, 3)``."""
    return np.asarray(_open(path).convert("RGB"), dtype=np.uint8)


def mask_array(img: Image.Image) -> np.ndarray:
    """A PIL mask -> ``(H, W)`` uint8 levels by the module's one rule."""
    from segr1.imaging import mask_levels

    if img.mode in ("I;16", "I;16B", "I;16L", "I"):
        arr = np.asarray(img, dtype=np.int64)
        top = int(arr.max()) if arr.size else 0
        if top > 255:
            arr = arr * 255 // 65535
        return mask_levels(np.clip(arr, 0, 255).astype(np.uint8))
    if img.mode == "F":
        arr = np.nan_to_num(np.asarray(img, dtype=np.float64), nan=0.0)
        if arr.size and arr.min() >= 0.0 and arr.max() <= 1.0:
            arr = arr * 255.0
        return np.clip(np.rint(arr), 0, 255).astype(np.uint8)
    if img.mode in ("LA", "RGBA", "PA"):
        colour = np.asarray(img.convert("RGB"))
        if colour.size and (colour == colour.reshape(-1, 3)[0]).all():
            return mask_levels(np.asarray(img.getchannel("A")))
    return mask_levels(img)


def read_mask(path: str | os.PathLike) -> np.ndarray:
    """``(H, W)`` uint8 levels 0..255 of a mask file (see the module docstring's rule)."""
    return mask_array(_open(path))


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
        os.chmod(tmp, _file_mode())
        os.replace(tmp, p)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return p
