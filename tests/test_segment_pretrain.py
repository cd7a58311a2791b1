"""The segmenter stand-in: a reduced pretraining learns, saves, reloads through the factory, is
rebuilt identically from its seed, and is measured by the reward's own path."""

import json
from dataclasses import replace

import cv2
import numpy as np
import pytest
import torch

from segr1.data.synth_scene import SynthConfig, render_scene
from segr1.segment import Sam2Segmenter, build_segmenter
from segr1.segment.grabcut import GrabCutSegmenter
from segr1.segment.pretrain import (
    HELDOUT_STREAM,
    PROMPT_KINDS,
    TRAIN_STREAM,
    PretrainConfig,
    draw_scenes,
    holds_standin,
    measure_iou,
    measurement_answer,
    object_boxes_answer,
    objects_key,
    pretrain_sam2,
    scene_segments,
    train_sam2,
)

#: Small enough for seconds: a 64 px model on four easy scenes seen many times (at 32 px the
#: image embedding is 2 x 2 tokens and a box cannot be located).
SMALL = PretrainConfig(image_size=64, width=4, steps=150, batch_size=4, prompts_per_image=4,
                       learning_rate=1e-2, warmup_steps=10, n_scenes=4, scene_size=64, side=64,
                       camo_strength=0.0, box_noise=0.0, stride=4, stuff_fraction=0.0,
                       two_object_fraction=0.2)  # fmt: skip


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    return pretrain_sam2(tmp_path_factory.mktemp("stand-in"), SMALL, progress=False, heldout=4)


def test_segments_partition_the_scene():
    cfg = SynthConfig(size=64, two_object_fraction=1.0)
    scene = render_scene(np.random.default_rng(3), "salient", cfg)
    segs = scene_segments(scene)
    objects, background = segs[: len(scene.boxes)], segs[-1]
    assert len(scene.boxes) == 2 and len(segs) == 4  # two objects, both together, background
    assert not (objects[0] & objects[1]).any()
    np.testing.assert_array_equal(objects[0] | objects[1], scene.mask > 127)
    np.testing.assert_array_equal(segs[2], scene.mask > 127)
    np.testing.assert_array_equal(background, ~(scene.mask > 127))


def test_loss_falls_and_the_checkpoint_loads_through_the_factory(saved):
    meta = json.loads((saved / "pretrain.json").read_text())
    assert meta["config"]["steps"] == SMALL.steps and len(meta["losses"]) == SMALL.steps
    assert meta["seconds"] > 0 and meta["heldout"]["scenes"] == 4
    for kind in ("true-box", "whole-frame"):
        assert 0.0 <= meta["heldout"][kind]["IoU"] <= 1.0
    losses = meta["losses"]
    assert np.mean(losses[-10:]) < np.mean(losses[:10])
    seg = build_segmenter(str(saved), cache_bytes=0)
    assert isinstance(seg, Sam2Segmenter) and seg.side == SMALL.image_size
    model = seg.model
    assert not model.training and not any(p.requires_grad for p in model.parameters())
    torch.testing.assert_close(  # one positional encoding for image and prompts, as SAM2's
        model.prompt_encoder.shared_embedding.positional_embedding,
        model.shared_image_embedding.positional_embedding,
    )
    scenes = draw_scenes(4, 0, HELDOUT_STREAM, SynthConfig(size=SMALL.scene_size))
    found = measure_iou(seg, scenes, "true-box", SMALL.side)
    assert found["n"] == sum(s.mask.any() for s in scenes) and 0.0 <= found["IoU"] <= 1.0
    assert len(found["per_scene"]) == found["n"]  # scene order, for paired comparisons
    assert np.mean(found["per_scene"]) == pytest.approx(found["IoU"])


def test_masks_come_through_segment_answers(saved):
    from segr1.protocol.parse import Answer
    from segr1.segment.answers import segment_answers

    seg = build_segmenter(str(saved), cache_bytes=0)
    image = np.random.default_rng(0).integers(0, 256, (SMALL.side, SMALL.side, 3), np.uint8)
    answers = [Answer(boxes=[[4, 4, 30, 30]]), Answer(points=[[10, 10]], labels=[1]), Answer()]
    masks = segment_answers(seg, image, answers, side=SMALL.side)
    assert masks.shape == (3, SMALL.side, SMALL.side) and masks.dtype == bool
    assert not masks[2].any()  # an unusable answer: an empty mask


