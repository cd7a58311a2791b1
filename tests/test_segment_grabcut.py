"""GrabCut backend on a generated scene: a textured disc on a differently textured background."""

import numpy as np
import pytest

from segr1.protocol.geometry import Prompts
from segr1.segment import GrabCutSegmenter, build_segmenter
from segr1.segment.base import Call

S = 192


def scene(seed: int = 0):
    """(S, S, 3) image, (S, S) disc mask, tight disc box. Disc: warm, striped, noisy; background:
    cool checkerboard with noise."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:S, :S]
    checker = ((xx // 12 + yy // 12) % 2) * 60
    bg = np.stack([40 + checker, 110 + rng.integers(0, 40, (S, S)), 170 + checker // 2], -1)
    stripes = 40 * (np.sin(xx / 2.5) > 0)
    fg = np.stack(
        [180 + rng.integers(0, 60, (S, S)), 60 + stripes, 30 + rng.integers(0, 30, (S, S))], -1
    )
    cx, cy, r = 0.55 * S, 0.45 * S, 0.25 * S
    disc = (xx - cx) ** 2 + (yy - cy) ** 2 < r * r
    image = np.where(disc[..., None], fg, bg).clip(0, 255).astype(np.uint8)
    return image, disc, np.array([cx - r, cy - r, cx + r, cy + r], np.float32)


IMAGE, DISC, BOX = scene()
LOOSE = BOX + np.array([-15, -15, 15, 15], np.float32)
NONE = (np.zeros((0, 2), np.float32), np.zeros(0, np.int64))


def iou(a, b):
    return (a & b).sum() / max((a | b).sum(), 1)


def test_box_around_disc_segments_the_disc():
    seg = GrabCutSegmenter()
    mask = seg.decode(seg.embed(IMAGE), [Call(LOOSE, *NONE)])[0]
    assert mask.shape == (S, S) and mask.dtype == bool
    assert iou(mask, DISC) > 0.5
    x1, y1, x2, y2 = LOOSE.astype(int)
    box_mask = np.zeros_like(DISC)
    box_mask[y1:y2, x1:x2] = True
    assert iou(mask, DISC) > iou(box_mask, DISC) + 0.2  # clearly better than the box itself


def test_box_with_points_and_points_only():
    seg = GrabCutSegmenter(max_side=None)
    emb = seg.embed(IMAGE)
    cx, cy = (BOX[0] + BOX[2]) / 2, (BOX[1] + BOX[3]) / 2
    with_points = Call(
        LOOSE, np.array([[cx, cy], [LOOSE[0] + 3, LOOSE[1] + 3]], np.float32), np.array([1, 0])
    )
    points_only = Call(
        None,
        np.array([[cx, cy], [cx + 10, cy - 5], [10, 10], [180, 180]], np.float32),
        np.array([1, 1, 0, 0]),
    )
    masks = seg.decode(emb, [with_points, points_only])
    assert iou(masks[0], DISC) > 0.5 and iou(masks[1], DISC) > 0.5
    assert masks[0][int(cy), int(cx)] and not masks[1][10, 10]  # sure labels are honoured


def test_background_points_only_give_an_empty_mask():
    seg = GrabCutSegmenter()
    mask = seg.decode(seg.embed(IMAGE), [Call(None, np.array([[5, 5]], np.float32), np.array([0]))])
    assert not mask.any()


def test_deterministic_and_through_the_segmenter_protocol():
    seg = build_segmenter("grabcut")
    p = Prompts(LOOSE[None], np.array([[100, 90]], np.float32), np.array([1]))
    a, b = seg(IMAGE, [p]), seg(IMAGE.copy(), [p])
    np.testing.assert_array_equal(a, b)
    assert (seg.cache.hits, seg.cache.misses) == (1, 1)


@pytest.mark.parametrize(
    ("box", "expect_pixels"),
    [
        ([50, 50, 50, 90], 0),  # zero width: empty
        ([50, 50, 53, 52], 6),  # tiny: the box itself
        ([0, 0, S, S], S * S),  # no background left to learn from: the box itself
        ([120, 30, 80, 10], 0),  # reversed corners (never produced by geometry): empty
    ],
)
def test_degenerate_boxes_fall_back_without_crashing(box, expect_pixels):
    seg = GrabCutSegmenter()
    mask = seg.decode(seg.embed(IMAGE), [Call(np.array(box, np.float32), *NONE)])[0]
    assert mask.sum() == expect_pixels


def test_downscaled_work_image_keeps_original_frame():
    seg = GrabCutSegmenter(max_side=64)
    emb = seg.embed(IMAGE)
    assert emb.size == (S, S) and emb.data.pixels.shape == (64, 64, 3)
    mask = seg.decode(emb, [Call(LOOSE, *NONE)])[0]
    assert mask.shape == (S, S) and iou(mask, DISC) > 0.5


def test_bad_inputs_are_refused():
    with pytest.raises(ValueError, match="uint8 RGB"):
        GrabCutSegmenter().embed(IMAGE.astype(np.float32))
    with pytest.raises(ValueError, match="iterations"):
        GrabCutSegmenter(iterations=0)
