"""Refinement episodes (segr1.episode) in inference, evaluation and GRPO training, on the CPU
with tiny policies and test segmenters: the keep rule; a 2-turn episode whose second prompt
holds the first mask's image; the loss mask on token ids (the environment's tokens get none)
and every image of an episode in the forward pass; one embedding per image per step; a
multi-turn GRPO run; an evaluation with --max-turns 2 resumed after an interruption."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from conftest import wide_samples
from interrupting import Interrupt, StopsAfter
from painter import Painter
from segr1.episode import keeps, observation, run_episodes
from segr1.protocol import Answer
from segr1.protocol.templates import REFINE_TEXT
from test_train_support import HIT, MISS, SIDE, answer, one_thread, tiny_config, toy_dataset, warm

__all__ = ["one_thread", "warm"]


# -- the episode itself ----------------------------------------------------------------------
class Scripted:
    """An EpisodePolicy that says the given answers in turn and records what it was shown."""

    def __init__(self, scripts: list[list[str]]) -> None:
        self.scripts, self.turn = scripts, [0] * len(scripts)
        self.shown: list[list[np.ndarray]] = [[] for _ in scripts]

    def answer(self, indices):
        out = []
        for i in indices:
            out.append(self.scripts[i][self.turn[i]])
            self.turn[i] += 1
        return out

    def show(self, index, answer, image):
        self.shown[index].append(image)


def _run(scripts, max_turns):
    from segr1.segment.answers import segment_rows

    seg = Painter(points=False)
    squares = [np.full((SIDE, SIDE, 3), 60 + 40 * i, np.uint8) for i in range(len(scripts))]
    policy = Scripted(scripts)

    def segment(indices, _texts, answers):
        rows = [squares[i] for i in indices]
        return segment_rows(seg, rows, answers, side=SIDE), [None] * len(rows)

    from segr1.protocol.parse import parse_answer

    episodes = run_episodes(
        policy, segment, squares, max_turns=max_turns, parse=parse_answer, side=SIDE
    )
    return episodes, policy, squares


def test_keep_rule_stops_an_episode_and_a_revision_continues_it() -> None:
    hit, miss = answer(HIT), answer(MISS)
    other_think = hit.replace("<think></think>", "<think>same prompts</think>")
    assert other_think != hit and keeps(*(Answer(), Answer()))
    scripts = [
        [miss, hit, hit],  # revises, then keeps
        [hit, other_think, miss],  # keeps at once (think text ignored)
        [miss, "garbage", miss],  # an unparseable answer after a usable one is a revision
    ]
    episodes, policy, squares = _run(scripts, max_turns=3)
    assert [len(e.turns) for e in episodes] == [3, 2, 3]
    assert [e.kept for e in episodes] == [True, True, False]
    assert [e.revised for e in episodes] == [True, False, True]
    assert [len(s) for s in policy.shown] == [2, 1, 2]  # nothing shown after the last answer
    # the first observation is the image with the first answer's mask and prompts drawn on it
    first = episodes[0].turns[0]
    assert first.mask.sum() == 32 * 32  # Painter: MISS's box
    np.testing.assert_array_equal(
        policy.shown[0][0], observation(squares[0], first.mask, first.answer, SIDE)
    )
    assert not np.array_equal(policy.shown[0][0], squares[0])
    once, _, _ = _run([[miss, hit]], max_turns=1)
    assert len(once[0].turns) == 1 and not once[0].revised


# -- inference -------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def refine_pipe(answering_policy_dir):
    from segr1.inference import Pipeline

    return Pipeline.from_pretrained(
        str(answering_policy_dir), segmenter="grabcut", side=96, max_turns=2
    )


def test_two_turn_episode_shows_the_policy_its_first_mask(refine_pipe, synth_root) -> None:
    from segr1.data.registry import load_dataset
    from segr1.imaging import binarize, resize_levels

    samples = load_dataset("synth", synth_root, split="test")[:3]
    seen: list[tuple[list, list[str]]] = []
    generate = refine_pipe._generate

    def spy(images, texts, gen):
        seen.append(([list(i) if isinstance(i, list) else [i] for i in images], list(texts)))
        return generate(images, texts, gen)

    refine_pipe._generate = spy
    try:
        preds = refine_pipe.predict_batch([s.load_image() for s in samples])
    finally:
        del refine_pipe._generate
    assert all(p.turns and p.turns[0].usable for p in preds)  # turn 1: the policy's own answers
    assert all(len(p.turns) == 2 for p in preds)  # a keep can only end an episode at turn 2
    (images1, texts1), (images2, texts2) = seen
    assert all(len(imgs) == 1 for imgs in images1) and REFINE_TEXT.strip() not in texts1[0]
    for k, (imgs, text) in enumerate(zip(images2, texts2, strict=True)):
        assert len(imgs) == 2  # the image, then the observation
        first, shown = np.asarray(imgs[0]), np.asarray(imgs[1])
        assert shown.shape == first.shape and not np.array_equal(shown, first)
        square = refine_pipe.square(samples[k].load_image())
        t1 = preds[k].turns[0]
        mask = binarize(resize_levels(t1.levels, (96, 96)))  # what the policy is shown
        np.testing.assert_array_equal(shown, observation(square, mask, t1.answer, 96))
        assert preds[k].turns[0].completion in text and REFINE_TEXT.strip() in text
        assert text.count("<|image_pad|>") == 2
    record = preds[0].to_dict()
    assert [t["completion"] for t in record["turns"]] == [t.completion for t in preds[0].turns]
    assert preds[0].completion == preds[0].turns[-1].completion


def test_predict_writes_an_overlay_per_turn(answering_policy_dir, synth_root, tmp_path) -> None:
    from typer.testing import CliRunner

    from segr1.cli import app

    images = sorted((synth_root / "Test" / "Image").glob("*"))[:2]
    out = tmp_path / "pred"
    result = CliRunner().invoke(
        app,
        ["predict", *map(str, images), "--model", str(answering_policy_dir), "--out", str(out),
         "--side", "96", "--max-turns", "2"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    for p in images:
        record = json.loads((out / f"{p.stem}.json").read_text())
        assert record["max_turns"] == 2 and len(record["turns"]) >= 1
        for k in range(1, len(record["turns"]) + 1):
            assert (out / f"{p.stem}_turn{k}_overlay.jpg").is_file()


# -- evaluation ------------------------------------------------------------------------------


def test_eval_max_turns_resumed_equals_uninterrupted(refine_pipe, wide_root, tmp_path) -> None:
    from segr1.evaluate import evaluate, read_records

    samples = wide_samples(wide_root)
    full = evaluate(refine_pipe, samples, tmp_path / "full", batch_size=4, progress=False)
    with pytest.raises(Interrupt):
        evaluate(StopsAfter(refine_pipe, 1), samples, tmp_path / "cut", batch_size=4,
                 progress=False)  # fmt: skip
    assert len(read_records(tmp_path / "cut" / "completions.jsonl")) == 4
    resumed = evaluate(refine_pipe, samples, tmp_path / "cut", batch_size=4, progress=False)
    for key in ("metrics", "metrics_turn1", "episodes", "count", "unusable"):
        assert resumed[key] == full[key], key
    assert full["episodes"]["max_turns"] == 2 and full["episodes"]["mean_turns"] > 1
    assert full["metrics_turn1"]["Sm"] > 0.2  # the answering policy's own first answers
    records = read_records(tmp_path / "full" / "completions.jsonl")
    assert all(len(r["turns"]["turns"]) >= 1 for r in records.values())
    for s in samples:
        for d in ("masks", "masks_turn1"):
            a = (tmp_path / "full" / d / f"{s.id}.png").read_bytes()
            assert a == (tmp_path / "cut" / d / f"{s.id}.png").read_bytes()
    report = (tmp_path / "full" / "report.md").read_text()
    assert "first answer's masks" in report and "refinement" in report
    assert json.loads((tmp_path / "full" / "run.json").read_text())["max_turns"] == 2


# -- training --------------------------------------------------------------------------------
def _trainer(tmp_path: Path, policy: Path, segmenter, **overrides):
    from segr1.train.main import build_trainer

    cfg = tiny_config(tmp_path / "run", policy, max_turns=2, **overrides)
    return build_trainer(cfg, segmenter=segmenter, train_dataset=toy_dataset(4))


def test_environment_tokens_get_no_loss_and_every_image_reaches_the_forward_pass(
    tmp_path: Path, warm: Path, one_thread: None
) -> None:
    from segr1.segment.cache import EmbeddingCache

    seg = Painter(points=False)
    seg.cache = EmbeddingCache()
    trainer = _trainer(tmp_path, warm, seg, max_completion_length=40)
    trainer.model.train()
    tok = trainer.processing_class.tokenizer
    row = trainer.train_dataset[0]
    out = trainer._generate_and_score_completions([dict(row) for _ in range(4)])  # G = 4
    assert seg.embeds == 1  # one image: embedded once for both turns of 4 episodes + reward
    ids, cmask, env = out["completion_ids"], out["completion_mask"], out["tool_mask"]
    image_pad = tok.convert_tokens_to_ids("<|image_pad|>")
    two_turns = 0
    for b in range(ids.shape[0]):
        real = cmask[b].bool()
        policy_ids = ids[b][real & env[b].bool()].tolist()
        env_ids = ids[b][real & ~env[b].bool()].tolist()
        assert image_pad not in policy_ids  # the policy never "wrote" an image
        if not env_ids:
            continue
        two_turns += 1
        env_text = tok.decode(env_ids)
        assert REFINE_TEXT in env_text and "<|im_start|>user" in env_text
        assert env_text.endswith("<|im_start|>assistant\n")
        assert env_ids.count(image_pad) == ids[b].tolist().count(image_pad) > 0
        # env tokens sit BETWEEN the two answers: mask 1 ... 0 ... 1
        m = env[b][real].tolist()
        first0, last0 = m.index(0), len(m) - 1 - m[::-1].index(0)
        assert all(m[:first0]) and not any(m[first0 : last0 + 1]) and all(m[last0 + 1 :])
    assert two_turns > 0
    # every episode's images are in the forward inputs: 1 + observations each
    assert out["num_images"] == [1 + int((env[b] == 0).any()) for b in range(ids.shape[0])]
    grid = out["image_grid_thw"]
    assert grid.shape[0] == sum(out["num_images"])
    rows = grid.prod(-1).tolist()
    pix = out["pixel_values"]
    b = next(b for b, n in enumerate(out["num_images"]) if n == 2)
    start = sum(rows[: sum(out["num_images"][:b])])
    first = pix[start : start + rows[0]]
    second = pix[start + rows[0] : start + 2 * rows[0]]
    assert not np.allclose(first.numpy(), second.numpy())  # the observation differs


def test_multi_turn_grpo_run(tmp_path: Path, warm: Path, one_thread: None) -> None:
    from segr1.train.main import train
    from test_train_support import LOGGED, finite_logs

    cfg = tiny_config(tmp_path / "run", warm, max_turns=2, max_steps=2, beta=0.04)
    result = train(cfg, segmenter=Painter(points=False), train_dataset=toy_dataset(4))
    assert result.global_step == 2
    finite_logs(result.log_history, (*LOGGED, "iou_turn1", "iou_gain", "mean_turns"))
    rows = [json.loads(x) for x in (tmp_path / "run" / "rollouts.jsonl").read_text().splitlines()]
    assert len(rows) == 2 * 4
    multi = [r for r in rows if "turns" in r]
    assert multi, "no episode reached a second turn"
    for r in multi:
        assert len(r["turns"]) == len(r["turn_ious"]) >= 2
        assert r["completion"] == r["turns"][-1]["completion"]
        assert r["iou"] == r["turn_ious"][-1]


def test_single_turn_config_builds_the_plain_trainer(tmp_path: Path, warm: Path) -> None:
    from trl import GRPOTrainer

    from segr1.train.main import build_trainer

    cfg = tiny_config(tmp_path / "run", warm)
    trainer = build_trainer(cfg, segmenter=Painter(), train_dataset=toy_dataset(4))
    assert type(trainer) is GRPOTrainer and trainer.rollout_func is None and not trainer.tools


def test_format_reward_needs_every_turn_and_segmentation_scores_the_last() -> None:
    from segr1.rewards import FormatReward, SegmentationReward

    hit, miss = answer(HIT), answer(MISS)
    env = {"role": "user", "content": [{"type": "image"}, {"type": "text", "text": REFINE_TEXT}]}

    def episode(*texts):
        out = []
        for t in texts:
            out += [{"role": "assistant", "content": t}, env]
        return out[:-1]

    completions = [episode(miss, hit), episode("bad", hit), [{"role": "assistant", "content": hit}]]
    assert FormatReward()(completions) == [1.0, 0.0, 1.0]
    image = np.zeros((SIDE, SIDE, 3), np.uint8)
    mask = np.zeros((SIDE, SIDE), np.uint8)
    x1, y1, x2, y2 = HIT
    mask[y1:y2, x1:x2] = 255
    reward = SegmentationReward(Painter(points=False), side=SIDE)
    logged: dict[str, float] = {}
    got = reward(completions=completions, image=[image] * 3, mask=[mask] * 3,
                 log_metric=logged.__setitem__)  # fmt: skip
    assert got[0] == got[2] == pytest.approx(1.0) and got[1] == pytest.approx(1.0)
    assert reward.last[0].turn_ious == pytest.approx((576 / 1472, 1.0))
    assert logged["revised_rate"] == pytest.approx(2 / 3)