def test_the_reduced_pretraining_learns_the_box_and_not_the_whole_frame(saved):
    seg = build_segmenter(str(saved), cache_bytes=0)
    untrained, _ = train_sam2(replace(SMALL, steps=0), progress=False)
    scfg = SynthConfig(size=SMALL.scene_size, camo_strength=SMALL.camo_strength)
    scenes = draw_scenes(SMALL.n_scenes, SMALL.seed, TRAIN_STREAM, scfg)  # its training scenes
    before = measure_iou(untrained, scenes, "true-box", SMALL.side)["IoU"]
    after = measure_iou(seg, scenes, "true-box", SMALL.side)["IoU"]
    whole = measure_iou(seg, scenes, "whole-frame", SMALL.side)["IoU"]
    assert after > before + 0.15, (before, after)
    assert whole < after / 2, (whole, after)


def test_the_same_seed_rebuilds_the_same_bytes(saved, tmp_path):
    again = pretrain_sam2(tmp_path / "again", SMALL, progress=False, heldout=0)
    for name in ("model.safetensors", "config.json"):
        assert (again / name).read_bytes() == (saved / name).read_bytes(), name
    first = (again / "model.safetensors").stat().st_mtime_ns
    rebuilt = pretrain_sam2(again, SMALL, progress=False, heldout=0, rebuild=True)
    assert (rebuilt / "model.safetensors").stat().st_mtime_ns != first  # really retrained
    assert (rebuilt / "model.safetensors").read_bytes() == (
        saved / "model.safetensors"
    ).read_bytes()


def test_another_seed_gives_other_weights():
    one, _ = train_sam2(replace(SMALL, steps=2), progress=False)
    other, _ = train_sam2(replace(SMALL, seed=1, steps=2), progress=False)
    name = "mask_decoder.iou_prediction_head.proj_out.weight"
    assert name in one.model.state_dict()
    assert not torch.equal(one.model.state_dict()[name], other.model.state_dict()[name])


def test_the_objects_objective_trains_the_image_encoder_alone():
    from segr1.segment.pretrain import ObjectsHead, batch_inputs, pool_scene

    seg, _ = train_sam2(replace(SMALL, steps=0), progress=False)
    model = seg.model.train().requires_grad_(True)
    scenes = draw_scenes(4, 0, TRAIN_STREAM, SynthConfig(size=SMALL.scene_size))
    grid = SMALL.image_size // SMALL.stride
    pool = [pool_scene(s, SMALL.side, grid) for s in scenes]
    inputs, _, multi, objects = batch_inputs(
        seg, pool, replace(SMALL, objects_weight=1.0), np.random.default_rng(0)
    )
    assert objects.shape == (SMALL.batch_size, 1, grid, grid) and 0 < objects.mean() < 1
    head = ObjectsHead(model)
    out = model(**inputs, multimask_output=multi)
    head.loss(out.image_embeddings, objects).backward()
    grads = {n: p.grad for n, p in model.named_parameters()}
    assert any(g is not None and g.abs().sum() > 0 for n, g in grads.items() if "vision" in n)
    prompt_side = [
        n for n in grads if n.startswith(("prompt_encoder.", "mask_decoder.transformer"))
    ]
    assert prompt_side and all(grads[n] is None for n in prompt_side)  # no prompt, no decoder
    assert all(p.grad is not None for p in head.parameters())


def test_the_objects_head_is_not_saved(saved, tmp_path):
    cfg = replace(SMALL, steps=20, objects_weight=1.0)
    found = pretrain_sam2(tmp_path / "objects", cfg, progress=False, heldout=0)
    plain = build_segmenter(str(saved), cache_bytes=0).model.state_dict()
    with_objects = build_segmenter(str(found), cache_bytes=0).model.state_dict()
    assert with_objects.keys() == plain.keys()
    meta = json.loads((found / "pretrain.json").read_text())
    assert meta["config"]["objects_weight"] == 1.0 and len(meta["losses"]) == 20


def test_sam2s_focal_loss_weighs_the_hard_pixels_and_is_recorded(tmp_path):
    from segr1.segment.pretrain import config_record, seg_loss

    target = torch.zeros(1, 1, 4, 4)
    target[..., :2, :] = 1
    right = (2 * target - 1)[:, :, None] * 4  # every pixel confident and right
    iou_pred = torch.ones(1, 1, 1)
    assert seg_loss(right, target, iou_pred, "focal") < seg_loss(right, target, iou_pred, "bce")
    assert seg_loss(-right, target, iou_pred, "focal") > seg_loss(-right, target, iou_pred, "bce")
    # stand-ins recorded before the option existed keep matching their config: "bce" is left out
    assert "loss" not in config_record(SMALL)
    cfg = replace(SMALL, steps=20, loss="focal")
    found = pretrain_sam2(tmp_path / "focal", cfg, progress=False, heldout=0)
    assert json.loads((found / "pretrain.json").read_text())["config"]["loss"] == "focal"
    assert holds_standin(found, cfg) and not holds_standin(found, replace(cfg, loss="bce"))


