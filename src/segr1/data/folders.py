"""Image / mask folder pairs -> foreground :class:`Sample` s, matched by file stem.

:class:`FolderDataset` lists an image folder and a mask folder (image files only, hidden files
ignored, sorted by stem) and pairs them by stem; the sample id is the mask's stem. Problems are
errors that name the files: two files with the same stem in one folder, images without a mask,
masks without an image. ``unpaired="drop"`` keeps only the matched pairs instead (for training
sets with a few unlabelled images) and logs a warning with the count and examples.
``extra_masks_ok`` accepts masks without an image silently: some releases (CAMO) keep the masks
of all splits in one folder. ``keep`` filters file stems before pairing (COD10K's NonCAM).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from segr1.data.io import IMAGE_SUFFIXES
from segr1.data.sample import Sample, Samples

log = logging.getLogger(__name__)

Unpaired = Literal["error", "drop"]


def list_images(folder: Path) -> dict[str, Path]:
    """``stem -> path`` of the image files directly inside ``folder`` (sorted by stem)."""
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder}: not a directory")
    found: dict[str, Path] = {}
    broken: list[str] = []
    with os.scandir(folder) as it:
        for entry in it:
            name = entry.name
            p = Path(entry.path)
            if name.startswith(".") or p.suffix.lower() not in IMAGE_SUFFIXES:
                continue
            if entry.is_symlink() and not p.exists():
                broken.append(name)
                continue
            if not entry.is_file():
                continue
            if p.stem in found:
                raise ValueError(
                    f"{folder}: two files share the stem {p.stem!r} ({found[p.stem].name}, "
                    f"{name}); keep one"
                )
            found[p.stem] = p
    if broken:
        raise FileNotFoundError(
            f"{folder}: {len(broken)} image file(s) are symbolic links to missing files: "
            f"{', '.join(sorted(broken)[:10])}; restore their targets or remove the links"
        )
    return dict(sorted(found.items()))


def has_images(folder: Path) -> bool:
    """Whether ``folder`` directly contains at least one image file (stops at the first)."""
    if not folder.is_dir():
        return False
    with os.scandir(folder) as it:
        for entry in it:
            if (
                not entry.name.startswith(".")
                and Path(entry.name).suffix.lower() in IMAGE_SUFFIXES
                and entry.is_file()
            ):
                return True
    return False


def _examples(files: list[Path], n: int = 10) -> str:
    shown = ", ".join(str(p) for p in files[:n])
    return shown + (f" ... ({len(files)} in all)" if len(files) > n else "")


@dataclass(frozen=True)
class FolderDataset:
    """Pairs ``images/<stem>.*`` with ``masks/<stem>.*``. Iterate it or call :meth:`samples`."""

    images: Path
    masks: Path
    name: str = "folder"
    keep: Callable[[str], bool] | None = None
    unpaired: Unpaired = "error"
    extra_masks_ok: bool = False

    def __post_init__(self) -> None:
        if self.unpaired not in ("error", "drop"):
            raise ValueError(f"unpaired must be 'error' or 'drop', not {self.unpaired!r}")
        object.__setattr__(self, "images", Path(self.images))
        object.__setattr__(self, "masks", Path(self.masks))

    def __iter__(self) -> Iterator[Sample]:
        return iter(self.samples())

    def samples(self) -> Samples:
        """Matched pairs, sorted by stem. Raises on unpaired files unless told otherwise; with
        ``unpaired="drop"`` the left-out files are named in the result's ``dropped``."""
        images, masks = self._listed(self.images), self._listed(self.masks)
        if not images:
            raise ValueError(f"{self.images}: no image files ({', '.join(IMAGE_SUFFIXES)})")
        self._check_unpaired(images, masks)
        dropped = [f"{images[s]}: no mask in {self.masks}" for s in images if s not in masks]
        if not self.extra_masks_ok:
            dropped += [f"{masks[s]}: no image in {self.images}" for s in masks if s not in images]
        pairs = [
            Sample(id=stem, image_path=images[stem], mask_path=masks[stem], dataset=self.name)
            for stem in images
            if stem in masks
        ]
        return Samples(pairs, dropped)

    def _listed(self, folder: Path) -> dict[str, Path]:
        files = list_images(folder)
        if self.keep is None:
            return files
        return {k: v for k, v in files.items() if self.keep(k)}

    def _check_unpaired(self, images: dict[str, Path], masks: dict[str, Path]) -> None:
        no_mask = [s for s in images if s not in masks]
        no_image = [s for s in masks if s not in images]
        if self.extra_masks_ok:
            no_image = []
        problems = []
        if no_mask:
            files = [images[s] for s in no_mask]
            problems.append(
                f"{len(no_mask)} images have no mask in {self.masks}: {_examples(files)}"
            )
        if no_image:
            files = [masks[s] for s in no_image]
            problems.append(
                f"{len(no_image)} masks have no image in {self.images}: {_examples(files)}"
            )
        if not problems:
            return
        if self.unpaired == "error":
            raise ValueError(
                f"{self.name}: images in {self.images} and masks in {self.masks} do not pair up "
                f"by file stem; " + "; ".join(problems) + ". Fix the folders, or pass "
                "unpaired='drop' (--unpaired drop) to use only the matched pairs."
            )
        log.warning("%s: dropping unpaired files: %s", self.name, "; ".join(problems))
