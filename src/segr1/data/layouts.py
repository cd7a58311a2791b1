"""Where the image and mask folders of each foreground benchmark live on disk.

A :class:`LayoutSpec` names, for one dataset, the directory names it is stored under
(``aliases``), the split subfolders, and candidate ``(images, masks)`` subfolder pairs.
:func:`resolve_layout` tries, in a fixed order, every combination of

* base: ``root``, ``root/<alias>``, ``root/<container>/<alias>`` (containers such as
  ``TestDataset`` / ``TrainDataset`` of the common re-packaged releases), and a base's only
  subfolder when it holds nothing else (zip files often unpack to ``X/X``);
* split subfolder (``Test``, ``Train``, ``DIS-VD``, ... or none);
* pair: the dataset's own release layout first, then the common re-packagings
  (``Imgs``+``GT``, ``Image``+``GT_Object``, ``images``+``masks``, ...);

and takes the first whose image folder holds image files and whose mask folder exists. When
nothing matches, the error lists what was looked for and suggests ``--images/--masks``.

Release layouts (verified from public code that reads them): COD10K-v3
``Train|Test/Image`` + ``GT_Object``; CAMO-V.1.0-CVIU2019 ``Images/Train|Test`` + ``GT``
(one mask folder for both splits); DUTS ``DUTS-TR/DUTS-TR-Image`` + ``DUTS-TR-Mask``
(``DUTS-TE`` likewise); DUT-OMRON ``DUT-OMRON-image`` + ``pixelwiseGT-new-PNG``; ECSSD
``images`` + ``ground_truth_mask``; DIS5K ``DIS-TR|DIS-VD|DIS-TE1..4/im`` + ``gt``; the SINet
re-packaging ``TestDataset/<Name>/Imgs`` + ``GT``. Not verified, supported as plausible
candidates: CHAMELEON ``Image`` + ``GT``, NC4K ``Imgs`` + ``GT``, HKU-IS ``imgs`` + ``gt``,
PASCAL-S ``Imgs`` + ``masks`` and the original ``datasets/imgs/pascal`` +
``datasets/masks/pascal``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from segr1.data.folders import has_images

#: Re-packaged layouts shared by many releases, tried after a dataset's own pairs.
COMMON_PAIRS: tuple[tuple[str, str], ...] = (
    ("Imgs", "GT"),
    ("Image", "GT_Object"),
    ("Image", "GT"),
    ("Images", "GT"),
    ("images", "masks"),
    ("images", "gts"),
    ("imgs", "gt"),
    ("im", "gt"),
    ("image", "mask"),
)
_TEST_CONTAINERS = ("TestDataset", "test", "Test")
_TRAIN_CONTAINERS = ("TrainDataset", "train", "Train")


@dataclass(frozen=True)
class LayoutSpec:
    """How one dataset may be laid out. A pair that uses ``{S}`` places the split subfolder
    itself (CAMO: ``Images/{S}`` + ``GT``); a pair without it lives under the split subfolder."""

    name: str
    aliases: tuple[str, ...]
    splits: dict[str, tuple[str, ...]]
    default_split: str | None
    pairs: tuple[tuple[str, str], ...] = ()
    common: bool = True
    extra_masks_ok: bool = False
    containers: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def pair_candidates(self, split_dir: str) -> list[tuple[str, str]]:
        out: list[tuple[str, str]] = []
        for images, masks in self.pairs + (COMMON_PAIRS if self.common else ()):
            if "{S}" not in images + masks:  # plain pair: both under the split folder
                images, masks = f"{{S}}/{images}", f"{{S}}/{masks}"
            pair = (_norm(images.replace("{S}", split_dir)), _norm(masks.replace("{S}", split_dir)))
            if pair not in out:
                out.append(pair)
        return out


def _norm(rel: str) -> str:
    return "/".join(p for p in rel.split("/") if p)


def _tt(test: tuple[str, ...], train: tuple[str, ...]) -> dict[str, tuple[str, ...]]:
    return {"test": test, "train": train}


_CONTAINERS = _tt(_TEST_CONTAINERS, _TRAIN_CONTAINERS)
_TEST_ONLY = {"test": ("",)}

SPECS: dict[str, LayoutSpec] = {
    s.name: s
    for s in (
        LayoutSpec(
            "cod10k",
            ("COD10K-v3", "COD10K-v2", "COD10K", "COD10K-v3/COD10K-v3"),
            _tt(("Test", "test", ""), ("Train", "train")),
            "test",
            pairs=(("Image", "GT_Object"),),
            containers=_CONTAINERS,
        ),
        LayoutSpec(
            "camo",
            ("CAMO-V.1.0-CVIU2019", "CAMO", "CAMO-V.1.0/CAMO-V.1.0-CVIU2019"),
            _tt(("Test", "test", ""), ("Train", "train")),
            "test",
            pairs=(("Images/{S}", "GT"),),
            extra_masks_ok=True,
            containers=_CONTAINERS,
        ),
        LayoutSpec(
            "chameleon",
            ("CHAMELEON", "Chameleon", "chameleon"),
            _TEST_ONLY,
            "test",
            pairs=(("Image", "GT"),),
            containers={"test": _TEST_CONTAINERS},
        ),
        LayoutSpec(
            "nc4k",
            ("NC4K", "nc4k"),
            _TEST_ONLY,
            "test",
            pairs=(("Imgs", "GT"),),
            containers={"test": _TEST_CONTAINERS},
        ),
        LayoutSpec(
            "duts-tr",
            ("DUTS-TR", "DUTS/DUTS-TR"),
            {"train": ("",)},
            "train",
            pairs=(("DUTS-TR-Image", "DUTS-TR-Mask"),),
        ),
        LayoutSpec(
            "duts-te",
            ("DUTS-TE", "DUTS/DUTS-TE"),
            _TEST_ONLY,
            "test",
            pairs=(("DUTS-TE-Image", "DUTS-TE-Mask"),),
            containers={"test": _TEST_CONTAINERS},
        ),
        LayoutSpec(
            "dut-omron",
            ("DUT-OMRON", "DUT_OMRON", "DUTS-OMRON", "DUT-O"),
            _TEST_ONLY,
            "test",
            pairs=(
                ("DUT-OMRON-image", "pixelwiseGT-new-PNG"),
                ("DUT-OMRON-image", "DUT-OMRON-gt-pixelwise.zip/pixelwiseGT-new-PNG"),
                ("DUT-OMRON-image", "DUT-OMRON-gt-pixelwise/pixelwiseGT-new-PNG"),
            ),
            containers={"test": _TEST_CONTAINERS},
        ),
        LayoutSpec(
            "ecssd",
            ("ECSSD", "ecssd"),
            _TEST_ONLY,
            "test",
            pairs=(("images", "ground_truth_mask"),),
            containers={"test": _TEST_CONTAINERS},
        ),
        LayoutSpec(
            "hku-is",
            ("HKU-IS", "HKU_IS", "HKUIS", "hku-is"),
            _TEST_ONLY,
            "test",
            pairs=(("imgs", "gt"),),
            containers={"test": _TEST_CONTAINERS},
        ),
        LayoutSpec(
            "pascal-s",
            ("PASCAL-S", "PASCAL_S", "PASCALS", "pascal-s"),
            _TEST_ONLY,
            "test",
            pairs=(
                ("Imgs", "masks"),
                ("datasets/imgs/pascal", "datasets/masks/pascal"),
                ("imgs/pascal", "masks/pascal"),
            ),
            containers={"test": _TEST_CONTAINERS},
        ),
        LayoutSpec(
            "dis5k",
            ("DIS5K", "DIS5K/DIS5K"),
            {
                "dis-tr": ("DIS-TR", "DIS5K-TR"),
                "dis-vd": ("DIS-VD", "DIS5K-VD"),
                **{f"dis-te{i}": (f"DIS-TE{i}", f"DIS5K-TE{i}") for i in range(1, 5)},
            },
            None,
            pairs=(("{S}/im", "{S}/gt"),),
        ),
        LayoutSpec(
            "synth",
            (),
            _tt(("Test",), ("Train",)),
            "test",
            pairs=(("{S}/Image", "{S}/GT_Object"),),
            common=False,
        ),
    )
}


def split_of(spec: LayoutSpec, split: str | None) -> str:
    """The split to read: ``split`` (case-insensitive) or the dataset's default."""
    if split is None:
        if spec.default_split is None:
            raise ValueError(f"{spec.name} needs a split: one of {', '.join(spec.splits)}")
        return spec.default_split
    key = split.lower()
    if key not in spec.splits:
        raise ValueError(
            f"{spec.name} has no split {split!r}; choose one of {', '.join(spec.splits)}"
        )
    return key


