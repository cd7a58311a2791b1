"""Shared pieces of the training tests: a tiny policy that already writes the answer format, toy
data, a box-filling segmenter and a CPU-friendly config. Imported by the ``test_train*`` files.

Why a memorised policy: a randomly initialised policy never writes a parseable answer, so every
reward is 0, every GRPO advantage is 0 and nothing trains. :func:`warm_policy` teaches the tiny
Qwen2.5-VL two complete answers by next-token prediction (a few seconds): a box ``MISS`` (IoU
0.39 with the toy target) and the target box ``HIT``. Sampled at temperature 1 it writes either,
plus some malformed variants, so rewards vary within each GRPO group.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from painter import Painter
from segr1.segment.base import Call, Embedding

SIDE = 64  # the S x S frame of the toy task
HIT = (16, 16, 48, 48)  # the toy target box: the mask of every toy sample
MISS = (8, 8, 40, 40)  # IoU(MISS, HIT) = 576 / 1472 = 0.39
POLICY_IMAGE_SIDE = 56  # the tiny processor's pixel side: 2 x 2 merged patches, 4 image tokens


def answer(box: Sequence[int]) -> str:
    from segr1.protocol import Answer, format_answer

    x1, y1, x2, y2 = box
    center = [(x1 + x2) // 2, (y1 + y2) // 2]
    return format_answer(Answer([list(box)], [center], [1], think="", points_parsed=True))


def toy_images(n: int, seed: int = 0) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """``n`` (id, (S, S, 3) noise image, (S, S) uint8 mask of the HIT box)."""
    rng = np.random.default_rng(seed)
    mask = np.zeros((SIDE, SIDE), np.uint8)
    x1, y1, x2, y2 = HIT
    mask[y1:y2, x1:x2] = 255
    return [
        (f"toy{i:03d}", rng.integers(0, 256, (SIDE, SIDE, 3), dtype=np.uint8), mask)
        for i in range(n)
    ]


def write_toy_cod10k(root: Path, n: int = 6, seed: int = 0) -> Path:
    """The toy samples on disk in the COD10K-v3 training layout (``Train/Image``, ``GT_Object``)."""
    from PIL import Image

    for sample_id, image, mask in toy_images(n, seed):
        for sub, array in (("Image", image), ("GT_Object", mask)):
            (root / "Train" / sub).mkdir(parents=True, exist_ok=True)
            Image.fromarray(array).save(root / "Train" / sub / f"{sample_id}.png")
    return root


def toy_dataset(n: int = 8, seed: int = 0):  # -> datasets.Dataset
    """The columns of ``segr1.data.to_hf_dataset`` plus the training prompt, built in memory."""
    import datasets
    from PIL import Image

    from segr1.data.hf import features
    from segr1.train.data import add_prompts

    rows = toy_images(n, seed)
    ds = datasets.Dataset.from_dict(
        {
            "image": [Image.fromarray(img) for _, img, _ in rows],
            "mask": [Image.fromarray(m) for _, _, m in rows],
            "id": [i for i, _, _ in rows],
            "query": [""] * n,
            "is_sentence": [False] * n,
            "task": ["foreground"] * n,
        },
        features=features(),
    )
    return add_prompts(ds, "foreground", "toy")


def memorize(
    policy_dir: Path,
    out_dir: Path,
    answers: Sequence[str],
    steps: int = 120,
    lr: float = 4e-3,
    batch: int = 8,
    seed: int = 0,
) -> Path:
    """Teach ``policy_dir`` to answer the foreground prompt with one of ``answers`` (uniformly)."""
    import torch
    from PIL import Image

    from segr1.policy import load_policy
    from segr1.policy.warmup import answer_step
    from segr1.protocol.templates import Template

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    model, processor = load_policy(policy_dir, dtype="float32")
    tok = processor.tokenizer
    prompt = processor.apply_chat_template(
        Template("foreground").messages(), add_generation_prompt=True, tokenize=False
    )
    images = [Image.fromarray(img) for _, img, _ in toy_images(4, seed)]
    n_prompt = len(processor(text=[prompt], images=images[:1]).input_ids[0])
    tok.padding_side = "right"  # the prompt comes first in every row
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.0)
    model.train()
    for _ in range(steps):
        pick = rng.integers(len(answers), size=batch)
        texts = [prompt + answers[i] + tok.eos_token for i in pick]
        imgs = [images[i % len(images)] for i in range(batch)]
        answer_step(model, processor, opt, n_prompt, texts, imgs)
    tok.padding_side = "left"
    model.save_pretrained(out_dir)
    processor.save_pretrained(out_dir)
    return out_dir


@functools.cache
def warm_policy(base: Path) -> Path:
    """The memorised tiny Qwen2.5-VL (built once per test session under ``base``)."""
    from segr1.policy import build_tiny_policy

    raw = build_tiny_policy(base / "tiny-raw", image_side=POLICY_IMAGE_SIDE)
    return memorize(raw, base / "tiny-warm", [answer(MISS), answer(HIT)])


@functools.cache
def raw_policy(base: Path, arch: str = "qwen2_5_vl") -> Path:
    from segr1.policy import build_tiny_policy

    return build_tiny_policy(base / f"raw-{arch}", arch=arch)


def tiny_args(output_dir: Path, policy: Path, **overrides: object) -> list[str]:
    """``segr1 train`` arguments for a CPU run of the toy task (few steps, short completions)."""
    args: dict[str, object] = {
        "output_dir": output_dir,
        "policy": policy,
        "image_side": SIDE,
        "num_generations": 4,
        "per_device_train_batch_size": 4,
        "max_completion_length": 40,
        "max_steps": 3,
        "learning_rate": 1e-3,
        "logging_steps": 1,
        "save_strategy": "no",
        "bf16": False,
        "activation_checkpointing": False,
        "report_to": "none",
        "rollout_log_steps": 1,
        "seed": 0,
        "disable_tqdm": True,
        "dataloader_pin_memory": False,
    }
    args.update(overrides)
    out: list[str] = []
    for k, v in args.items():
        out += [f"--{k}", *(map(str, v) if isinstance(v, list | tuple) else [str(v)])]
    return out


def tiny_config(output_dir: Path, policy: Path, **overrides: object):  # -> SegR1Config
    from segr1.train.config import parse_config

    return parse_config(tiny_args(output_dir, policy, **overrides))


@pytest.fixture
def one_thread():
    """One torch thread: on a shared 2-core CPU, two threads per process oversubscribe badly."""
    import torch

    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def finite_logs(history: list[dict], keys: Sequence[str]) -> None:
    """Every training log entry has each of ``keys``, and every value is finite."""
    import math

    steps = [h for h in history if "loss" in h]
    assert steps, "no training step was logged"
    for h in steps:
        for key in keys:
            assert key in h, f"step {h.get('step')}: {key} not logged ({sorted(h)})"
            assert math.isfinite(h[key]), f"step {h.get('step')}: {key} = {h[key]}"


LOGGED = (
    "reward",
    "rewards/format_reward/mean",
    "rewards/segmentation/mean",
    "usable_rate",
    "mean_iou",
    "completions/mean_length",
)


@pytest.fixture(scope="session")
def warm(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return warm_policy(tmp_path_factory.getbasetemp() / "policies")


def test_box_fill_segmenter_fills_boxes() -> None:
    seg = Painter(points=False)
    call = Call(np.array([2, 3, 6, 8], np.float32), np.zeros((0, 2)), np.zeros(0))
    masks = seg.decode(Embedding((10, 10), None), [call])  # (1, 10, 10)
    assert masks.shape == (1, 10, 10)
    assert masks.sum() == 4 * 5 and masks[0, 3:8, 2:6].all()
