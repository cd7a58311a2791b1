"""Pipeline end to end with tiny policies and GrabCut: masks come back at the original
resolution, a known box lands where it should, unusable answers give visible empty masks, a
policy whose answers differ per image gets its own non-empty mask per image."""

from __future__ import annotations

import numpy as np
import pytest

from segr1.imaging import resize_mask, stretch, to_rgb
from segr1.inference import Pipeline
from segr1.policy import build_tiny_policy, load_policy
from segr1.segment import build_segmenter

W, H, SIDE = 160, 96, 128
OBJECT = (40, 24, 120, 72)  # x1, y1, x2, y2 in the original frame
# the object's box in the 128 x 128 model frame is [32, 32, 96, 96]; a looser one around it:
ANSWER = "<think>t</think> <bbox>[28,28,100,100]</bbox>, <points>[[64,64]]</points>, <labels>[1]</labels>"
BOX_ORIGINAL = [35.0, 21.0, 125.0, 75.0]


def scene() -> np.ndarray:
    rng = np.random.default_rng(0)
    img = np.empty((H, W, 3), np.uint8)
    img[:] = (40, 90, 40)
    img = np.clip(img + rng.integers(-12, 13, img.shape), 0, 255).astype(np.uint8)
    x1, y1, x2, y2 = OBJECT
    img[y1:y2, x1:x2] = (220, 60, 50)
    return img


@pytest.fixture(scope="module")
def policy(tmp_path_factory):
    path = build_tiny_policy(tmp_path_factory.mktemp("tiny") / "policy", seed=0)
    model, processor = load_policy(path)
    return path, model, processor


@pytest.fixture(scope="module")
def pipe(policy):
    _, model, processor = policy
    return Pipeline(model, processor, build_segmenter("grabcut"), side=SIDE, max_new_tokens=8)


def test_end_to_end_mask_at_original_resolution(policy):
    path = policy[0]
    pipe = Pipeline.from_pretrained(path, segmenter="grabcut", side=SIDE, max_new_tokens=8)
    pred = pipe(scene())
    assert isinstance(pred.completion, str)
    assert pred.mask.shape == (H, W) and pred.mask.dtype == bool
    assert not pred.usable and not pred.mask.any()  # a random policy: empty, and visible


def test_answering_policy_gets_its_own_mask_per_image(answering_policy_dir, synth_root):
    from answering import sample_answers
    from segr1.data.registry import load_dataset

    samples = [s for s in load_dataset("synth", synth_root, split="test") if "empty" not in s.id]
    pipe = Pipeline.from_pretrained(str(answering_policy_dir), segmenter="grabcut", side=96)
    preds = pipe.predict_batch([s.load_image() for s in samples], batch_size=3)
    expected = [answer for _, answer in sample_answers(samples, 96)]
    assert [p.completion for p in preds] == expected  # parse, and differ per image
    for s, p in zip(samples, preds, strict=True):
        gt = s.load_mask() > 128
        assert p.usable and p.mask.shape == gt.shape
        iou = (p.mask & gt).sum() / (p.mask | gt).sum()
        assert iou > 0.3, f"{s.id}: IoU {iou:.2f}"


def test_known_box_segments_inside_it_in_the_original_frame(pipe):
    pred = pipe.segment_completion(scene(), ANSWER)
    assert pred.usable and pred.answer.format_ok
    np.testing.assert_allclose(pred.prompts.boxes[0], BOX_ORIGINAL, atol=1e-3)
    np.testing.assert_allclose(pred.prompts.points[0], [80.0, 48.0], atol=1e-3)
    assert pred.mask.shape == (H, W)
    ys, xs = np.nonzero(pred.mask)
    x1, y1, x2, y2 = BOX_ORIGINAL
    assert xs.min() >= x1 - 1 and xs.max() <= x2 + 1 and ys.min() >= y1 - 1 and ys.max() <= y2 + 1
    truth = np.zeros((H, W), bool)
    truth[OBJECT[1] : OBJECT[3], OBJECT[0] : OBJECT[2]] = True
    iou = (pred.mask & truth).sum() / (pred.mask | truth).sum()
    assert iou > 0.8


