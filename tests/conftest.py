"""Shared, session-scoped fixtures: built once per test run, read-only for tests."""

from __future__ import annotations

import pytest
import torch

# Tiny models gain nothing from intra-op threads, and on a small shared machine the thread
# hand-offs cost more than the maths: one thread makes tiny-model tests several times faster.
torch.set_num_threads(1)


@pytest.fixture(scope="session")
def tiny_policy_dir(tmp_path_factory):
    """The tiny random Qwen2.5-VL policy saved as a Hugging Face directory (do not modify)."""
    from segr1.policy import build_tiny_policy

    return build_tiny_policy(tmp_path_factory.mktemp("tiny_policy"), arch="qwen2_5_vl", seed=0)


@pytest.fixture(scope="session")
def synth_root(tmp_path_factory):
    """A small synthetic COD-style dataset: 12 train + 10 test scenes at 96 px (do not modify)."""
    from segr1.data.synth import generate
    from segr1.data.synth_scene import SynthConfig

    root = tmp_path_factory.mktemp("synth")
    generate(root, n_train=12, n_test=10, seed=0, config=SynthConfig(size=96), progress=False)
    return root


@pytest.fixture(scope="session")
def wide_root(tmp_path_factory, synth_root):
    """10 of ``synth_root``'s training scenes resized to 120 x 80 (width x height), as a plain
    folder dataset (``images/``, ``masks/``): the policy's S x S frame differs from the image's.
    (Other scenes than the test split's, so no image looks like another with another answer.)"""
    import numpy as np
    from PIL import Image

    from segr1.data.registry import load_dataset

    root = tmp_path_factory.mktemp("wide")
    for sub in ("images", "masks"):
        (root / sub).mkdir()
    for s in load_dataset("synth", synth_root, split="train")[:10]:
        image, mask = s.load_pair()
        Image.fromarray(image).resize((120, 80), Image.Resampling.BILINEAR).save(
            root / "images" / f"{s.id}.png"
        )
        wide = np.asarray(Image.fromarray(mask).resize((120, 80), Image.Resampling.BILINEAR))
        Image.fromarray(((wide > 128) * 255).astype(np.uint8)).save(root / "masks" / f"{s.id}.png")
    return root


def wide_samples(wide_root):
    from segr1.data.registry import load_dataset

    return load_dataset("folder", wide_root, images="images", masks="masks")


@pytest.fixture(scope="session")
def answering_policy_dir(tmp_path_factory, synth_root, wide_root):
    """A tiny policy that answers each test image of ``synth_root`` (96 x 96) and of
    ``wide_root`` (120 x 80), both seen at S = 96, with a usable answer of its own: a box around
    its object and one object point."""
    from answering import answering_policy, sample_answers
    from segr1.data.registry import load_dataset

    samples = load_dataset("synth", synth_root, split="test") + wide_samples(wide_root)
    pairs = sample_answers(samples, side=96)
    return answering_policy(tmp_path_factory.mktemp("answering"), pairs)
