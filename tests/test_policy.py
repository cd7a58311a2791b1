"""The tiny offline policy: a normal Hugging Face directory that loads with plain transformers
Auto classes and with ``load_policy``, and generates deterministically from an image."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from segr1.policy import build_tiny_policy, load_policy
from segr1.protocol.templates import Template


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory):
    return build_tiny_policy(tmp_path_factory.mktemp("tiny") / "qwen2_5_vl", seed=0)


def _image(seed: int = 0, side: int = 96) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (side, side, 3), dtype=np.uint8))


def _generate(model, processor, images, max_new_tokens=6):
    text = processor.apply_chat_template(
        Template("foreground", "eval").messages(), tokenize=False, add_generation_prompt=True
    )
    inputs = processor(text=[text] * len(images), images=images, padding=True, return_tensors="pt")
    with torch.inference_mode():
        out = model.generate(**inputs, max_new_tokens=max_new_tokens, do_sample=False)
    return inputs, out[:, inputs["input_ids"].shape[1] :]


def test_directory_is_a_normal_hf_checkpoint(tiny_dir):
    from transformers import AutoModelForImageTextToText, AutoProcessor

    names = {p.name for p in tiny_dir.iterdir()}
    assert {"config.json", "model.safetensors", "tokenizer.json", "generation_config.json"} <= names
    model = AutoModelForImageTextToText.from_pretrained(tiny_dir)
    processor = AutoProcessor.from_pretrained(tiny_dir)
    assert type(model).__name__ == "Qwen2_5_VLForConditionalGeneration"
    assert type(processor).__name__ == "Qwen2_5_VLProcessor"
    tok, cfg = processor.tokenizer, model.config
    assert cfg.image_token_id == tok.convert_tokens_to_ids("<|image_pad|>")
    assert cfg.video_token_id == tok.convert_tokens_to_ids("<|video_pad|>")
    assert cfg.vision_start_token_id == tok.convert_tokens_to_ids("<|vision_start|>")
    assert cfg.text_config.vocab_size >= len(tok)
    eos = tok.convert_tokens_to_ids("<|im_end|>")
    assert eos in model.generation_config.eos_token_id
    assert model.generation_config.pad_token_id == tok.pad_token_id
    assert sum(p.numel() for p in model.parameters()) < 2_000_000


def test_load_policy_generates_deterministically(tiny_dir):
    model, processor = load_policy(tiny_dir)
    assert processor.tokenizer.padding_side == "left"
    assert not model.training and model.dtype == torch.float32
    images = [_image(0), _image(1, side=200)]
    inputs, first = _generate(model, processor, images)
    _, second = _generate(model, processor, images)
    assert first.shape == (2, 6)
    assert torch.equal(first, second)
    # 64 vision tokens per image whatever its size; the whole prompt stays short
    n_image = (inputs["input_ids"] == model.config.image_token_id).sum(1)
    assert n_image.tolist() == [64, 64]
    assert inputs["input_ids"].shape[1] < 260


def test_same_seed_same_weights(tiny_dir, tmp_path):
    again = build_tiny_policy(tmp_path / "again", seed=0)
    other = build_tiny_policy(tmp_path / "other", seed=1)
    first = (tiny_dir / "model.safetensors").read_bytes()
    assert (again / "model.safetensors").read_bytes() == first
    assert (other / "model.safetensors").read_bytes() != first


def test_qwen3_vl_builds_and_generates(tmp_path):
    path = build_tiny_policy(tmp_path / "q3", arch="qwen3_vl", seed=0)
    model, processor = load_policy(path)
    assert type(model).__name__ == "Qwen3VLForConditionalGeneration"
    inputs, new = _generate(model, processor, [_image(2, side=128)], max_new_tokens=4)
    assert new.shape == (1, 4)
    assert (inputs["input_ids"] == model.config.image_token_id).sum().item() == 64


def test_bad_arguments_are_named(tmp_path):
    with pytest.raises(TypeError, match="hiden_size"):
        build_tiny_policy(tmp_path / "x", hiden_size=64)
    with pytest.raises(ValueError, match="llava"):
        build_tiny_policy(tmp_path / "x", arch="llava")
    with pytest.raises(ValueError, match="multiple of 28"):
        build_tiny_policy(tmp_path / "x", image_side=100)
    with pytest.raises(ValueError, match="dtype"):
        load_policy(tmp_path / "x", dtype="float8")
