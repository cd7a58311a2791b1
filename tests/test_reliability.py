"""Faults and hostile files: masks in every common encoding read by one rule, huge images named
not crashed on, torn state files redone or refused, normal file permissions, and `segr1 eval`
killed with SIGKILL resuming to the result of an uninterrupted run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from segr1.data.io import ImageReadError, read_image, read_mask, write_mask

BLOB = np.zeros((6, 8), bool)
BLOB[1:4, 2:6] = True  # 12 foreground pixels


def _save(tmp_path: Path, image: Image.Image, name: str = "m.png") -> Path:
    path = tmp_path / name
    image.save(path)
    return path


@pytest.mark.parametrize(
    "make",
    [
        lambda: Image.fromarray(BLOB.astype(np.uint8) * 255),  # 0/255 grey
        lambda: Image.fromarray(BLOB.astype(np.uint8)),  # 0/1 grey
        lambda: Image.fromarray(BLOB),  # bilevel "1"
        lambda: Image.fromarray(BLOB.astype(np.uint16)),  # 0/1 16-bit
        lambda: Image.fromarray(BLOB.astype(np.uint16) * 65535),  # 0/65535 16-bit
        lambda: Image.fromarray(
            np.stack([np.zeros_like(BLOB, np.uint8)] * 3 + [BLOB.astype(np.uint8) * 255], -1),
            "RGBA",
        ),  # alpha-only
        lambda: Image.fromarray(
            np.stack([BLOB.astype(np.uint8) * 255] * 3, -1)
        ),  # white on black RGB
    ],
)
def test_masks_in_common_encodings_read_as_meant(tmp_path, make):
    levels = read_mask(_save(tmp_path, make()))
    assert levels.dtype == np.uint8 and levels.shape == BLOB.shape
    np.testing.assert_array_equal(levels > 128, BLOB)


def test_float_tiff_probabilities_and_palette_indices(tmp_path):
    prob = np.where(BLOB, 0.9, 0.1).astype(np.float32)
    levels = read_mask(_save(tmp_path, Image.fromarray(prob, "F"), "p.tif"))
    np.testing.assert_array_equal(levels, np.rint(prob.astype(np.float64) * 255))  # 229 / 26
    pal = Image.fromarray(BLOB.astype(np.uint8), "P")
    pal.putpalette([0, 0, 0, 200, 30, 30] + [0] * 762)
    np.testing.assert_array_equal(read_mask(_save(tmp_path, pal)) > 128, BLOB)


@settings(max_examples=60, deadline=None)
@given(
    st.sampled_from(["L", "1", "P", "I;16", "I", "F", "LA", "RGBA", "RGB"]),
    st.integers(1, 12),
    st.integers(1, 12),
    st.integers(0, 2**32 - 1),
)
def test_reading_any_mask_gives_uint8_levels(tmp_path_factory, mode, h, w, seed):
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 256, (h, w, 4)).astype(np.uint8)
    if mode == "F":
        image = Image.fromarray(rng.normal(0, 300, (h, w)).astype(np.float32), "F")
    elif mode in ("I;16", "I"):
        image = Image.fromarray(rng.integers(0, 65536, (h, w)).astype(np.uint16)).convert(mode)
    else:
        image = Image.fromarray(base, "RGBA").convert(mode)
    suffix = ".tif" if mode in ("F", "I") else ".png"
    path = _save(tmp_path_factory.mktemp("fuzz"), image, f"m{suffix}")
    levels = read_mask(path)
    assert levels.dtype == np.uint8 and levels.shape == (h, w)


def test_a_huge_image_is_named_not_a_crash(tmp_path, monkeypatch):
    path = _save(tmp_path, Image.new("L", (300, 300)), "big.png")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 10_000)  # 2x this is refused
    with pytest.raises(ImageReadError, match=r"big\.png: too large.*SEGR1_MAX_IMAGE_PIXELS"):
        read_image(path)


def test_written_files_get_normal_permissions(tmp_path):
    umask = os.umask(0o022)
    try:
        path = write_mask(tmp_path / "m.png", BLOB)
    finally:
        os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o644


def test_torn_trainer_state_is_not_a_checkpoint(tmp_path):
    from segr1.train.checkpoints import latest_checkpoint

    for step, state in ((10, {"global_step": 10}), (20, None)):
        ckpt = tmp_path / f"checkpoint-{step}"
        ckpt.mkdir()
        text = json.dumps(state) if state else '{"global_step": 2'  # cut mid-write
        (ckpt / "trainer_state.json").write_text(text)
    assert latest_checkpoint(tmp_path) == tmp_path / "checkpoint-10"


def test_a_torn_run_manifest_is_refused_and_force_new_starts_over(tmp_path):
    from segr1.evaluate import check_run

    (tmp_path / "run.json").write_text('{"model": ')
    with pytest.raises(ValueError, match=r"run\.json: unreadable"):
        check_run(tmp_path, {"model": "m"})
    (tmp_path / "masks").mkdir()
    (tmp_path / "masks" / "keep.png").write_bytes(b"")  # not named by any completion: kept
    check_run(tmp_path, {"model": "m"}, force_new=True)
    assert json.loads((tmp_path / "run.json").read_text()) == {"model": "m"}
    assert (tmp_path / "masks" / "keep.png").exists()


def _eval(policy: Path, data: Path, out: Path) -> subprocess.Popen:
    cmd = [
        sys.executable,
        "-m",
        "segr1.cli",
        "eval",
        "--model",
        str(policy),
        "--dataset",
        "synth",
        "--root",
        str(data),
        "--out",
        str(out),
        "--side",
        "96",
        "--batch-size",
        "2",
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # fmt: skip


def _kill_after(proc: subprocess.Popen, log: Path, lines: int, timeout: float = 300) -> None:
    """SIGKILL ``proc`` once ``log`` holds ``lines`` completion records."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if log.exists() and log.read_text().count("\n") >= lines:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            return
        if proc.poll() is not None:
            raise AssertionError(f"eval ended before the kill: {proc.stderr.read().decode()}")
        time.sleep(0.05)
    proc.kill()
    raise AssertionError("eval wrote nothing in time")


