"""to_hf_dataset: columns, sizes, modes, order, and no stale cache after files change."""

import numpy as np
import pytest
from PIL import Image

from segr1.data import load_dataset, to_hf_dataset
from segr1.data.hf import COLUMNS
from segr1.data.synth import generate
from segr1.data.synth_scene import SynthConfig


@pytest.fixture(scope="module")
def small_synth(tmp_path_factory):
    root = tmp_path_factory.mktemp("synth")
    generate(root, 4, 1, seed=5, config=SynthConfig(size=48), progress=False)
    return root


def test_columns_and_resized_sizes(small_synth, tmp_path):
    samples = load_dataset("synth", small_synth, split="train")
    ds = to_hf_dataset(samples, side=32, cache_dir=tmp_path)
    assert len(ds) == 4 and set(ds.column_names) == set(COLUMNS)
    assert ds["id"] == [s.id for s in samples]
    assert ds["query"] == [""] * 4 and ds["task"] == ["foreground"] * 4
    assert ds["is_sentence"] == [False] * 4
    row = ds[0]
    assert row["image"].size == (32, 32) and row["image"].mode == "RGB"
    assert row["mask"].size == (32, 32) and row["mask"].mode == "L"


def test_native_size_keeps_pixels(small_synth, tmp_path):
    samples = load_dataset("synth", small_synth, split="train")[:2]
    ds = to_hf_dataset(samples, cache_dir=tmp_path)
    for s, row in zip(samples, ds, strict=True):
        image, mask = s.load_pair()
        np.testing.assert_array_equal(np.asarray(row["image"]), image)
        np.testing.assert_array_equal(np.asarray(row["mask"]), mask)


def test_changed_files_are_not_served_from_cache(small_synth, tmp_path):
    (s,) = load_dataset("synth", small_synth, split="test")
    first = to_hf_dataset([s], cache_dir=tmp_path)
    assert np.asarray(first[0]["mask"]).min() == 0
    original = s.mask_path.read_bytes()
    try:
        Image.fromarray(np.full((48, 48), 255, np.uint8)).save(s.mask_path)
        second = to_hf_dataset([s], cache_dir=tmp_path)
        assert np.asarray(second[0]["mask"]).min() == 255
    finally:
        s.mask_path.write_bytes(original)


def test_rejects_empty_input():
    with pytest.raises(ValueError, match="no samples"):
        to_hf_dataset([])