def test_segment_at_original_frame_agrees(policy):
    _, model, processor = policy
    pipe = Pipeline(model, processor, build_segmenter("grabcut"), side=SIDE, segment_at="original")
    pred = pipe.segment_completion(scene(), ANSWER)
    truth = np.zeros((H, W), bool)
    truth[OBJECT[1] : OBJECT[3], OBJECT[0] : OBJECT[2]] = True
    assert pred.mask.shape == (H, W)
    assert (pred.mask & truth).sum() / (pred.mask | truth).sum() > 0.8


def test_unparseable_answer_gives_a_visible_empty_mask(pipe):
    preds = pipe.segment_completions(scene(), ["no tags at all", "<bbox>[1,2,3]</bbox>", ANSWER])
    assert [p.usable for p in preds] == [False, False, True]
    assert not preds[0].mask.any() and not preds[1].mask.any() and preds[2].mask.any()
    assert preds[0].to_dict()["usable"] is False and preds[0].to_dict()["mask_area"] == 0
    box_only = pipe.segment_completion(scene(), "<think>t</think> <bbox>[28,28,100,100]</bbox>")
    assert box_only.usable and box_only.mask.any()  # a box alone prompts the segmenter


def test_batched_greedy_generation_is_deterministic(pipe):
    images = [scene(), np.zeros((50, 70, 3), np.uint8)]
    first = pipe.generate(images, batch_size=2)
    assert len(first) == 2 and all(isinstance(t, str) for t in first)
    assert pipe.generate(images, batch_size=2) == first
    preds = pipe.predict_batch(images, batch_size=2)
    assert [p.completion for p in preds] == first
    assert [p.mask.shape for p in preds] == [(H, W), (50, 70)]


def test_sampling_is_seeded(pipe):
    a = pipe.generate([scene()], greedy=False, seed=3, max_new_tokens=6)
    b = pipe.generate([scene()], greedy=False, seed=3, max_new_tokens=6)
    assert a == b


def test_referring_needs_a_query(policy):
    _, model, processor = policy
    pipe = Pipeline(model, processor, build_segmenter("grabcut"), task="referring", side=SIDE)
    with pytest.raises(ValueError, match="needs a query"):
        pipe.generate([scene()])
    assert "the red box" in pipe.prompt_text("the red box")
    with pytest.raises(ValueError, match="segment_at"):
        Pipeline(model, processor, build_segmenter("grabcut"), segment_at="nowhere")


def test_image_helpers():
    gray = np.arange(12, dtype=np.uint8).reshape(3, 4)
    assert to_rgb(gray).shape == (3, 4, 3)
    with pytest.raises(TypeError, match="uint8"):
        to_rgb(np.zeros((3, 4, 3), np.float32))
    assert stretch(scene(), SIDE).shape == (SIDE, SIDE, 3)
    small = np.zeros((4, 4), bool)
    small[1:3, 1:3] = True
    big = resize_mask(small, (8, 12))
    assert big.shape == (12, 8) and big[4:8, 3:5].all() and not big[:2].any()


def test_prompt_follows_the_qwen_chat_template(pipe):
    from segr1.protocol.templates import FOREGROUND_EVAL_TEXT, SYSTEM_PROMPT_EVAL

    text = pipe.prompt_text()
    assert text.startswith(
        f"<|im_start|>system\n{SYSTEM_PROMPT_EVAL}<|im_end|>\n<|im_start|>user\n"
    )
    assert "<|vision_start|><|image_pad|><|vision_end|>" + FOREGROUND_EVAL_TEXT in text
    assert text.endswith("<|im_end|>\n<|im_start|>assistant\n")