def test_eval_killed_with_sigkill_resumes_to_the_uninterrupted_result(
    answering_policy_dir, synth_root, tmp_path
):
    full, killed = tmp_path / "full", tmp_path / "killed"
    assert _eval(answering_policy_dir, synth_root, full).wait() == 0
    proc = _eval(answering_policy_dir, synth_root, killed)
    _kill_after(proc, killed / "completions.jsonl", lines=4)
    assert _eval(answering_policy_dir, synth_root, killed).wait() == 0
    a = json.loads((full / "metrics.json").read_text())
    b = json.loads((killed / "metrics.json").read_text())
    assert a["metrics"] == b["metrics"] and b["count"] == 10 and b["unusable"] == 0
    for mask in sorted((full / "masks").glob("*.png")):
        np.testing.assert_array_equal(read_mask(mask), read_mask(killed / "masks" / mask.name))
    assert any(read_mask(m).any() for m in (killed / "masks").glob("*.png"))  # real masks


@pytest.mark.slow
def test_eval_killed_at_random_points_resumes_to_the_uninterrupted_result(
    answering_policy_dir, synth_root, tmp_path
):
    full, killed = tmp_path / "full", tmp_path / "killed"
    assert _eval(answering_policy_dir, synth_root, full).wait() == 0
    rng = np.random.default_rng(0)
    done = 0
    for _ in range(3):  # each kill lands at a random later record (1..9 of 10)
        if done >= 9:
            break
        done = int(rng.integers(done + 1, 10))
        _kill_after(
            _eval(answering_policy_dir, synth_root, killed), killed / "completions.jsonl", done
        )
    assert _eval(answering_policy_dir, synth_root, killed).wait() == 0
    a = json.loads((full / "metrics.json").read_text())
    b = json.loads((killed / "metrics.json").read_text())
    assert a["metrics"] == b["metrics"] and b["count"] == 10
    for mask in sorted((full / "masks").glob("*.png")):
        np.testing.assert_array_equal(read_mask(mask), read_mask(killed / "masks" / mask.name))