def _bases(spec: LayoutSpec, root: Path, split: str) -> list[Path]:
    bases = [root] + [root / a for a in spec.aliases]
    for c in spec.containers.get(split, ()):
        bases += [root / c / a for a in spec.aliases]
    out: list[Path] = []
    for b in bases:
        if b.is_dir() and b not in out:
            out.append(b)
            only = _only_subdir(b)
            if only is not None and only not in out:
                out.append(only)
    return out


def _only_subdir(folder: Path) -> Path | None:
    entries = [p for p in folder.iterdir() if not p.name.startswith((".", "__MACOSX"))]
    if len(entries) == 1 and entries[0].is_dir():
        return entries[0]
    return None


def _image_dir(path: Path) -> Path | None:
    """``path`` if it holds images, else its only subfolder if that does (``X/X`` zips)."""
    if has_images(path):
        return path
    if path.is_dir():
        only = _only_subdir(path)
        if only is not None and has_images(only):
            return only
    return None


def _mask_dir(path: Path) -> Path | None:
    return _image_dir(path) or (path if path.is_dir() else None)


def resolve_layout(name: str, root: str | Path, split: str | None = None) -> tuple[Path, Path]:
    """``(images_dir, masks_dir)`` of dataset ``name`` under ``root``; raises listing tries."""
    spec = SPECS[name]
    key = split_of(spec, split)
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"{name}: dataset root {root} is not a directory")
    bases = _bases(spec, root, key)
    for base in bases:
        for split_dir in spec.splits[key]:
            for images, masks in spec.pair_candidates(split_dir):
                img_dir = _image_dir(base / images)
                mask_dir = _mask_dir(base / masks) if img_dir is not None else None
                if img_dir is not None and mask_dir is not None:
                    return img_dir, mask_dir
    pairs = [f"{i} + {m}" for d in spec.splits[key] for i, m in spec.pair_candidates(d)]
    aliases = f" and its subfolders {', '.join(spec.aliases)}" if spec.aliases else ""
    raise FileNotFoundError(
        f"{name} ({key}): no image/mask folders found under {root}{aliases}. Looked in "
        f"{', '.join(str(b) for b in bases)} for (images + masks): {'; '.join(pairs)}. "
        "Point at the folders directly with --images DIR --masks DIR "
        "(load_dataset(..., images=DIR, masks=DIR))."
    )
