"""Rewards on hand-written completions with known values."""

import numpy as np
import pytest
from PIL import Image

from painter import Painter
from segr1.protocol import Answer, format_answer
from segr1.rewards import (
    build_rewards,
    completion_text,
    format_reward,
    gt_mask,
    point_count_reward,
    prerl_format_reward,
)

S = 64


def square_mask(x1, y1, x2, y2, side=S):
    m = np.zeros((side, side), np.uint8)
    m[y1:y2, x1:x2] = 255
    return Image.fromarray(m)


def answer(box, points=((20, 20),), labels=(1,), think=True):
    return format_answer(
        Answer([list(box)], [list(p) for p in points], list(labels), "ok" if think else None, True)
    )


IMG = Image.fromarray(np.random.default_rng(0).integers(0, 255, (S, S, 3), dtype=np.uint8))
GT = square_mask(16, 16, 48, 48)


def test_completion_text_accepts_strings_and_messages():
    assert completion_text("abc") == "abc"
    assert completion_text([{"role": "assistant", "content": "abc"}]) == "abc"
    assert (
        completion_text([{"role": "assistant", "content": [{"type": "text", "text": "x"}]}]) == "x"
    )


def test_format_rewards():
    good = answer((16, 16, 48, 48))
    assert format_reward([good, answer((1, 2, 3, 4), think=False), "garbage"]) == [1.0, 0.0, 0.0]
    assert prerl_format_reward(["<points>[[1,2]]</points> <labels>[0]</labels>", good, "x"]) == [
        1.0,
        1.0,
        0.0,
    ]


def test_point_count_reward_peaks_at_eight():
    eight = answer((0, 0, 9, 9), points=[(1, 1)] * 8, labels=[1] * 8)
    four = answer((0, 0, 9, 9), points=[(1, 1)] * 4, labels=[1] * 4)
    r = point_count_reward([eight, four])
    assert r[0] == 1.0 and r[1] == pytest.approx(np.exp(-2.0))


def test_segmentation_reward_known_values():
    seg = Painter()
    fmt, reward = build_rewards(seg, side=S)
    perfect = answer((16, 16, 48, 48), points=[(30, 30)], labels=[1])
    half = answer((16, 16, 32, 48), points=[(20, 20)], labels=[1])  # IoU 0.5
    no_points = answer((16, 16, 48, 48), points=[], labels=[])
    logged = {}
    r = reward(
        prompts=[None] * 4,
        completions=[perfect, half, no_points, "<bbox>[1,2]</bbox>"],
        image=[IMG] * 4,
        mask=[GT] * 4,
        log_metric=lambda k, v: logged.setdefault(k, v),
    )
    assert r[0] == pytest.approx(1.0)
    assert 0.7 * 0.5 < r[1] < 0.7 * 0.5 + 0.3  # IoU part exact, S part in (0, 1)
    assert r[2] == 0.0 and r[3] == 0.0  # zero points / nothing parseable: 0.0, never None
    assert logged["usable_rate"] == 0.75  # the box alone still has its mask (IoU 1.0) ...
    assert logged["rewardable_rate"] == 0.5  # ... but the reward requires points
    assert logged["mean_iou"] == pytest.approx((1.0 + 0.5 + 1.0) / 4)
    assert seg.embeds == 1 and seg.decodes == 1  # one image: one embedding, one batched decode
    assert fmt([perfect]) == [1.0]


def test_released_variant_is_iou_plus_one_minus_area():
    seg = Painter()
    _, reward = build_rewards(seg, side=S, variant="released")
    half = answer((16, 16, 32, 48), points=[(20, 20)], labels=[1])
    r = reward(completions=[half], image=[IMG], mask=[GT])
    area = (16 * 32) / (S * S)
    assert r[0] == pytest.approx(0.7 * 0.5 + 0.3 * (1 - area))
    assert reward.__name__ == "segmentation_released"


def test_groups_share_one_embedding_per_image():
    seg = Painter()
    _, reward = build_rewards(seg, side=S)
    other = Image.fromarray(np.zeros((S, S, 3), np.uint8))
    c = answer((16, 16, 48, 48))
    r = reward(completions=[c] * 6, image=[IMG] * 3 + [other] * 3, mask=[GT] * 6)
    assert len(r) == 6 and seg.embeds == 2 and seg.decodes == 2


def test_ground_truth_is_resized_bilinear_then_thresholded():
    big = square_mask(32, 32, 96, 96, side=128)
    assert gt_mask(big, S).sum() == 32 * 32
    assert gt_mask(np.array(big) > 0, S).sum() == 32 * 32


def test_missing_columns_error_names_them():
    _, reward = build_rewards(Painter(), side=S)
    with pytest.raises(ValueError, match="'image' and 'mask'"):
        reward(completions=["x"])


def test_prompts_of_points_only_for_prerl():
    seg = Painter()
    _, reward = build_rewards(seg, side=S, needs_box=False)
    r = reward(
        completions=["<points>[[30,30]]</points> <labels>[1]</labels>"], image=[IMG], mask=[GT]
    )
    assert 0.0 < r[0] < 1.0  # a 3x3 square inside the 32x32 object: small IoU, nonzero


def test_each_row_is_scored_against_its_own_mask():
    """Two rows showing one image with different ground truths (two RefCOCO expressions):
    one embedding, and each completion scored against its own row's mask."""
    seg = Painter()
    _, reward = build_rewards(seg, side=S)
    left, right = square_mask(0, 0, 32, 64), square_mask(32, 0, 64, 64)
    c = answer((0, 0, 32, 64), points=[(10, 10)], labels=[1])
    r = reward(completions=[c, c], image=[IMG, IMG], mask=[left, right])
    assert [s.iou for s in reward.last] == [1.0, 0.0]
    assert r[0] == pytest.approx(1.0) and r[1] < 0.3
    assert seg.embeds == 1 and seg.decodes == 1


def test_a_zero_one_ground_truth_scores_as_in_segr1_score(tmp_path):
    """A mask stored as 0/1 gives the reward's IoU and `segr1 score`'s IoU, both 0.5."""
    import json

    from typer.testing import CliRunner

    from segr1.cli import app
    from segr1.data.io import write_mask

    gt01 = np.zeros((S, S), np.uint8)
    gt01[16:48, 16:48] = 1
    (tmp_path / "gt").mkdir()
    Image.fromarray(gt01).save(tmp_path / "gt" / "x.png")
    pred = np.zeros((S, S), bool)
    pred[16:48, 16:32] = True  # IoU 0.5
    write_mask(tmp_path / "pred" / "x.png", pred)
    out = tmp_path / "s.json"
    cli = CliRunner().invoke(
        app, ["score", str(tmp_path / "pred"), str(tmp_path / "gt"), "--json", str(out)]
    )
    assert cli.exit_code == 0, cli.output
    _, reward = build_rewards(Painter(points=False), side=S)
    c = answer((16, 16, 32, 48), points=[(20, 20)], labels=[1])
    reward(completions=[c] * 2, image=[IMG] * 2, mask=[tmp_path / "gt" / "x.png", gt01])
    assert json.loads(out.read_text())["IoU"] == pytest.approx(0.5)
    assert [s.iou for s in reward.last] == [pytest.approx(0.5)] * 2
