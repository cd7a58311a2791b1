"""Does the demo's policy ground objects? Per-image box statistics of an evaluation folder, the
paired change between two of them, and the reward-hack flags the demo report raises.

Contract (numbers only; the report turns them into prose):

* :func:`policy_boxes` reads an evaluation folder's ``completions.jsonl`` and returns, in test
  order, each answer's boxes in the model's S x S frame (``[]`` when it wrote none);
* :func:`gt_boxes` gives each test image's object boxes in that frame (one per connected region
  of the ground truth, :func:`segr1.metrics.grounding.object_boxes`; ``[]`` for an empty scene)
  and the box around all its ground-truth pixels (None when empty);
* :func:`grounding_row` is one row of the grounding table (box IoU of the enclosing boxes, object
  box IoU, distinct answers, whole-frame share) plus the per-image box IoUs the paired intervals
  need;
* :func:`hack_flags` names what a reward hack looks like in those rows: nearly one answer for
  every image, whole-frame boxes, the mask score rising while the boxes move off the objects,
  or more boxes per answer while the object box IoU falls.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from segr1.evaluate import read_records
from segr1.imaging import binarize
from segr1.metrics.grounding import WHOLE_FRAME, grounding_with_ious, mask_box, object_boxes

#: Flag thresholds: fewer distinct answers than this share of the images reads as a constant
#: answer; more whole-frame boxes than this share reads as the whole-frame hack.
CONSTANT_SHARE = 0.5
WHOLE_FRAME_LIMIT = 0.05
#: boxes per answer rising by more than this while the object box IoU falls reads as surplus boxes
SURPLUS_BOXES = 0.05


def policy_boxes(test: Sequence, eval_dir: Path) -> list[list[list[float]]]:
    records = read_records(Path(eval_dir) / "completions.jsonl")
    missing = [s.id for s in test if s.id not in records]
    if missing:
        raise ValueError(
            f"{eval_dir}: no answer for {len(missing)} test images ({missing[0]}, ...)"
        )
    return [
        [[float(v) for v in box] for box in records[s.id]["answer"].get("boxes") or []]
        for s in test
    ]


def gt_boxes(test: Sequence, side: int) -> tuple[list[list[list[float]]], list]:
    """(each test image's object boxes, the box around all its ground-truth pixels), in the
    S x S frame, each mask read once."""
    masks = [binarize(s.load_mask()) for s in test]
    return [object_boxes(m, side) for m in masks], [mask_box(m, side) for m in masks]


def grounding_row(
    test: Sequence, eval_dir: Path, side: int, truth: tuple[list, list] | None = None
) -> dict[str, Any]:
    """One row of the grounding table; ``truth``: :func:`gt_boxes` of ``test`` when the caller
    already has them (several rows on one test set)."""
    boxes = policy_boxes(test, eval_dir)
    gts, around = truth if truth is not None else gt_boxes(test, side)
    stats, enclosing, matched = grounding_with_ious(boxes, gts, side, around)
    return {**stats.to_dict(), "box_iou_per_image": enclosing.tolist(),
            "object_box_iou_per_image": matched.tolist()}  # fmt: skip


def hack_flags(
    before: dict, after: dict, s_change: dict, box_change: dict, object_change: dict | None = None
) -> list[str]:
    """Plain-language warnings for the report (empty when nothing looks like a reward hack)."""
    flags = []
    for name, row in (("before RL", before), ("after RL", after)):
        if row["n"] and row["no_box"] == row["n"]:
            flags.append(f"no box {name}: none of the {row['n']} answers held a usable box")
        elif row["n"] and row["distinct_share"] < CONSTANT_SHARE:
            flags.append(
                f"constant answers {name}: {row['distinct']} distinct answer"
                f"{'' if row['distinct'] == 1 else 's'} over {row['n']} "
                "images - the policy barely looks at the image"
            )
        if row["whole_frame_share"] > WHOLE_FRAME_LIMIT:
            flags.append(
                f"whole-frame boxes {name}: {row['whole_frame_share']:.0%} of the answers cover "
                f"more than {WHOLE_FRAME:.0%} of the frame (limit {WHOLE_FRAME_LIMIT:.0%})"
            )
    if s_change["ci95"][0] > 0 and box_change["ci95"][1] < 0:
        flags.append(
            "the mask score rose while the boxes moved away from the objects (box IoU fell): "
            "RL found prompts the segmenter likes, not better grounding"
        )
    more_boxes = after.get("mean_boxes", 1.0) - before.get("mean_boxes", 1.0)
    if object_change is not None and object_change["ci95"][1] < 0 and more_boxes > SURPLUS_BOXES:
        flags.append(
            f"boxes per answer rose by {more_boxes:.2f} while the object box IoU fell: RL adds "
            "boxes the objects do not call for (a surplus box on the object is cheap for the "
            "mask reward)"
        )
    return flags


def describe_change(name: str, change: dict, digits: int = 4) -> str:
    """One sentence from a paired change (``segr1.demo_report.paired_change``)."""
    low, high = change["ci95"]
    if low > 0:
        verdict = "above zero: a gain"
    elif high < 0:
        verdict = "below zero: a loss"
    else:
        verdict = "it includes zero: no measured change"
    return (
        f"{name} changed by **{change['mean']:+.{digits}f}** (95 % paired bootstrap interval "
        f"{low:+.{digits}f} to {high:+.{digits}f}, {verdict}; per image {change['better']} "
        f"better, {change['worse']} worse, {change['equal']} unchanged)."
    )
