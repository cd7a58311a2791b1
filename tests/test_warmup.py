"""The supervised warm-up's targets in any answer format, and with abstention: each target text
parses back (in its own format) to the prompts drawn for it; an empty scene gets the format's
abstention answer; the default (Seg-R1, no abstention) writes what it always wrote."""

from __future__ import annotations

import numpy as np
import pytest

from segr1.policy.warmup import WarmupConfig, noisy_answer
from segr1.protocol.formats import get_format


def _mask(side: int = 40) -> np.ndarray:
    m = np.zeros((side, side), bool)
    m[10:25, 5:30] = True
    return m


def test_default_target_is_unchanged():
    """Pinned from the warm-up before formats and abstention were added (same seed, same mask):
    the demo's warm-up data stays byte-identical."""
    rng = np.random.default_rng(7)
    texts = [noisy_answer(_mask(), rng, WarmupConfig(side=40)) for _ in range(2)]
    assert texts == [
        "<think>object</think> <bbox>[5,11,29,23]</bbox>, <points>[[17,14],[25,10],[5,36]]"
        "</points>, <labels>[1,1,0]</labels>",
        "<think>object</think> <bbox>[5,13,28,24]</bbox>, <points>[[18,14],[10,22],[21,8]]"
        "</points>, <labels>[1,1,0]</labels>",
    ]


def test_box_scale_loosens_the_target_about_the_object():
    """``box_scale`` 1.3 (the demo's): without jitter each side of the target box is 1.3 times
    the object's, about the same centre; the object points stay on the object and the
    background point falls outside the loose box."""
    mask = _mask(60)
    text = noisy_answer(mask, np.random.default_rng(0),
                        WarmupConfig(side=60, box_noise=0.0, box_scale=1.3))  # fmt: skip
    answer = get_format("seg-r1").parse(text)
    x1, y1, x2, y2 = answer.boxes[0]
    # tight box [5, 10, 30, 25] (25 x 15): 1.3x about its centre adds 3.75 px on each side
    # horizontally and 2.25 px vertically, [1.25, 7.75, 33.75, 27.25], then rounded
    assert (x1, x2) == (1, 34) and (y1, y2) == (8, 27)
    obj = [p for p, label in zip(answer.points, answer.labels, strict=True) if label == 1]
    assert obj and all(mask[y, x] for x, y in obj)
    ((bx, by),) = [p for p, label in zip(answer.points, answer.labels, strict=True) if label == 0]
    assert not (x1 <= bx <= x2 and y1 <= by <= y2)


@pytest.mark.parametrize(("name", "n_fg"), [("seg-r1", 2), ("seg-zero", 2), ("vision-reasoner", 1)])
def test_target_parses_back_to_the_drawn_prompts(name, n_fg):
    """Same seed, two formats: the same noisy box and object points; the JSON formats drop the
    background point (they have none); the text is the format's own (format check passes)."""
    mask = _mask()
    fmt = get_format(name)
    ref = get_format("seg-r1").parse(
        noisy_answer(mask, np.random.default_rng(3), WarmupConfig(side=40, n_fg=n_fg))
    )
    text = noisy_answer(mask, np.random.default_rng(3), WarmupConfig(side=40, n_fg=n_fg,
                                                                      answer_format=name))  # fmt: skip
    assert fmt.format_ok(text)
    got = fmt.parse(text)
    assert got.boxes == ref.boxes and len(got.boxes) == 1
    keep = [i for i, label in enumerate(ref.labels) if label == 1 or name == "seg-r1"]
    assert got.points == [ref.points[i] for i in keep]
    assert got.labels == [ref.labels[i] for i in keep]
    assert got.points_parsed and got.usable and not got.abstain
    obj = [p for p, label in zip(got.points, got.labels, strict=True) if label == 1]
    assert len(obj) == n_fg and all(mask[y, x] for x, y in obj)  # object points on the object


def test_a_format_that_cannot_hold_the_draw_is_named():
    with pytest.raises(ValueError, match=r"vision-reasoner.*n_fg"):
        noisy_answer(
            _mask(), np.random.default_rng(0), WarmupConfig(answer_format="vision-reasoner")
        )


