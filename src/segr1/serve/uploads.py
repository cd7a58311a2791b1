"""What the web app accepts as an image, with a clear message for everything else.

:func:`load_upload` opens a user's file and returns ``(H, W, 3)`` uint8 RGB, or raises
:class:`UploadError` whose message is shown in the page as it is (no traceback):

* not an image (PIL cannot identify it), or a truncated / corrupt one;
* too big: more than :data:`MAX_BYTES` on disk or :data:`MAX_PIXELS` pixels (checked from the
  header, before decoding: a decompression bomb is refused unread);
* CMYK (print colour): converting it without the file's colour profile would change its colours,
  so the user is asked for an RGB export;
* animated (more than one frame: GIF, APNG, WebP, multi-page TIFF): the policy sees one image.

Grey, palette and alpha images are converted to RGB (PIL ``convert("RGB")``, alpha dropped),
as :func:`segr1.data.io.read_image` reads datasets. EXIF orientation is not applied, as there.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

MAX_BYTES = 25 * 2**20  # 25 MiB
MAX_PIXELS = 40_000_000  # e.g. 8000 x 5000


class UploadError(ValueError):
    """The upload cannot be used; the message says why and what to do, for the page."""


def load_upload(
    path: str | os.PathLike, max_bytes: int = MAX_BYTES, max_pixels: int = MAX_PIXELS
) -> np.ndarray:
    """The uploaded file as ``(H, W, 3)`` uint8 RGB (see the module docstring)."""
    p = Path(path)
    name = p.name
    try:
        size = p.stat().st_size
    except OSError:
        raise UploadError(f"{name}: the upload did not arrive; please upload it again") from None
    if size > max_bytes:
        raise UploadError(
            f"{name} is {size / 2**20:.1f} MiB; the limit is {max_bytes / 2**20:.0f} MiB. "
            "Please upload a smaller image (the policy sees it at S x S pixels anyway)."
        )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(p)
            return _checked_rgb(img, name, max_pixels)
    except UploadError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise UploadError(
            f"{name} declares too many pixels to decode safely; please upload a smaller image"
        ) from None
    except UnidentifiedImageError:
        raise UploadError(
            f"{name} is not an image this app can read; please upload a PNG, JPEG, BMP, TIFF "
            "or WebP file"
        ) from None
    except (OSError, SyntaxError, ValueError) as e:
        raise UploadError(
            f"{name} could not be decoded ({e}); the file may be truncated or corrupt"
        ) from None


def _checked_rgb(img: Image.Image, name: str, max_pixels: int) -> np.ndarray:
    w, h = img.size
    if w * h > max_pixels:
        raise UploadError(
            f"{name} is {w} x {h} pixels ({w * h / 1e6:.0f} MP); the limit is "
            f"{max_pixels / 1e6:.0f} MP. Please upload a smaller image."
        )
    if w < 1 or h < 1:
        raise UploadError(f"{name} has no pixels ({w} x {h})")
    frames = int(getattr(img, "n_frames", 1) or 1)
    if frames > 1:
        raise UploadError(
            f"{name} is animated or has several pages ({frames} frames); please upload a single "
            "still image (for example one frame saved as PNG)"
        )
    if img.mode == "CMYK":
        raise UploadError(
            f"{name} is a CMYK (print colour) image; converting it without its colour profile "
            "would change its colours. Please export it as RGB (PNG or JPEG) and upload that."
        )
    return np.asarray(img.convert("RGB"), dtype=np.uint8)
