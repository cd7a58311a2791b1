"""Evaluation profiles: each switch of the ``released`` profile does what SEG-R1.md 6a says, the
``default`` profile keeps segr1's corrected choices, and `segr1 prompt` shows the exact input."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from painter import Painter
from segr1.cli import app
from segr1.data.sample import Sample
from segr1.data.sampling import choose_samples
from segr1.profiles import DEFAULT, RELEASED, get_profile, with_overrides
from segr1.protocol import Answer, format_answer
from segr1.scoring import Item, score_items

runner = CliRunner()
W, H, S = 150, 90, 96


class Recorder(Painter):
    """A Painter that keeps the images it embedded."""

    def __init__(self, bgr: bool | None = None) -> None:
        super().__init__()
        self.images: list[np.ndarray] = []
        if bgr is not None:
            self.bgr = bgr

    def embed(self, image):
        self.images.append(image.copy())
        return super().embed(image)


@pytest.fixture(scope="module")
def photo():
    rng = np.random.default_rng(1)
    y, x = np.mgrid[0:H, 0:W]
    img = np.stack([x * 1.7, y * 2.8, (3 * x + y) % 255], axis=2) + rng.integers(0, 50, (H, W, 3))
    return np.clip(img, 0, 255).astype(np.uint8)


@pytest.fixture(scope="module")
def policy(tiny_policy_dir):
    from segr1.policy import load_policy

    return load_policy(tiny_policy_dir)


def pipeline(policy, profile, segmenter=None, task="foreground"):
    from segr1.inference import Pipeline

    model, processor = policy
    seg = segmenter if segmenter is not None else Recorder(bgr=get_profile(profile).bgr)
    return Pipeline(model, processor, seg, side=S, profile=profile, task=task)


def test_released_policy_input_is_bicubic_jpeg_then_qwen_vl_utils(policy, photo):
    pipe = pipeline(policy, "released")
    bicubic = np.asarray(Image.fromarray(photo).resize((S, S)))  # PIL's default filter
    buf = io.BytesIO()
    Image.fromarray(bicubic).save(buf, format="JPEG")  # PIL's default quality, 75
    jpeg = Image.open(buf).convert("RGB")
    shown = pipe.policy_image(photo)
    unit = 2 * policy[1].image_processor.patch_size  # qwen-vl-utils rounds to patch x merge
    side = round(S / unit) * unit
    assert shown.size == (side, side) != (S, S)
    expected = jpeg.resize((side, side), Image.Resampling.BICUBIC)
    np.testing.assert_array_equal(np.asarray(shown), np.asarray(expected))
    default = pipeline(policy, "default")
    np.testing.assert_array_equal(np.asarray(default.policy_image(photo)), default.square(photo))


def test_both_profiles_segment_the_one_stretch_and_only_released_swaps_channels(policy, photo):
    from segr1.imaging import stretch

    answer = format_answer(Answer([[10, 10, 50, 50]], [[20, 20]], [1], "", True))
    default, released = Recorder(bgr=False), Recorder(bgr=True)
    pipeline(policy, "default", default).segment_completion(photo, answer)
    pipeline(policy, "released", released).segment_completion(photo, answer)
    bilinear = np.asarray(Image.fromarray(photo).resize((S, S), Image.Resampling.BILINEAR))
    np.testing.assert_array_equal(stretch(photo, S), bilinear)
    np.testing.assert_array_equal(default.images[0], bilinear)
    np.testing.assert_array_equal(released.images[0], bilinear)  # the segmenter swaps itself


def test_profile_and_segmenter_channel_order_must_agree(policy):
    with pytest.raises(ValueError, match="bgr=True"):
        pipeline(policy, "released", Recorder(bgr=False))
    from segr1.segment import build_segmenter

    assert build_segmenter("grabcut", bgr=RELEASED.bgr).bgr is True


def test_released_saves_soft_foreground_masks_and_default_binary(policy, photo):
    answer = format_answer(Answer([[10, 10, 50, 70]], [[20, 20]], [1], "", True))
    soft = pipeline(policy, "released").segment_completion(photo, answer).levels
    hard = pipeline(policy, "default").segment_completion(photo, answer).levels
    assert soft.shape == hard.shape == (H, W)
    assert set(np.unique(hard)) == {0, 255}
    assert len(np.unique(soft)) > 2  # the bilinear edge is kept
    np.testing.assert_array_equal(soft > 128, hard > 0)
    ref = pipeline(policy, "released", task="referring")
    assert set(np.unique(ref.segment_completion(photo, answer).levels)) == {0, 255}


def test_released_parsing_and_reasonseg_rule(policy, photo):
    floats = "<think></think> <bbox>[10.5,10,50,50]</bbox>, <points>[[20,20]]</points>, <labels>[1]</labels>"
    assert pipeline(policy, "default").segment_completion(photo, floats).answer.boxes != []
    released = pipeline(policy, "released").segment_completion(photo, floats)
    assert released.answer.boxes == [] and released.answer.points == [[20, 20]]  # box absent

    unclosed = "<bbox>[10,10,40,40] <bbox>[50,50,90,90]</bbox> <points>[[20,20],[70,70]]</points> <labels>[1,1]</labels>"
    seg = Recorder(bgr=True)
    pred = pipeline(policy, "released", seg, task="reasoning").segment_completion(photo, unclosed)
    assert pred.usable and pred.answer.boxes == [[10, 10, 40, 40]]
    assert len(seg.calls) == 1 and len(seg.calls[0].points) == 2  # first box + ALL points
    default = pipeline(policy, "default", Recorder(bgr=False), task="reasoning")
    assert default.segment_completion(photo, unclosed).answer.boxes == []  # no closed <bbox>
    closed = unclosed.replace("] <bbox>", "]</bbox> <bbox>")
    per_box = Recorder(bgr=False)
    pipeline(policy, "default", per_box, task="reasoning").segment_completion(photo, closed)
    assert [len(c.points) for c in per_box.calls] == [1, 1]  # each box with its inside point


def test_max_new_tokens_come_from_the_profile(policy):
    assert pipeline(policy, "released").max_new_tokens == 1024
    assert pipeline(policy, "released", task="referring").max_new_tokens == 512
    assert pipeline(policy, "default", task="reasoning").max_new_tokens == 400


def test_scoring_switches_ignore_pixels_and_empty_iou():
    target = np.zeros((20, 20), np.uint8)
    target[5:15, 5:15] = 255
    ignore = np.zeros((20, 20), bool)
    ignore[5:15, 10:15] = True
    pred = np.zeros((20, 20), np.uint8)
    pred[5:15, 5:10] = 255

    def run(profile, tmp):
        from segr1.data.io import write_mask

        write_mask(tmp / "p.png", pred)
        write_mask(tmp / "e.png", np.zeros((20, 20), np.uint8))
        items = [
            Item("a", tmp / "p.png", lambda: target, lambda: ignore),
            Item("b", tmp / "e.png", lambda: np.zeros((20, 20), np.uint8)),
        ]
        return score_items(items, "referring", profile=profile, progress=False)

    import tempfile
    from pathlib import Path

    tmp = Path(tempfile.mkdtemp())
    default, released = run(DEFAULT, tmp), run(RELEASED, tmp)
    assert default["gIoU"] == pytest.approx((1.0 + 1.0) / 2)  # ignore excluded; empty/empty 1
    assert released["gIoU"] == pytest.approx((0.5 + 0.0) / 2)  # ignore as background; 0
    assert default["cIoU"] == 1.0 and released["cIoU"] == pytest.approx(0.5)


def _samples(task, images, per_image):
    return [
        Sample(f"{i}_{k}", f"img{i}.jpg", None, f"q{i}{k}", True, task)
        for i in range(images)
        for k in range(per_image)
    ]


def test_released_sampling_emulation():
    ref = _samples("referring", 5, 3)
    drawn = choose_samples(ref, "released", seed=1)
    assert len(drawn) == 5 and len({s.image_path for s in drawn}) == 5
    assert drawn == choose_samples(ref, "released", seed=1)  # stated seed: reproducible
    assert choose_samples(ref, "all") == ref
    reason = _samples("reasoning", 6, 2)
    drawn = choose_samples(reason, "released", seed=0)
    assert len(drawn) == 6 and len({s.id for s in drawn}) == 6
    assert len({s.image_path for s in drawn}) < 6  # with replacement (seed 0 repeats an image)
    fg = _samples("foreground", 4, 1)
    assert choose_samples(fg, "released", seed=0) == fg
    with pytest.raises(ValueError, match="unknown sampling"):
        choose_samples(ref, "some")


def test_profile_overrides_are_named_and_checked():
    p = with_overrides("default", ["bgr=true", "policy_jpeg_quality=75"])
    assert (
        p.bgr
        and p.policy_jpeg_quality == 75
        and p.name == "default+bgr=true,policy_jpeg_quality=75"
    )
    assert with_overrides("released", ["policy_resample=none"]).policy_resample is None
    assert with_overrides("default", ["policy_jpeg_quality=75", "bgr=true"]).name == p.name
    for bad in (["nope=1"], ["bgr=maybe"], ["ignore=drop"], ["policy_resample=lanczos2"]):
        with pytest.raises(ValueError):
            with_overrides("default", bad)


@pytest.mark.parametrize(
    ("args", "system", "text"),
    [
        (["--task", "referring", "--query", "the man in red."], "eval",
         "Identify and segment the man in red."),
        (["--task", "reasoning", "--query", "The Tea Cup", "--no-sentence"], "eval",
         " Identify and segment the tea cup."),
        (["--task", "reasoning", "--query", "What keeps me dry?", "--sentence"], "eval",
         "What keeps me dry? Identify and segment it."),
        (["--task", "foreground", "--stage", "train"], "train", None),
        (["--task", "prerl"], None, None),
    ],
)  # fmt: skip
def test_prompt_command_prints_the_exact_messages(args, system, text):
    from test_protocol_templates import FOREGROUND_TRAIN, PRERL, SYSTEM_EVAL, SYSTEM_TRAIN

    res = runner.invoke(app, ["prompt", *args, "--profile", "released"])
    assert res.exit_code == 0, res.output
    info = json.loads(res.output)
    roles = [m["role"] for m in info["messages"]]
    if system is None:
        assert roles == ["user"] and info["messages"][0]["content"][1]["text"] == PRERL
        return
    assert (
        info["messages"][0]["content"][0]["text"]
        == {"eval": SYSTEM_EVAL, "train": SYSTEM_TRAIN}[system]
    )
    user = info["messages"][1]["content"]
    assert user[0] == {"type": "image"}
    assert user[1]["text"] == (text if text is not None else FOREGROUND_TRAIN)
    assert info["profile"] == "released" and "JPEG quality 75" in info["image"]["policy_input"]


def test_prompt_command_renders_with_a_checkpoint_processor(tiny_policy_dir):
    res = runner.invoke(app, ["prompt", "--task", "referring", "--query", "the cup",
                              "--model", str(tiny_policy_dir)])  # fmt: skip
    assert res.exit_code == 0, res.output
    chat = json.loads(res.output)["chat_text"]
    assert chat.endswith(
        "<|vision_start|><|image_pad|><|vision_end|>Identify and segment the cup<|im_end|>\n<|im_start|>assistant\n"
    )
    bad = runner.invoke(app, ["prompt", "--task", "referring"])
    assert bad.exit_code == 2 and "needs a query" in bad.output


def test_score_referring_from_the_cli(tmp_path):
    from segr1.data.io import write_mask

    gt = np.zeros((20, 20), np.uint8)
    gt[0:10] = 255
    pred = np.zeros((20, 20), np.uint8)
    pred[0:5] = 255
    write_mask(tmp_path / "gt" / "a.png", gt)
    write_mask(tmp_path / "pred" / "a.png", pred)
    out = tmp_path / "s.json"
    res = runner.invoke(app, ["score", str(tmp_path / "pred"), str(tmp_path / "gt"),
                              "--task", "referring", "--json", str(out)])  # fmt: skip
    assert res.exit_code == 0, res.output
    saved = json.loads(out.read_text())
    assert saved["cIoU"] == saved["gIoU"] == pytest.approx(0.5)
    assert "gIoU" in saved["conventions"] and "Sm" not in saved and saved["task"] == "referring"
    write_mask(tmp_path / "pred" / "a.png", (pred > 0).astype(np.uint8))  # a 0/1 prediction
    res = runner.invoke(app, ["score", str(tmp_path / "pred"), str(tmp_path / "gt"),
                              "--task", "referring", "--json", str(out)])  # fmt: skip
    assert json.loads(out.read_text())["cIoU"] == pytest.approx(0.5)
