"""Folder datasets: layout auto-detection on real on-disk layouts, stem pairing, clear errors."""

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from segr1.data import FolderDataset, load_dataset
from segr1.data.registry import describe

RNG = np.random.default_rng(0)


def _write(path: Path, h: int, w: int, mask: bool = False) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if mask:
        arr = np.zeros((h, w), np.uint8)
        arr[h // 4 : h // 2, w // 4 : w // 2] = 255
    else:
        arr = RNG.integers(0, 256, (h, w, 3), dtype=np.uint8)
    Image.fromarray(arr).save(path)


def _pairs(images: Path, masks: Path, stems: list[str], img_ext: str = ".jpg") -> None:
    for i, stem in enumerate(stems):
        h, w = 20 + i, 30 + 2 * i  # different sizes per pair
        _write(images / f"{stem}{img_ext}", h, w)
        _write(masks / f"{stem}.png", h, w, mask=True)


def _check(samples, n: int) -> None:
    assert len(samples) == n
    assert len({s.id for s in samples}) == n
    assert [s.id for s in samples] == sorted(s.id for s in samples)
    for s in samples:
        image, mask = s.load_pair()
        assert image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3
        assert mask.shape == image.shape[:2] and mask.dtype == np.uint8
        assert s.id == s.mask_path.stem and s.task == "foreground"


COD = ["COD10K-CAM-1-Aquatic-1-BatFish-1", "COD10K-CAM-2-Terrestrial-23-Cat-1367"]
NONCAM = "COD10K-NonCAM-1-Aquatic-1000"


def test_cod10k_v3_release_layout_excludes_noncam(tmp_path):
    base = tmp_path / "COD10K-v3"
    _pairs(base / "Test" / "Image", base / "Test" / "GT_Object", [*COD, NONCAM])
    _pairs(base / "Train" / "Image", base / "Train" / "GT_Object", [COD[0]])
    test = load_dataset("cod10k", tmp_path)  # root = parent of COD10K-v3, default split test
    _check(test, 2)
    assert all("NonCAM" not in s.id for s in test)
    assert test[0].image_path.parent == base / "Test" / "Image"
    with_noncam = load_dataset("cod10k", base, split="test", include_noncam=True)
    assert NONCAM in {s.id for s in with_noncam}
    _check(load_dataset("cod10k", base, split="Train"), 1)


def test_sinet_repackaged_layout(tmp_path):
    _pairs(
        tmp_path / "TestDataset" / "COD10K" / "Imgs",
        tmp_path / "TestDataset" / "COD10K" / "GT",
        COD,
    )
    _pairs(
        tmp_path / "TestDataset" / "NC4K" / "Imgs",
        tmp_path / "TestDataset" / "NC4K" / "GT",
        ["1", "2", "3"],
    )
    _check(load_dataset("cod10k", tmp_path), 2)
    _check(load_dataset("nc4k", tmp_path / "TestDataset"), 3)


def test_duts_both_splits(tmp_path):
    duts = tmp_path / "DUTS"
    _pairs(duts / "DUTS-TR" / "DUTS-TR-Image", duts / "DUTS-TR" / "DUTS-TR-Mask", ["a", "b", "c"])
    _pairs(duts / "DUTS-TE" / "DUTS-TE-Image", duts / "DUTS-TE" / "DUTS-TE-Mask", ["x", "y"])
    _check(load_dataset("duts-tr", tmp_path), 3)
    _check(load_dataset("duts-te", duts), 2)
    _check(load_dataset("duts-te", duts / "DUTS-TE"), 2)


def test_dis5k_splits(tmp_path):
    root = tmp_path / "DIS5K"
    for split, stems in (("DIS-TR", ["1#a#b", "2#c#d"]), ("DIS-VD", ["v1"]), ("DIS-TE3", ["t"])):
        _pairs(root / split / "im", root / split / "gt", stems)
    _check(load_dataset("dis5k", tmp_path, split="dis-tr"), 2)
    _check(load_dataset("dis5k", root, split="dis-vd"), 1)
    _check(load_dataset("dis5k", root, split="dis-te3"), 1)
    with pytest.raises(ValueError, match="needs a split"):
        load_dataset("dis5k", root)
    with pytest.raises(ValueError, match="dis-te1"):
        load_dataset("dis5k", root, split="dis-te9")


def test_camo_shared_gt_folder_and_nested_zip(tmp_path):
    base = tmp_path / "CAMO-V.1.0-CVIU2019"
    _pairs(base / "Images" / "Train", base / "GT", ["camourflage_00001", "camourflage_00002"])
    _pairs(base / "Images" / "Test", base / "GT", ["camourflage_00003"])
    _check(load_dataset("camo", tmp_path, split="train"), 2)  # extra test masks are fine
    _check(load_dataset("camo", base), 1)
    omron = tmp_path / "DUT-OMRON"
    _pairs(omron / "DUT-OMRON-image" / "DUT-OMRON-image", omron / "pixelwiseGT-new-PNG", ["im1"])
    _check(load_dataset("dut-omron", tmp_path), 1)


def test_generic_folder_and_override(tmp_path):
    _pairs(tmp_path / "photos", tmp_path / "labels", ["b", "a"], img_ext=".png")
    samples = load_dataset("folder", tmp_path, images="photos", masks="labels")
    _check(samples, 2)
    assert [s.id for s in samples] == ["a", "b"]
    fd = FolderDataset(tmp_path / "photos", tmp_path / "labels")
    assert [s.id for s in fd] == ["a", "b"]
    _check(load_dataset("ecssd", None, images=tmp_path / "photos", masks=tmp_path / "labels"), 2)


def test_missing_mask_names_the_file_and_drop_option(tmp_path):
    _pairs(tmp_path / "Imgs", tmp_path / "GT", ["a", "b"])
    _write(tmp_path / "Imgs" / "lonely.jpg", 10, 10)
    with pytest.raises(ValueError, match=r"lonely\.jpg") as e:
        load_dataset("chameleon", tmp_path)
    assert "unpaired" in str(e.value)
    _check(load_dataset("chameleon", tmp_path, unpaired="drop"), 2)
    _write(tmp_path / "GT" / "ghost.png", 10, 10, mask=True)
    with pytest.raises(ValueError, match=r"ghost\.png"):
        FolderDataset(tmp_path / "Imgs", tmp_path / "GT").samples()


def test_duplicate_stems_and_size_mismatch(tmp_path):
    _pairs(tmp_path / "im", tmp_path / "gt", ["a"])
    _write(tmp_path / "im" / "a.png", 5, 5)
    with pytest.raises(ValueError, match="share the stem"):
        load_dataset("folder", images=tmp_path / "im", masks=tmp_path / "gt")
    (tmp_path / "im" / "a.png").unlink()
    _write(tmp_path / "gt" / "a.png", 7, 7, mask=True)
    (s,) = load_dataset("folder", images=tmp_path / "im", masks=tmp_path / "gt")
    with pytest.raises(ValueError, match=r"a\.png"):
        s.load_pair()


def test_undetected_layout_lists_what_was_tried(tmp_path):
    (tmp_path / "HKU-IS" / "pictures").mkdir(parents=True)
    with pytest.raises(FileNotFoundError) as e:
        load_dataset("hku-is", tmp_path)
    msg = str(e.value)
    assert "imgs + gt" in msg and "--images" in msg and "HKU-IS" in msg


def test_unknown_name_and_option(tmp_path):
    with pytest.raises(ValueError, match="refcocog"):
        load_dataset("cod-10k", tmp_path)
    with pytest.raises(TypeError, match="include_noncam"):
        load_dataset("camo", tmp_path, include_noncam=True)


def test_describe_reports_layout(tmp_path):
    _pairs(tmp_path / "PASCAL-S" / "Imgs", tmp_path / "PASCAL-S" / "masks", ["p1", "p2"])
    text = describe("pascal-s", tmp_path)
    assert "samples: 2" in text and str(tmp_path / "PASCAL-S" / "masks") in text