@pytest.mark.parametrize("name", ["seg-r1", "seg-zero", "vision-reasoner"])
def test_empty_scene_gets_the_abstention_answer(name):
    empty = np.zeros((40, 40), bool)
    rng = np.random.default_rng(0)
    assert noisy_answer(empty, rng, WarmupConfig(side=40, answer_format=name)) is None
    text = noisy_answer(empty, rng, WarmupConfig(side=40, answer_format=name, abstain=True))
    fmt = get_format(name)
    answer = fmt.parse(text)
    assert answer.abstain and not answer.usable and answer.think == "object"
    assert fmt.format_ok(text)
    assert text == fmt.format_answer(answer)


@pytest.mark.filterwarnings("ignore:Detected call of `lr_scheduler.step")
def test_warmup_trains_on_empty_scenes_only_with_abstain(tiny_policy_dir, tmp_path, monkeypatch):
    """The texts the warm-up trains on: with ``abstain`` the prompt carries the abstention
    sentence and empty scenes are kept with the abstention answer; without, they are skipped."""
    import segr1.policy.warmup as w
    from segr1.data.registry import load_dataset
    from segr1.data.synth import generate
    from segr1.data.synth_scene import SynthConfig
    from segr1.protocol.seg_zero import SegZeroFormat

    generate(tmp_path / "d", n_train=6, n_test=1, seed=0,
             config=SynthConfig(size=48, empty_fraction=0.5), progress=False)  # fmt: skip
    samples = load_dataset("synth", tmp_path / "d", split="train")
    seen: list[str] = []

    def record(model, processor, opt, n_prompt, texts, images, dense=None):
        seen.extend(texts)
        return 0.0

    monkeypatch.setattr(w, "answer_step", record)
    for abstain in (False, True):
        seen.clear()
        cfg = WarmupConfig(steps=4, batch_size=6, side=40, answer_format="seg-zero",
                           abstain=abstain)  # fmt: skip
        w.warmup(tiny_policy_dir, samples, tmp_path / f"out{abstain}", cfg, progress=False)
        answers = [t.rsplit("<|im_start|>assistant\n", 1)[1] for t in seen]
        none = [a for a in answers if a.startswith("<think>object</think> <answer>none</answer>")]
        boxes = [a for a in answers if a.startswith('<think>object</think> <answer>{"bbox": [')]
        assert len(none) + len(boxes) == len(seen) == 4 * (6 if abstain else 3)
        assert bool(none) == abstain and boxes
        assert all((SegZeroFormat.abstain_sentence in t) == abstain for t in seen)
        assert all("Please find 'all the primary objects in the image'" in t for t in seen)


def _two_objects(side: int = 60) -> np.ndarray:
    m = np.zeros((side, side), bool)
    m[5:20, 35:55] = True  # right object
    m[30:50, 5:20] = True  # left object
    return m


def test_per_object_targets_one_box_per_object():
    """``per_object``: one noisy box per object, left to right, one object point on each
    object, the background point outside every box; on a one-object mask it draws exactly
    what one box draws; a format holding one box, or the prompt-reading box objective, is
    refused up front."""
    mask = _two_objects()
    cfg = WarmupConfig(side=60, per_object=True, box_noise=0.05)
    answer = get_format("seg-r1").parse(noisy_answer(mask, np.random.default_rng(1), cfg))
    assert len(answer.boxes) == 2
    (_, _, r1, b1), (l2, _, _, b2) = answer.boxes
    assert r1 < 30 < l2 and b1 > 30 > b2  # the left object's box first
    fg = [p for p, label in zip(answer.points, answer.labels, strict=True) if label == 1]
    assert len(fg) == 2 and all(mask[y, x] for x, y in fg)
    assert fg[0][0] < 20 and fg[0][1] >= 30  # one point on each object, in box order
    assert fg[1][0] >= 35 and fg[1][1] < 20
    ((bx, by),) = [p for p, label in zip(answer.points, answer.labels, strict=True) if label == 0]
    assert not any(x1 <= bx <= x2 and y1 <= by <= y2 for x1, y1, x2, y2 in answer.boxes)
    one = get_format("seg-r1").parse(
        noisy_answer(mask, np.random.default_rng(1), WarmupConfig(side=60, box_noise=0.05))
    )
    assert len(one.boxes) == 1  # without per_object: one box around both
    single = _mask()
    assert noisy_answer(single, np.random.default_rng(4), WarmupConfig(side=40, per_object=True)) \
        == noisy_answer(single, np.random.default_rng(4), WarmupConfig(side=40))  # fmt: skip
    with pytest.raises(ValueError, match="holds one box"):
        WarmupConfig(per_object=True, answer_format="seg-zero")
    with pytest.raises(ValueError, match="box_reads='answer'"):
        WarmupConfig(per_object=True, box_reads="first")