def test_the_image_encoder_can_learn_at_its_own_rate():
    from segr1.segment.pretrain import config_record

    start, _ = train_sam2(replace(SMALL, steps=0), progress=False)
    before = {n: p.clone() for n, p in start.model.named_parameters()}

    def largest_moves(scale: float) -> tuple[float, float]:
        # one step, half-way through a 2-step warm-up: Adam moves each weight by about its rate
        cfg = replace(SMALL, steps=1, warmup_steps=2, learning_rate=1e-3, encoder_lr_scale=scale)
        seg, _ = train_sam2(cfg, progress=False)
        moved = {n: (p - before[n]).abs().max().item() for n, p in seg.model.named_parameters()}
        encoder = max(v for n, v in moved.items() if n.startswith("vision_encoder."))
        rest = max(v for n, v in moved.items() if not n.startswith("vision_encoder."))
        return encoder, rest

    encoder, rest = largest_moves(1.0)
    assert encoder == pytest.approx(5e-4, rel=0.05) and rest == pytest.approx(5e-4, rel=0.05)
    encoder, rest = largest_moves(4.0)
    assert encoder == pytest.approx(2e-3, rel=0.05) and rest == pytest.approx(5e-4, rel=0.05)
    # stand-ins recorded before the option existed keep matching their config
    assert "encoder_lr_scale" not in config_record(SMALL)
    assert config_record(replace(SMALL, encoder_lr_scale=4.0))["encoder_lr_scale"] == 4.0


def test_erased_objects_leave_the_scene_and_its_truth_unchanged_elsewhere():
    from segr1.segment.pretrain import objects_erased

    cfg = SynthConfig(size=64, camo_strength=0.0)
    plain = draw_scenes(8, 0, HELDOUT_STREAM, cfg)
    kept = draw_scenes(8, 0, HELDOUT_STREAM, cfg, keep_background=True)
    for a, b in zip(plain, kept, strict=True):  # the same draws: the same scenes
        np.testing.assert_array_equal(a.image, b.image)
        np.testing.assert_array_equal(a.mask, b.mask)
        assert a.background is None and b.background.shape == b.image.shape
    for scene, erased in zip(kept, objects_erased(kept), strict=True):
        np.testing.assert_array_equal(erased.mask, scene.mask)  # the truth stays
        np.testing.assert_array_equal(erased.image, scene.background)
        if scene.mask.any():
            near = cv2.dilate(scene.mask, np.ones((9, 9), np.uint8)) > 0
            diff = np.abs(erased.image.astype(int) - scene.image.astype(int)).sum(-1)
            assert diff[~near].max() == 0 and diff[scene.mask > 127].mean() > 30
    with pytest.raises(ValueError, match="keep_background"):
        objects_erased(plain)


@pytest.mark.parametrize(
    ("change", "field"),
    [({"objects_weight": -1.0}, "objects_weight"), ({"stuff_fraction": 1.5}, "stuff_fraction"),
     ({"background_fraction": 0.8, "stuff_fraction": 0.3}, "background_fraction"),
     ({"camo_low": 0.9}, "camo_low"), ({"batch_size": 0}, "batch_size"),
     ({"learning_rate": 0.0}, "learning_rate"), ({"hidden": 12}, "hidden"), ({"stride": 3}, "stride"),
     ({"loss": "dice"}, "loss"), ({"encoder_lr_scale": 0.0}, "encoder_lr_scale"),
     ({"learning_rate": float("nan")}, "learning_rate"), ({"box_noise": float("nan")}, "box_noise"),
     ({"objects_weight": float("inf")}, "objects_weight"), ({"grad_clip": 0.0}, "grad_clip")],
)  # fmt: skip
def test_a_config_out_of_range_names_its_field(change, field):
    with pytest.raises(ValueError, match=field):
        replace(PretrainConfig(), **change)


def test_a_finished_folder_is_reused(saved, monkeypatch):
    import segr1.segment.pretrain as pretrain

    monkeypatch.setattr(pretrain, "train_sam2", lambda *a, **k: pytest.fail("retrained"))
    assert pretrain_sam2(saved, SMALL, progress=False) == saved


