"""The demo's shipped stand-ins: what is shipped matches its recorded recipe and loads, a demo
config uses a shipped model only when its recipe is the recorded one, and a reduced rebuild
gives the same bytes (what `segr1 demo --rebuild` checks at full size)."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace

import pytest

from segr1 import demo
from segr1.demo import FULL, POLICY_RECORD, QUICK, SHIPPED, WEIGHTS, sha256, shipped_models
from segr1.segment.pretrain import META, holds_standin

LIMIT = 10 * 2**20  # the limit per shipped model


def _size(folder) -> int:
    return sum(p.stat().st_size for p in folder.iterdir())


def test_shipped_models_match_their_records_and_load():
    found = shipped_models(FULL)
    assert set(found) == {"segmenter", "policy"}, "the full demo must find both shipped models"
    for folder in found.values():
        assert _size(folder) <= LIMIT, folder
    assert holds_standin(SHIPPED / "segmenter", FULL.sam2)  # its record is FULL.sam2's
    policy_record = json.loads((SHIPPED / "policy" / POLICY_RECORD).read_text())
    assert policy_record["sha256"] == sha256(SHIPPED / "policy" / WEIGHTS)
    assert policy_record["recipe"]["warmup"]["seed"] == FULL.pretrain_seed

    from segr1.policy import load_policy
    from segr1.segment import build_segmenter

    assert build_segmenter(str(found["segmenter"])) is not None
    model, _ = load_policy(str(found["policy"]), device="cpu", dtype="float32")
    assert model.config.model_type.startswith(FULL.arch)


def test_other_recipes_and_rebuild_do_not_use_the_shipped_models():
    assert shipped_models(QUICK) == {}
    assert shipped_models(replace(FULL, rebuild=True)) == {}
    assert shipped_models(replace(FULL, pretrain_seed=1)) == {}
    # the benchmark seed alone does not change the stand-ins
    assert set(shipped_models(replace(FULL, seed=2))) == {"segmenter", "policy"}
    only_policy = shipped_models(replace(FULL, sam2_steps=FULL.sam2_steps + 1))
    assert set(only_policy) == {"policy"}
    # tight warm-up targets (the contrast in docs/demo.md) are another policy, same segmenter
    only_segmenter = shipped_models(replace(FULL, warmup_box_scale=1.0))
    assert set(only_segmenter) == {"segmenter"}


def _build(cfg, out, train):
    seg = demo.build_frozen_segmenter(cfg, out)
    warm = demo.stand_in_policy(cfg, out, train)
    return {"segmenter": demo.Path(seg), "policy": warm}


@pytest.mark.timeout(600)
def test_a_reduced_rebuild_is_byte_identical(tmp_path):
    from segr1.data.registry import load_dataset

    cfg = replace(QUICK, rebuild=True)
    demo.build_data(cfg, tmp_path / "data")
    train = load_dataset("synth", tmp_path / "data", split="train")
    first = _build(cfg, tmp_path / "a", train)
    # ship the first build (as the maintainers ship the full one) ...
    root = tmp_path / "shipped"
    shutil.copytree(first["segmenter"], root / "segmenter")
    shutil.copytree(first["policy"], root / "policy")
    assert set(shipped_models(replace(cfg, rebuild=False), root)) == {"segmenter", "policy"}
    # ... and rebuild it from nothing in another folder
    second = _build(cfg, tmp_path / "b", train)
    result = demo.compare_with_shipped(cfg, tmp_path / "b", second, root)
    assert result["segmenter"]["identical"] and result["policy"]["identical"]
    assert json.loads((tmp_path / "b" / "rebuild.json").read_text()) == result
    # a changed byte is caught
    weights = root / "policy" / WEIGHTS
    data = bytearray(weights.read_bytes())
    data[-1] ^= 1
    weights.write_bytes(bytes(data))
    result = demo.compare_with_shipped(cfg, tmp_path / "b", second, root)
    assert result["segmenter"]["identical"] and not result["policy"]["identical"]
    # each build records the kernels its bytes came from, and a difference names them
    from segr1.machine import machine_record

    here = json.loads(json.dumps(machine_record()))
    assert result["policy"]["machine"] == result["policy"]["shipped_machine"] == here
    assert json.loads((root / "segmenter" / META).read_text())["machine"] == here
    assert demo._machines(result["policy"]).startswith("both built on ")  # not the kernels
    other = {"machine": here, "shipped_machine": {**here, "cpu_capability": "AVX2"}}
    assert f"{here['cpu_capability']} kernels" in demo._machines(other)
    assert "the shipped one on a machine not recorded" in demo._machines({"machine": here})
    assert "not recorded" in demo._machines({"machine": "torn", "shipped_machine": None})


def test_the_shipped_segmenter_pays_for_the_object_s_position():
    """The property RL needs: the true box pays; a whole-frame box, the same box mirrored away
    from the object and the near-constant central answer GRPO found with the first stand-in do
    not (full measurement: docs/sam2_standin_measured.md)."""
    from segr1.segment import build_segmenter
    from segr1.segment.pretrain import heldout_scenes, measure_iou

    cfg = FULL.sam2
    seg = build_segmenter(str(shipped_models(FULL)["segmenter"]))
    scenes = heldout_scenes(cfg, 60)
    iou = {k: measure_iou(seg, scenes, k, cfg.side)["IoU"]
           for k in ("true-box", "whole-frame", "mirrored-box", "central-answer")}  # fmt: skip
    assert iou["true-box"] > 0.6, iou
    assert iou["whole-frame"] < 0.15 and iou["mirrored-box"] < iou["true-box"] / 3, iou
    assert iou["central-answer"] < iou["true-box"] - 0.15, iou


def test_the_warm_up_reads_the_pretrain_seed_s_data(tmp_path):
    from segr1.data.registry import load_dataset

    cfg = replace(QUICK, seed=0)
    demo.build_data(cfg, tmp_path / "data")
    train = load_dataset("synth", tmp_path / "data", split="train")
    assert demo.pretrain_split(cfg, tmp_path, train) is train  # same seed: the demo's own split
    other = demo.pretrain_split(replace(cfg, pretrain_seed=1), tmp_path, train)
    meta = json.loads((tmp_path / "pretrain_data" / "meta.json").read_text())
    assert meta["seed"] == 1 and len(other) == len(train)
    first = [s.load_image() for s in (train[0], other[0])]
    assert not (first[0].shape == first[1].shape and (first[0] == first[1]).all())


def test_a_demo_folder_holding_another_stand_in_is_refused_not_trained_over(tmp_path):
    held = shutil.copytree(SHIPPED / "segmenter", tmp_path / "segmenter")
    before = sha256(held / WEIGHTS)
    with pytest.raises(ValueError, match=r"another recipe .*: delete .*segmenter or give"):
        demo.build_frozen_segmenter(QUICK, tmp_path)
    assert sha256(held / WEIGHTS) == before
