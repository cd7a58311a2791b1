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
def answering_policy_dir(tmp_path_factory, synth_root):
    """A tiny policy that answers each ``synth_root`` test image (at S = 96, the images' own
    size) with a usable answer of its own: a box around its object and one object point."""
    from answering import answering_policy, sample_answers
    from segr1.data.registry import load_dataset

    samples = load_dataset("synth", synth_root, split="test")
    pairs = sample_answers(samples, side=96)
    return answering_policy(tmp_path_factory.mktemp("answering"), pairs)