def test_every_prompt_kind_is_measured_the_same_way_for_grabcut():
    scenes = draw_scenes(6, 0, HELDOUT_STREAM, SynthConfig(size=64))
    results = {k: measure_iou(GrabCutSegmenter(), scenes, k, 48) for k in PROMPT_KINDS}
    assert len({r["n"] for r in results.values()}) == 1
    assert results["true-box"]["IoU"] > results["whole-frame"]["IoU"]
    with pytest.raises(ValueError, match="unknown prompt kind"):
        measure_iou(GrabCutSegmenter(), scenes, "nothing", 48)


def test_object_boxes_give_each_of_two_objects_its_own_box():
    from segr1.rewards import gt_mask

    cfg = SynthConfig(size=64, two_object_fraction=1.0)
    two = render_scene(np.random.default_rng(3), "salient", cfg)
    one = render_scene(np.random.default_rng(3), "salient", replace(cfg, two_object_fraction=0.0))
    gt2, gt1 = gt_mask(two.mask, 48), gt_mask(one.mask, 48)
    boxes = object_boxes_answer(two, gt2).boxes
    assert len(boxes) == 2 and len(two.boxes) == 2
    union = measurement_answer(gt2, "true-box", np.random.default_rng(0), 0.0).boxes[0]
    for (x1, y1, x2, y2), (a1, b1, a2, b2) in zip(boxes, two.boxes, strict=True):
        # each object's own box, 64 -> 48 px, inside the box around both (give or take a pixel)
        assert np.allclose([x1, y1, x2, y2], np.array([a1, b1, a2 + 1, b2 + 1]) * 0.75, atol=1)
        assert union[0] - 1 <= x1 < x2 <= union[2] + 1 and union[1] - 1 <= y1 < y2 <= union[3] + 1
    assert boxes != [union, union]
    true_box = measurement_answer(gt1, "true-box", np.random.default_rng(0), 0.0)
    assert object_boxes_answer(one, gt1).boxes == true_box.boxes
    with pytest.raises(ValueError, match="object_boxes_answer"):
        measurement_answer(gt2, "object-boxes", np.random.default_rng(0), 0.0)


def test_a_finer_patch_stride_gives_a_finer_token_grid_and_logits():
    from segr1.segment import tiny_sam2_config

    seg = Sam2Segmenter.from_config(tiny_sam2_config(64, width=4, stride=2), seed=0)
    assert seg.model.prompt_encoder.image_embedding_size == (8, 8)  # 64 / (4 x 2)
    image = np.random.default_rng(0).integers(0, 256, (64, 64, 3), np.uint8)
    from segr1.segment.base import Call

    call = Call(np.array([8, 8, 40, 40], np.float32), np.zeros((0, 2), np.float32),
                np.zeros(0, np.int64))  # fmt: skip
    inputs = seg.prompt_tensors([call], (64, 64))
    with torch.inference_mode():
        out = seg.model(pixel_values=seg.pixel_values([image]), multimask_output=False, **inputs)
    assert out.pred_masks.shape[-2:] == (32, 32)  # logits at 1 / stride
    with pytest.raises(ValueError, match="multiple of 16"):
        tiny_sam2_config(72, stride=2)
    with pytest.raises(ValueError, match="stride"):
        tiny_sam2_config(64, stride=3)


def test_stuff_segments_lie_off_the_objects_and_are_asked_for_at_their_share():
    from segr1.segment.pretrain import choose_segment, pool_scene, stuff_segments

    cfg = SynthConfig(size=64, two_object_fraction=1.0)
    scene = render_scene(np.random.default_rng(3), "camouflage", cfg)
    fg = scene.mask > 127
    stuff = stuff_segments(scene)
    assert 1 <= len(stuff) <= 3
    for m in stuff:
        assert not (m & fg).any() and 0.02 <= m.mean() <= 0.4
    segs = scene_segments(scene, stuff=True)
    assert len(segs) == 3 + len(stuff) + 1  # two objects, both, stuff, background
    ps = pool_scene(scene, 64, 16, stuff=True)
    assert ps.n_objects == 3 and len(ps.targets) == len(segs)
    pcfg = PretrainConfig(stuff_fraction=0.3, background_fraction=0.15)
    rng = np.random.default_rng(0)
    picks = np.array([choose_segment(ps, pcfg, rng) for _ in range(4000)])
    assert abs(np.mean(picks == len(segs) - 1) - 0.15) < 0.03
    assert abs(np.mean((picks >= 3) & (picks < len(segs) - 1)) - 0.3) < 0.03
    # without stuff the choice is the earlier rule, draw for draw: the background with
    # background_fraction, else one of the object segments
    empty = render_scene(np.random.default_rng(4), "empty", cfg)
    plains = [pool_scene(scene, 64, 16), pool_scene(empty, 64, 16)]
    mine, theirs = np.random.default_rng(1), np.random.default_rng(1)
    for i in range(200):
        plain = plains[i % 2]
        n = len(plain.targets)
        earlier = n - 1 if n == 1 or theirs.random() < 0.15 else int(theirs.integers(n - 1))
        assert choose_segment(plain, PretrainConfig(stuff_fraction=0.0), mine) == earlier


