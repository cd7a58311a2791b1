"""Dense vision-tower pretraining (the stand-in for a pretrained vision encoder): it learns
objectness and token position, touches the vision tower only, and is deterministic."""

import numpy as np
import pytest
import torch
from PIL import Image

from segr1.data.synth_scene import SynthConfig, render_scene
from segr1.policy import build_tiny_policy, load_policy
from segr1.policy.vision_pretrain import (
    VisionPretrainConfig,
    cell_shares,
    pretrain_vision,
    token_grid,
)


@pytest.fixture(scope="module")
def qwen3_dir(tmp_path_factory):
    return build_tiny_policy(tmp_path_factory.mktemp("q3"), arch="qwen3_vl", seed=0)


@pytest.fixture(scope="module")
def scenes():
    rng = np.random.default_rng(0)
    out = [render_scene(rng, "salient", SynthConfig(size=64))
           for _ in range(16)]  # fmt: skip
    return [Image.fromarray(s.image) for s in out], [s.mask > 127 for s in out]


def test_cell_shares_follow_the_mask():
    mask = np.zeros((80, 80), bool)
    mask[:40, :20] = True  # the top-left quarter of the top-left quadrant's columns
    shares = cell_shares(mask, (2, 2)).reshape(2, 2)
    assert shares[0, 0] == pytest.approx(0.5) and shares[1].sum() == 0 and shares[0, 1] == 0


def test_pretraining_learns_and_touches_only_the_vision_tower(qwen3_dir, scenes):
    images, masks = scenes
    model, processor = load_policy(str(qwen3_dir))
    assert token_grid(processor, images[0]) == (8, 8)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    cfg = VisionPretrainConfig(steps=40, batch_size=8, learning_rate=3e-3)
    losses = pretrain_vision(model, processor, images, masks, cfg, progress=False)
    assert len(losses) == 40 and np.mean(losses[-5:]) < 0.6 * np.mean(losses[:5])
    changed = {k for k, v in model.state_dict().items() if not torch.equal(v, before[k])}
    assert changed and all(".visual." in k or k.startswith("visual.") for k in changed), changed
    again, processor = load_policy(str(qwen3_dir))
    assert pretrain_vision(again, processor, images, masks, cfg, progress=False) == losses
    with pytest.raises(ValueError, match="matching images and masks"):
        pretrain_vision(again, processor, images, masks[:3], cfg, progress=False)


def test_warmup_with_dense_objectives_saves_a_plain_checkpoint(qwen3_dir, synth_root, tmp_path):
    """The grounding warm-up (vision pretraining + box / objectness objectives) trains, and its
    temporary heads never reach the saved policy: same keys as the base, loads as its class."""
    from safetensors.torch import load_file

    from segr1.data.registry import load_dataset
    from segr1.policy.warmup import WarmupConfig, warmup

    samples = load_dataset("synth", synth_root, split="train")
    cfg = WarmupConfig(steps=3, batch_size=4, side=64, vision_steps=2, vision_batch_size=4,
                       box_weight=2.0, objectness_weight=0.5)  # fmt: skip
    out = warmup(qwen3_dir, samples, tmp_path / "warm", cfg, progress=False)
    base, warm = load_file(qwen3_dir / "model.safetensors"), load_file(out / "model.safetensors")
    assert set(base) == set(warm)
    assert any(not torch.equal(base[k], warm[k]) for k in base if "visual" in k)
    load_policy(str(out))
    with pytest.raises(ValueError, match="answer_format seg-r1"):
        warmup(qwen3_dir, samples, tmp_path / "x", replace_format(cfg), progress=False)


def replace_format(cfg):
    from dataclasses import replace

    return replace(cfg, answer_format="seg-zero")


@pytest.mark.parametrize(("per_object", "reads"), [(False, "answer"), (True, "answer"),
                                                   (False, "first")])  # fmt: skip
def test_box_objective_reads_the_answer_not_the_prompt(qwen3_dir, per_object, reads):
    """The prompt's own format instruction holds ``<bbox>`` before the image: a box objective
    reading it cannot see the image (a causal model) and learns one mean box. Read from the
    answer, its gradient reaches the vision tower and one state per target box is regressed;
    the legacy ``box_reads="first"`` (the shipped demo policy's) is the image-blind one."""
    from PIL import Image

    from segr1.policy.warmup import WarmupConfig, dense_objectives, noisy_answer
    from segr1.protocol.formats import template_for

    model, processor = load_policy(str(qwen3_dir))
    mask = np.zeros((64, 64), bool)
    mask[5:20, 35:55] = mask[30:50, 5:20] = True
    cfg = WarmupConfig(side=64, box_weight=1.0, per_object=per_object, box_reads=reads)
    heads, loss = dense_objectives(model, processor, cfg)
    prompt = processor.apply_chat_template(
        template_for("seg-r1", "foreground", "train").messages(None, False),
        add_generation_prompt=True, tokenize=False,
    )  # fmt: skip
    image = Image.fromarray(np.uint8(mask[..., None].repeat(3, -1)) * 200)
    n_prompt = len(processor(text=[prompt], images=[image]).input_ids[0])
    text = prompt + noisy_answer(mask, np.random.default_rng(0), cfg)
    enc = processor(text=[text], images=[image], return_tensors="pt")
    assert int((enc["input_ids"][0, :n_prompt] == processor.tokenizer.convert_tokens_to_ids(
        "<bbox>")).sum()) > 0  # fmt: skip
    seen = []
    heads["box"].register_forward_hook(lambda m, i, o: seen.append(o.shape[0]))
    out = model(**enc, output_hidden_states=True)
    total = loss(enc, out, [mask], [n_prompt])
    if reads == "first":  # the computation the shipped policy was trained with, verbatim
        from segr1.metrics.grounding import mask_box

        bbox_id = processor.tokenizer.convert_tokens_to_ids("<bbox>")
        at = (enc["input_ids"][[0]] == bbox_id).float().argmax(1) + 1
        pred = heads["box"](out.hidden_states[-1][[0], at]).sigmoid()
        old = torch.nn.functional.smooth_l1_loss(
            pred, torch.tensor(np.float32(mask_box(mask, side=1)))[None], beta=0.05
        )
        assert int(at) < n_prompt and torch.equal(total, old)
        seen.pop()
    total.backward()
    assert seen == [2 if per_object else 1]
    grads = [p.grad for n, p in model.named_parameters() if "visual" in n and p.grad is not None]
    assert grads and any(float(g.abs().sum()) > 0 for g in grads) == (reads == "answer")
    with pytest.raises(ValueError, match="box_reads='last'"):
        WarmupConfig(box_reads="last")
