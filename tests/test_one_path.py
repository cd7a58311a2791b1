"""Training and evaluation compute the same thing by construction: the training row, the image
the policy sees at inference and the image the segmenter embeds in both come from one stretch;
answers become masks through one function with one validity gate."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from painter import Painter
from segr1.data.hf import sample_row
from segr1.data.sample import Sample
from segr1.protocol import Answer, format_answer, parse_answer
from segr1.rewards import build_rewards
from segr1.segment.answers import segment_answers

S = 64


class Recorder(Painter):
    """A Painter that keeps every image it embedded."""

    def __init__(self) -> None:
        super().__init__()
        self.images: list[np.ndarray] = []

    def embed(self, image):
        self.images.append(image.copy())
        return super().embed(image)


@pytest.fixture
def sample(tmp_path):
    """A 150 x 90 photo-like image (smooth gradients + noise: filters disagree on it)."""
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:90, 0:150]
    img = np.stack([x * 1.6, y * 2.5, (x + y) % 255], axis=2) + rng.integers(0, 60, (90, 150, 3))
    Image.fromarray(np.clip(img, 0, 255).astype(np.uint8)).save(tmp_path / "a.png")
    mask = np.zeros((90, 150), np.uint8)
    mask[20:70, 40:110] = 255
    Image.fromarray(mask).save(tmp_path / "a_gt.png")
    return Sample("a", tmp_path / "a.png", tmp_path / "a_gt.png")


def test_training_row_is_the_image_the_pipeline_shows_and_segments(sample, tiny_policy_dir):
    from segr1.inference import Pipeline
    from segr1.policy import load_policy

    row = sample_row(sample, side=S)
    model, processor = load_policy(tiny_policy_dir)
    seg = Recorder()
    pipe = Pipeline(model, processor, seg, side=S)
    square = pipe.square(sample.load_image())
    np.testing.assert_array_equal(np.asarray(row["image"]), square)
    good = format_answer(Answer([[10, 10, 50, 40]], [[30, 25]], [1], "t", True))
    pipe.segment_completion(sample.load_image(), good)
    np.testing.assert_array_equal(seg.images[-1], square)  # the segmenter embeds it too

    _, reward = build_rewards(rec := Recorder(), side=S)
    reward(completions=[good], image=[row["image"]], mask=[row["mask"]])
    np.testing.assert_array_equal(rec.images[-1], square)  # and so does the reward


def test_reward_and_pipeline_decode_the_same_prompts_on_the_same_image(sample, tiny_policy_dir):
    """The reward (on the training row) and the pipeline (on the original photo) embed the same
    S x S image and send the segmenter the same calls, so their S x S masks are the same."""
    from segr1.inference import Pipeline
    from segr1.policy import load_policy

    row = sample_row(sample, side=S)
    text = format_answer(
        Answer([[10, 10, 50, 40], [5, 30, 25, 60]], [[30, 25], [2, 2]], [1, 0], "", True)
    )
    _, reward = build_rewards(in_reward := Recorder(), side=S)
    reward(completions=[text], image=[row["image"]], mask=[row["mask"]])
    model, processor = load_policy(tiny_policy_dir)
    Pipeline(model, processor, in_eval := Recorder(), side=S).segment_completion(
        sample.load_image(), text
    )
    np.testing.assert_array_equal(in_reward.images[0], in_eval.images[0])
    assert len(in_reward.calls) == len(in_eval.calls) == 2
    for a, b in zip(in_reward.calls, in_eval.calls, strict=True):
        np.testing.assert_array_equal(a.box, b.box)
        np.testing.assert_array_equal(a.points, b.points)
        np.testing.assert_array_equal(a.labels, b.labels)


BOX_POINT = (
    "<think></think> <bbox>[1,2,30,40]</bbox>, <points>[[5,5]]</points>, <labels>[1]</labels>"
)


@pytest.mark.parametrize(
    ("text", "needs_box", "usable", "rewardable"),
    [
        (BOX_POINT, True, True, True),
        ("<bbox>[1,2,30,40]</bbox>", True, True, False),  # a box alone: a mask, reward 0
        ("<bbox>[1,2,30,40]</bbox> <points>[]</points> <labels>[]</labels>", True, True, False),
        ("<points>[[5,5]]</points> <labels>[1]</labels>", True, True, False),  # box task, no box
        ("<points>[[5,5]]</points> <labels>[1]</labels>", False, True, True),  # pre-RL
        ("nothing", False, False, False),
        (
            "<bbox>[1,2,3]</bbox> <points>[[1,1]]</points> <labels>[0,1]</labels>",
            True,
            False,
            False,
        ),
    ],
)
def test_one_gate_for_masks_and_the_rewards_own_requirement(text, needs_box, usable, rewardable):
    answer = parse_answer(text)
    assert answer.usable is usable and answer.rewardable(needs_box) is rewardable
    image = np.zeros((S, S, 3), np.uint8)
    masks = segment_answers(Painter(), image, [answer], side=S)
    assert bool(masks[0].any()) is usable  # evaluation's mask
    _, reward = build_rewards(Painter(), side=S, needs_box=needs_box)
    gt = np.zeros((S, S), np.uint8)
    gt[:40, :40] = 255
    reward(completions=[text], image=[image], mask=[gt])
    scored = reward.last[0]
    assert (scored.iou > 0) is usable  # the reward sees the same mask ...
    assert scored.rewardable is rewardable
    assert (scored.reward > 0) is rewardable  # ... and pays only what SEG-R1.md 4 allows


def test_masks_stay_with_their_answers_when_some_are_unusable():
    answers = [
        parse_answer("junk"),
        parse_answer(format_answer(Answer([[0, 0, 10, 10]], [[5, 5]], [1], "", True))),
        parse_answer("<bbox>[0,0,3,3]</bbox>"),  # a box alone
        parse_answer(format_answer(Answer([[30, 30, 60, 60]], [[40, 40]], [1], "", True))),
    ]
    masks = segment_answers(Painter(), np.zeros((S, S, 3), np.uint8), answers, side=S)
    assert [bool(m.any()) for m in masks] == [False, True, True, True]
    assert masks[1][5, 5] and not masks[1][40, 40] and masks[3][40, 40] and not masks[3][5, 5]
    assert masks[2][1, 1] and not masks[2][5, 5]


def test_no_embedding_when_nothing_is_usable():
    seg = Painter()
    masks = segment_answers(seg, np.zeros((S, S, 3), np.uint8), [parse_answer("x")] * 3, side=S)
    assert masks.shape == (3, S, S) and not masks.any() and seg.embeds == 0


def test_joint_rule_uses_the_first_box_and_all_points():
    answer = parse_answer(
        format_answer(
            Answer([[0, 0, 10, 10], [30, 30, 60, 60]], [[5, 5], [50, 50]], [1, 1], "", True)
        )
    )
    per_box, joint = Painter(), Painter()
    segment_answers(per_box, np.zeros((S, S, 3), np.uint8), [answer], side=S)
    segment_answers(joint, np.zeros((S, S, 3), np.uint8), [answer], side=S, joint=True)
    assert [len(c.points) for c in per_box.calls] == [1, 1]  # each box with its inside point
    assert len(joint.calls) == 1 and len(joint.calls[0].points) == 2
    np.testing.assert_array_equal(joint.calls[0].box, [0, 0, 10, 10])


def test_ground_truth_levels_for_0_1_palette_and_grey_masks(tmp_path):
    """One reading of ground truths everywhere: 0/1 (also palette indices 0/1) is 0/255; other
    palette masks are read by colour; bool is 0/255."""
    from segr1.data.io import read_mask
    from segr1.imaging import mask_levels

    idx = np.zeros((4, 5), np.uint8)
    idx[1:3, 1:4] = 1
    for palette, index in (([0, 0, 0, 128, 0, 0], 1), ([0, 0, 0, 9, 9, 9, 255, 255, 255], 2)):
        img = Image.fromarray(idx * index, "P")
        img.putpalette(palette + [0] * (768 - len(palette)))
        img.save(tmp_path / "p.png")
        levels = read_mask(tmp_path / "p.png")
        assert levels.max() == 255 and (levels > 128).sum() == 6, palette
    Image.fromarray(idx).save(tmp_path / "g.png")
    assert read_mask(tmp_path / "g.png").max() == 255
    assert mask_levels(idx.astype(bool)).max() == 255
    assert mask_levels(idx * 200).max() == 200  # a real 0..255 mask is kept as it is