def test_iou_per_object_count_splits_the_overall_mean():
    """``by_objects`` groups every scored scene once, by kind and object count, so a box around
    two objects is reported apart from single objects."""
    scenes = draw_scenes(12, 0, HELDOUT_STREAM, SynthConfig(size=64, two_object_fraction=0.5))
    found = measure_iou(GrabCutSegmenter(), scenes, "true-box", 64)
    counts: dict[str, int] = {}
    for s in scenes:
        if s.mask.any():
            key = objects_key(s.kind, len(s.boxes))
            counts[key] = counts.get(key, 0) + 1
    assert set(found["by_objects"]) == set(counts)
    assert any(key.endswith("2 objects") for key in counts), "the draw has a two-object scene"
    total = sum(found["by_objects"][k] * n for k, n in counts.items())
    assert total / sum(counts.values()) == pytest.approx(found["IoU"])


def test_a_file_as_the_output_folder_is_refused_before_training(tmp_path):
    target = tmp_path / "a-file"
    target.write_text("keep me")
    with pytest.raises(NotADirectoryError, match="a-file is a file"):
        pretrain_sam2(target, replace(SMALL, steps=2), progress=False, heldout=0)
    assert target.read_text() == "keep me"


def test_a_folder_of_other_files_is_refused_and_an_interrupted_build_is_resumed(tmp_path):
    from segr1.segment.pretrain import BUILDING

    theirs = tmp_path / "sam2.1-hiera-large"
    theirs.mkdir()
    (theirs / "config.json").write_text('{"model_type": "sam2"}')
    (theirs / "model.safetensors").write_bytes(b"their weights")
    with pytest.raises(FileExistsError, match=r"not a stand-in this command built \(config.json, "
                       r"model.safetensors\): give a new or empty folder"):  # fmt: skip
        pretrain_sam2(theirs, replace(SMALL, steps=2), progress=False, heldout=0, rebuild=True)
    assert (theirs / "model.safetensors").read_bytes() == b"their weights"
    assert sorted(p.name for p in theirs.iterdir()) == ["config.json", "model.safetensors"]
    # a build stopped before its record was written leaves the marker: trained over, then unmarked
    ours = tmp_path / "stopped"
    ours.mkdir()
    (ours / BUILDING).write_text("")
    (ours / "config.json").write_text("{}")
    cfg = replace(SMALL, steps=2)
    assert holds_standin(pretrain_sam2(ours, cfg, progress=False, heldout=0), cfg)
    assert not (ours / BUILDING).exists()
    # an empty folder is fine
    (tmp_path / "empty").mkdir()
    assert holds_standin(pretrain_sam2(tmp_path / "empty", cfg, progress=False, heldout=0), cfg)


def test_a_stand_in_of_another_recipe_is_not_overwritten(saved, tmp_path):
    import shutil

    folder = shutil.copytree(saved, tmp_path / "kept")
    before = (folder / "model.safetensors").read_bytes()
    with pytest.raises(
        FileExistsError, match=r"another recipe \(differs in: steps\): give another"
    ):
        pretrain_sam2(folder, replace(SMALL, steps=SMALL.steps + 1), progress=False, heldout=0)
    assert (folder / "model.safetensors").read_bytes() == before
    assert (folder / "pretrain.json").exists()  # still marked finished
    # asked to, it replaces it; a record that cannot be read marks no finished stand-in
    other = replace(SMALL, steps=2)
    assert holds_standin(pretrain_sam2(folder, other, progress=False, heldout=0, rebuild=True),
                         other)  # fmt: skip
    (folder / "pretrain.json").write_text("{not json")
    assert holds_standin(pretrain_sam2(folder, other, progress=False, heldout=0), other)


def test_the_shipped_models_are_never_trained_over():
    from segr1.demo import FULL, SHIPPED

    folder = SHIPPED / "segmenter"
    before = (folder / "model.safetensors").read_bytes()
    assert pretrain_sam2(folder, FULL.sam2, progress=False) == folder  # reused, as recorded
    for rebuild in (False, True):
        with pytest.raises(PermissionError, match="inside the package's shipped models"):
            pretrain_sam2(folder, replace(FULL.sam2, steps=2), progress=False, rebuild=rebuild)
    assert (folder / "model.safetensors").read_bytes() == before
