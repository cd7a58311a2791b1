"""``segr1 demo``: the whole Seg-R1 loop, offline, on a CPU, in minutes.

1. a synthetic camouflage benchmark (train + held-out test) in the COD10K folder layout;
2. the frozen segmenter: by default a small SAM2 (transformers ``Sam2Model``) trained by
   :mod:`segr1.segment.pretrain`, supervised, on other synthetic scenes - the stand-in for
   SAM2's own pretraining (shipped, see below); ``segmenter="grabcut"`` keeps the weights-free
   GrabCut;
3. the tiny policy, built from a config with random weights and an offline tokenizer, and a
   supervised warm-up on noisy answers (the stand-in for an LMM's pretraining, which gives a
   real LMM its grounding; see :mod:`segr1.policy.warmup`; shipped, see below);
4. evaluation of the warmed-up policy on the test split (before RL);
5. GRPO with the tiny recipe: pure RL from mask quality (format + IoU/S-measure reward);
6. evaluation after RL, and a report folder: ``report.md`` (mask table, grounding table, paired
   intervals, reward-hack flags, commands), ``curves.png`` (reward and parse rate over steps),
   ``grid.png`` (test images, ground truth, masks, boxes and points before vs after).

Every stage writes into ``out`` and is reused when its output is complete, so an interrupted
demo continues where it stopped. Nothing is pre-recorded: every number in the report is
measured by this run.

The two pretraining stand-ins (the SAM2 stand-in and the warmed-up policy) are the slow stages;
the ones the full demo uses are shipped in ``segr1/assets/demo`` (each a few MB), built by this
module from ``pretrain_seed`` and recorded with their recipe (``pretrain.json`` /
``warmup.json``). A run whose recipe equals a shipped model's record uses that model; any other
recipe (``--quick``, changed sizes, another ``pretrain_seed``) builds its own into ``out``, as
does ``rebuild=True`` (``segr1 demo --rebuild``), which then compares the rebuilt files with the
shipped ones byte for byte (``out/rebuild.json``). ``seed`` draws the benchmark data and seeds
GRPO; the stand-ins, like downloaded checkpoints, stay the same across seeds.
"""

from __future__ import annotations

import hashlib
import json
import shlex
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from segr1.outdirs import read_record, refuse_foreign, write_atomic
from segr1.policy.warmup import WarmupConfig

TABLE_KEYS = (("Sm", "S-measure ↑"), ("meanEm", "mean E ↑"), ("wFm", "weighted F ↑"),
              ("MAE", "MAE ↓"), ("IoU", "IoU ↑"))  # fmt: skip


SEGMENTERS = ("sam2", "grabcut")


@dataclass(frozen=True)
class DemoConfig:
    """Sizes of one demo run (``full`` and ``quick`` presets below)."""

    out: str = "demo_out"
    seed: int = 0  # the benchmark data and GRPO
    pretrain_seed: int = 0  # the stand-ins: SAM2 stand-in, policy init, warm-up and its data
    rebuild: bool = False  # build the stand-ins here even when shipped ones match the recipe
    segmenter: str = "sam2"  # the self-trained SAM2 stand-in (segment.pretrain), or "grabcut"
    #: The tiny policy's architecture: Qwen3-VL, whose vision tower has learned absolute position
    #: embeddings (Qwen2.5-VL's is rotary only and never localised in any warm-up measured).
    arch: str = "qwen3_vl"
    n_train: int = 2000
    n_test: int = 120
    image_size: int = 128  # synthetic scene side, pixels
    side: int = 100  # S: the square the policy sees; answers are written in it
    warmup_steps: int = 1500
    warmup_batch_size: int = 16
    warmup_lr: float = 1e-3
    vision_steps: int = 1000  # dense vision-tower pretraining before the answer steps
    box_weight: float = 2.0  # dense objectives during the answer steps (policy.warmup)
    objectness_weight: float = 0.5
    #: the warm-up's target boxes, each side this many times the object's (policy.warmup
    #: box_scale): a policy that places its boxes on the objects but loosely, the room RL
    #: sharpens (docs/demo.md: with tight targets RL had nothing to take)
    warmup_box_scale: float = 1.3
    #: one target box per object (policy.warmup per_object): on a two-object scene the policy
    #: learns the protocol's several-box answer instead of one box around both (measured in
    #: docs/demo.md; not the default: RL's gain cleared zero in one seed of three)
    warmup_per_object: bool = False
    grpo_steps: int = 60
    grpo_lr: float = 5e-5
    temperature: float = 0.7  # rollout sampling temperature (released: 1.0; see docs/demo.md)
    num_generations: int = 8
    prompts_per_step: int = 8  # GRPO groups per step: prompts_per_step x num_generations rollouts
    max_completion_length: int = 64  # a two-box answer needs more: PER_OBJECT_COMPLETION
    eval_batch_size: int = 16
    threads: int = 1  # torch intra-op threads: tiny models run faster on one
    grid_images: int = 6

    sam2_steps: int = 10000  # training steps of the SAM2 stand-in (segmenter="sam2")
    sam2_width: int = 16  # its image encoder's width (parameters grow as its square)
    sam2_hidden: int | None = 128  # its prompt encoder / mask decoder width (None: 4 x width)
    sam2_lr: float = 5e-4  # its peak learning rate (a wider decoder needs a lower one)
    sam2_scenes: int = 4000  # its pool of generated training scenes
    sam2_stride: int = 2  # its patch stride (image embedding: 96 / (4 x stride) tokens a side)
    sam2_stuff_fraction: float = 0.3  # its prompts asking for a background texture region
    sam2_two_object_fraction: float = 0.9  # its training scenes with two objects

    def __post_init__(self) -> None:
        # checked before a run writes anything, so a refused value leaves no folder behind
        for name in ("seed", "pretrain_seed"):
            if getattr(self, name) < 0:
                raise ValueError(f"DemoConfig.{name} must be >= 0, got {getattr(self, name)}")
        if not isinstance(self.out, str) or not self.out.strip():
            raise ValueError(f"the run's folder (--out, DemoConfig.out) must be a non-empty "
                             f"string, got {self.out!r}")  # fmt: skip
        if self.segmenter not in SEGMENTERS:
            raise ValueError(f"--segmenter {self.segmenter!r}: choose one of "
                             f"{', '.join(SEGMENTERS)}")  # fmt: skip

    @property
    def warmup(self) -> WarmupConfig:
        return WarmupConfig(steps=self.warmup_steps, side=self.side, seed=self.pretrain_seed,
                            batch_size=self.warmup_batch_size, learning_rate=self.warmup_lr,
                            vision_steps=self.vision_steps, box_weight=self.box_weight,
                            objectness_weight=self.objectness_weight,
                            box_scale=self.warmup_box_scale,
                            per_object=self.warmup_per_object,
                            box_reads=self.warmup_box_reads)  # fmt: skip

    @property
    def warmup_box_reads(self) -> str:
        """Where the warm-up's box objective reads (policy.warmup box_reads): the per-object
        recipe reads the answer; the one-box recipe keeps "first", the image-blind reading the
        shipped policy was trained with, in every build (so it rebuilds bit for bit where it
        was built, and other seeds and sizes stay comparable with it)."""
        return "answer" if self.warmup_per_object else "first"

    @property
    def sam2(self):  # -> segr1.segment.pretrain.PretrainConfig
        """The SAM2 stand-in's training configuration, on the demo's scene size and square."""
        from segr1.segment.pretrain import PretrainConfig

        return PretrainConfig(steps=self.sam2_steps, n_scenes=self.sam2_scenes, side=self.side,
                              scene_size=self.image_size, seed=self.pretrain_seed,
                              width=self.sam2_width, stride=self.sam2_stride,
                              stuff_fraction=self.sam2_stuff_fraction,
                              two_object_fraction=self.sam2_two_object_fraction,
                              hidden=self.sam2_hidden, learning_rate=self.sam2_lr)  # fmt: skip

    @property
    def policy_recipe(self) -> dict[str, Any]:
        """What the warmed-up policy is a function of (recorded in its ``warmup.json``)."""
        return {"arch": self.arch, "init_seed": self.pretrain_seed,
                "data": {"seed": self.pretrain_seed, "n_train": self.n_train,
                         "image_size": self.image_size},
                "warmup": asdict(self.warmup)}  # fmt: skip


FULL = DemoConfig()
#: The demo's policy settings before the grounding warm-up (tiny Qwen2.5-VL, answer steps
#: of batch 8 at 2e-3 on tight target boxes, no dense objectives, GRPO at 2e-4; those
#: benchmarks set their GRPO groups per step themselves): benchmarks measured with it pin
#: them, so their documented commands still give their documented tables.
MEASURED_POLICY = {"arch": "qwen2_5_vl", "warmup_batch_size": 8,
                   "warmup_lr": 2e-3, "vision_steps": 0, "box_weight": 0.0,
                   "objectness_weight": 0.0, "grpo_lr": 2e-4,
                   "warmup_box_scale": 1.0, "warmup_per_object": False,
                   "max_completion_length": 64}  # fmt: skip
#: The SAM2 stand-in those benchmarks used (1,500 steps on 2,000 scenes, stride 4, objects and
#: background only).
MEASURED_SEGMENTER = {"sam2_width": 8, "sam2_steps": 1500, "sam2_scenes": 2000,
                      "sam2_stride": 4,
                      "sam2_stuff_fraction": 0.0, "sam2_two_object_fraction": 0.2,
                      "sam2_hidden": None, "sam2_lr": 3e-3}  # fmt: skip
QUICK = replace(FULL, n_train=16, n_test=6, image_size=64, warmup_steps=10, grpo_steps=3,
                vision_steps=5, warmup_batch_size=8,
                num_generations=4, prompts_per_step=1, max_completion_length=48,
                grid_images=3, sam2_steps=20, sam2_scenes=16)  # fmt: skip


#: Settings that do not change what a stage computes (a re-run may change them freely).
NOT_STAGE_SETTINGS = ("out", "threads", "grid_images", "eval_batch_size")


def check_same_run(cfg: DemoConfig, path: Path) -> None:
    """Refuse to continue a run folder made with other settings: every stage is reused by
    folder, so mixing settings would report one run's numbers as another's."""
    if not path.exists():
        return
    before = read_record(path)
    if before is None:
        raise ValueError(f"{path} is not a demo run's record (unreadable JSON): use another "
                         "--out, or delete that folder to start over")  # fmt: skip
    now = asdict(cfg)
    differ = sorted(k for k in set(now) | set(before)
                    if k not in NOT_STAGE_SETTINGS and before.get(k) != now.get(k))  # fmt: skip
    if differ:
        raise ValueError(
            f"{path.parent} holds a demo run made with other settings ({', '.join(differ)}); "
            "use another --out, or delete that folder to start over"
        )


def _stage(name: str) -> None:
    print(f"\n== {name}", flush=True)


def build_data(cfg: DemoConfig, root: Path, empty_fraction: float | None = None) -> None:
    """The synthetic set (``empty_fraction``: share of empty scenes; None: the generator's
    default), reused when ``root`` holds one of the same seed, size and empty share."""
    from segr1.data.synth import generate
    from segr1.data.synth_scene import SynthConfig

    synth = SynthConfig(size=cfg.image_size)
    if empty_fraction is not None:
        synth = replace(synth, empty_fraction=empty_fraction)
    meta = root / "meta.json"
    if meta.exists():
        m = json.loads(meta.read_text())
        made = m.get("config", {})
        if (m.get("seed"), made.get("size"), made.get("empty_fraction")) == (
            cfg.seed, cfg.image_size, synth.empty_fraction):  # fmt: skip
            print(f"reusing {root}")
            return
    generate(root, cfg.n_train, cfg.n_test, seed=cfg.seed, config=synth, overwrite=True)


#: ``--warmup-boxes``: the settings each value sets (a two-box answer is about 70 tokens)
PER_OBJECT_COMPLETION = 96
WARMUP_BOXES = {
    "one": {"warmup_per_object": False},
    "per-object": {"warmup_per_object": True, "max_completion_length": PER_OBJECT_COMPLETION},
}  # fmt: skip


#: The shipped stand-ins (``segmenter``: SAM2 stand-in, ``policy``: warmed-up tiny policy).
SHIPPED = Path(__file__).resolve().parent / "assets" / "demo"
POLICY_RECORD = "warmup.json"
#: The RL stage's recipe, shipped in the package (the repository's configs/ links to it)
GRPO_CONFIG = Path(__file__).resolve().parent / "configs" / "tiny.yaml"
#: A run folder's wall time: seconds summed over the ``segr1 demo`` calls that finished in it
TIMING = "demo_time.json"
WEIGHTS = "model.safetensors"


def _recorded(path: Path, key: str) -> Any:
    return (read_record(path) or {}).get(key)


def shipped_models(cfg: DemoConfig, root: Path = SHIPPED) -> dict[str, Path]:
    """The shipped stand-ins ``cfg`` may use instead of building them: ``{"segmenter": dir,
    "policy": dir}`` for each whose recorded recipe equals ``cfg``'s (none with ``rebuild``)."""
    if cfg.rebuild:
        return {}
    from segr1.segment.pretrain import holds_standin

    found = {}
    if holds_standin(root / "segmenter", cfg.sam2):
        found["segmenter"] = root / "segmenter"
    recipe = json.loads(json.dumps(cfg.policy_recipe))  # as the record holds it (lists, not tuples)
    if _recorded(root / "policy" / POLICY_RECORD, "recipe") == recipe:
        found["policy"] = root / "policy"
    return {k: v for k, v in found.items() if (v / WEIGHTS).exists()}


def sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def build_frozen_segmenter(cfg: DemoConfig, out: Path) -> str:
    """The segmenter name every later stage loads: ``grabcut``, the shipped SAM2 stand-in when
    its recipe is ``cfg.sam2``'s, or the folder of the stand-in this stage trains (reused when
    it holds one of the same configuration)."""
    if cfg.segmenter == "grabcut":
        return "grabcut"
    shipped = shipped_models(cfg).get("segmenter")
    if shipped is not None:
        print(f"using the shipped SAM2 stand-in {shipped} (segr1 demo --rebuild builds it here)")
        return str(shipped)
    from segr1.segment.pretrain import OtherRecipe, pretrain_sam2

    try:
        return str(pretrain_sam2(out / "segmenter", cfg.sam2))
    except OtherRecipe as err:  # never trained over
        raise ValueError(err.message(f"delete {err.folder} or give another --out")) from None
    except FileExistsError as err:  # files that are no stand-in's: never trained over either
        raise ValueError(f"{err}; here: delete {out / 'segmenter'} or give another --out") from None


def build_policy(
    cfg: DemoConfig,
    out: Path,
    train,
    warm: WarmupConfig | None = None,
    name: str = "warmup",
    sizes: dict[str, int] | None = None,
) -> Path:
    """The tiny policy (``out/policy/base``, seeded by ``pretrain_seed``; ``sizes``: overrides
    of :func:`~segr1.policy.build_tiny_policy`'s sizes) warmed up on ``train`` with ``warm``
    (default ``cfg.warmup``) into ``out/policy/<name>``, with a ``warmup.json`` record (recipe,
    seconds, weights' sha256) written last; each is reused when complete."""
    from segr1.machine import machine_record
    from segr1.policy import build_tiny_policy
    from segr1.policy.warmup import warmup

    base, done = out / "policy" / "base", out / "policy" / name
    if not (base / "config.json").exists():
        build_tiny_policy(base, arch=cfg.arch, seed=cfg.pretrain_seed, **(sizes or {}))
    if (done / POLICY_RECORD).exists():
        print(f"reusing policy {done}")
    else:
        t0 = time.perf_counter()
        warmup(base, train, done, warm or cfg.warmup)
        recipe = cfg.policy_recipe
        if warm is not None:
            recipe["warmup"] = asdict(warm)
        if sizes:
            recipe["sizes"] = dict(sizes)
        record = {"what": "segr1.demo: tiny policy + supervised warm-up (stand-in for an LMM's "
                          "pretraining)", "recipe": recipe,
                  "seconds": round(time.perf_counter() - t0, 2), "torch_threads": cfg.threads,
                  "machine": machine_record(), "sha256": sha256(done / WEIGHTS)}  # fmt: skip
        (done / POLICY_RECORD).write_text(json.dumps(record, indent=1) + "\n")
    return done


def pretrain_split(cfg: DemoConfig, out: Path, train):
    """The training split the warm-up reads: the demo's own when ``seed == pretrain_seed``,
    else the ``pretrain_seed`` data (built in ``out/pretrain_data``)."""
    if cfg.seed == cfg.pretrain_seed:
        return train
    from segr1.data.registry import load_dataset

    root = out / "pretrain_data"
    build_data(replace(cfg, seed=cfg.pretrain_seed), root)
    return load_dataset("synth", root, split="train")


def stand_in_policy(cfg: DemoConfig, out: Path, train) -> Path:
    """The warmed-up policy: the shipped one when its recipe is ``cfg``'s, else built here."""
    shipped = shipped_models(cfg).get("policy")
    if shipped is not None:
        print(f"using the shipped warmed-up policy {shipped} (segr1 demo --rebuild builds it here)")
        return shipped
    return build_policy(cfg, out, pretrain_split(cfg, out, train))


def compare_with_shipped(
    cfg: DemoConfig, out: Path, built: dict[str, Path], root: Path = SHIPPED
) -> dict[str, Any]:
    """After ``--rebuild``: each rebuilt model's weights against the shipped model of the same
    recipe (``identical``: same bytes, with the machine each was built on where its record
    says), written to ``out/rebuild.json`` and returned."""
    from segr1.segment.pretrain import META

    records = {"segmenter": META, "policy": POLICY_RECORD}
    shipped = shipped_models(replace(cfg, rebuild=False), root)
    result: dict[str, Any] = {}
    for name, folder in built.items():
        ref = shipped.get(name)
        mine = sha256(Path(folder) / WEIGHTS)
        row: dict[str, Any] = {"rebuilt": str(folder), "sha256": mine}
        if ref is None:
            row["shipped"] = None  # no shipped model has this recipe
        else:
            theirs = sha256(ref / WEIGHTS)
            row.update(shipped=str(ref), shipped_sha256=theirs, identical=mine == theirs,
                       machine=_recorded(Path(folder) / records[name], "machine"),
                       shipped_machine=_recorded(ref / records[name], "machine"))  # fmt: skip
        result[name] = row
        verdict = ("no shipped model of this recipe" if ref is None else
                   "identical to the shipped one" if row["identical"] else
                   "DIFFERS from the shipped one: " + _machines(row))  # fmt: skip
        print(f"rebuilt {name}: {verdict}")
    (out / "rebuild.json").write_text(json.dumps(result, indent=1) + "\n")
    return result


def _machines(row: dict[str, Any]) -> str:
    """Why a rebuild can differ: the two builds' machines, as their records say."""

    def said(m: Any) -> str:
        if not isinstance(m, dict):
            return "a machine not recorded"
        env = ", ".join(f"{k}={v}" for k, v in (m.get("isa_env") or {}).items())
        return (f"{m.get('cpu')}, {m.get('cpu_capability')} kernels, torch {m.get('torch')}"
                + (f", {env}" if env else ""))  # fmt: skip

    mine, theirs = row.get("machine"), row.get("shipped_machine")
    if isinstance(mine, dict) and mine == theirs:
        return (f"both built on {said(mine)}: not the kernels, so the code, the recipe's "
                "inputs or the shipped file changed")  # fmt: skip
    return (
        f"built here on {said(mine)}, the shipped one on {said(theirs)} (the bytes follow "
        "the CPU kernels and the torch version; docs/demo.md)"
    )


def evaluate_policy(
    cfg: DemoConfig, model: Path, test, out: Path, segmenter, **pipeline: Any
) -> dict[str, Any]:
    """Greedy evaluation on ``test``; ``pipeline``: more :class:`segr1.inference.Pipeline`
    arguments (``answer_format``, ``abstain``)."""
    from segr1.evaluate import evaluate
    from segr1.inference import Pipeline

    pipe = Pipeline(*_load(model), segmenter, side=cfg.side,
                    max_new_tokens=cfg.max_completion_length, stage="train", **pipeline)  # fmt: skip
    return evaluate(pipe, test, out, dataset="synth-test", model=str(model),
                    segmenter=segmenter_label(cfg), batch_size=cfg.eval_batch_size)  # fmt: skip


def _load(model: Path):
    from segr1.policy import load_policy

    return load_policy(str(model), device="cpu", dtype="auto")


def segmenter_label(cfg: DemoConfig) -> str:
    if cfg.segmenter == "grabcut":
        return "GrabCut (OpenCV, weights-free)"
    return "tiny SAM2 trained by segr1 (stand-in for SAM2's pretraining)"


def grpo_args(cfg: DemoConfig, policy: Path, data: Path, out: Path, segmenter: str) -> list[str]:
    """``segr1 train`` arguments for the RL stage (printed in the report as the command)."""
    return [
        "--config", str(GRPO_CONFIG),
        "--policy", str(policy),
        "--segmenter", str(segmenter),
        "--datasets", f"synth:{data}:train",
        "--output_dir", str(out),
        "--image_side", str(cfg.side),
        "--max_steps", str(cfg.grpo_steps),
        "--learning_rate", str(cfg.grpo_lr),
        "--temperature", str(cfg.temperature),
        "--num_generations", str(cfg.num_generations),
        "--per_device_train_batch_size", str(cfg.num_generations * cfg.prompts_per_step),
        "--max_completion_length", str(cfg.max_completion_length),
        "--seed", str(cfg.seed),
        "--report_to", "none",
    ]  # fmt: skip


def run_grpo(
    cfg: DemoConfig, policy: Path, data: Path, out: Path, segmenter: str
) -> tuple[Path, list[dict]]:
    from segr1.train.checkpoints import latest_checkpoint
    from segr1.train.config import parse_config
    from segr1.train.main import train

    final = out / "final"
    if (final / "config.json").exists() and (out / "log_history.json").exists():
        print(f"reusing GRPO run {out}")
        return final, json.loads((out / "log_history.json").read_text())
    args = grpo_args(cfg, policy, data, out, segmenter)
    checkpoint = latest_checkpoint(out)
    if checkpoint is not None:  # an interrupted RL stage goes on from its last checkpoint
        print(f"resuming GRPO from {checkpoint}")
        args += ["--resume", str(checkpoint)]
    result = train(parse_config(args))
    write_atomic(out / "log_history.json", json.dumps(result.log_history, indent=1))
    return result.final_dir, result.log_history


def run_demo(cfg: DemoConfig = FULL) -> Path:
    """Run every stage (reusing finished ones) and write ``out/report``; returns that folder."""
    import torch

    from segr1.data.registry import load_dataset
    from segr1.demo_report import write_report
    from segr1.segment import build_segmenter

    torch.set_num_threads(cfg.threads)
    out = Path(cfg.out)
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out {out} is a file; give a folder (new, or a demo run to continue)")
    record = out / "demo_config.json"
    refuse_foreign(out, [record.name], "a demo run",
                   "give --out a new or empty folder (a demo run's folder is continued)")  # fmt: skip
    out.mkdir(parents=True, exist_ok=True)
    check_same_run(cfg, record)
    text = json.dumps(asdict(cfg), indent=1)
    if not record.exists() or record.read_text() != text:
        write_atomic(record, text)
    timing = out / TIMING
    prior = read_record(timing) or {}
    spent = {k: prior.get(k) or 0 for k in ("seconds", "calls", "unfinished")}
    t0, finished = time.perf_counter(), False
    try:
        _stage("1/6 synthetic camouflage benchmark")
        build_data(cfg, out / "data")
        train = load_dataset("synth", out / "data", split="train")
        test = load_dataset("synth", out / "data", split="test")
        _stage(f"2/6 frozen segmenter: {segmenter_label(cfg)}")
        seg_name = build_frozen_segmenter(cfg, out)
        segmenter = build_segmenter(seg_name)
        _stage("3/6 tiny policy + supervised warm-up (stand-in for pretraining)")
        warm = stand_in_policy(cfg, out, train)
        if cfg.rebuild:
            built = {"policy": warm} | (
                {"segmenter": Path(seg_name)} if cfg.segmenter == "sam2" else {}
            )
            compare_with_shipped(cfg, out, built)
        _stage("4/6 evaluation before RL")
        before = evaluate_policy(cfg, warm, test, out / "eval_before", segmenter)
        _stage("5/6 GRPO (pure RL from mask quality)")
        final, history = run_grpo(cfg, warm, out / "data", out / "grpo", seg_name)
        _stage("6/6 evaluation after RL")
        after = evaluate_policy(cfg, final, test, out / "eval_after", segmenter)
        report = write_report(cfg, out, test, before, after, history,
                              spent["seconds"] + time.perf_counter() - t0, segmenter,
                              segmenter_label(cfg), seg_name, warm, spent["calls"] + 1,
                              spent["unfinished"])  # fmt: skip
        finished = True
    finally:  # an interrupted or failed call's time counts too
        write_atomic(timing, json.dumps({
            "seconds": round(spent["seconds"] + time.perf_counter() - t0, 2),
            "calls": spent["calls"] + 1, "unfinished": spent["unfinished"] + (not finished),
        }) + "\n")  # fmt: skip
    print(f"\nreport: {report / 'report.md'}")
    return report


def cli_config(
    out: str = FULL.out,
    seed: int = FULL.seed,
    quick: bool = False,
    segmenter: str = FULL.segmenter,
    rebuild: bool = False,
    pretrain_seed: int = FULL.pretrain_seed,
    warmup_box_scale: float | None = None,
    warmup_boxes: str | None = None,
) -> DemoConfig:
    """The run ``segr1 demo`` makes of its options (None: the preset's)."""
    if warmup_boxes is not None and warmup_boxes not in WARMUP_BOXES:
        raise ValueError(f"--warmup-boxes {warmup_boxes!r}: choose one of "
                         f"{', '.join(WARMUP_BOXES)}")  # fmt: skip
    cfg = replace(QUICK if quick else FULL, out=out, seed=seed, segmenter=segmenter,
                  rebuild=rebuild, pretrain_seed=pretrain_seed)  # fmt: skip
    if warmup_box_scale is not None:
        cfg = replace(cfg, warmup_box_scale=warmup_box_scale)
    if warmup_boxes is not None:
        cfg = replace(cfg, **WARMUP_BOXES[warmup_boxes])
    return cfg


def command_line(cfg: DemoConfig) -> str:
    """The ``segr1 demo`` command that makes ``cfg`` (``--quick`` when that preset is the closer
    one); settings no option reaches (a config built through the API) follow as a comment, so
    the line never claims to reproduce more than it does."""
    opts: dict[str, Any] = {"out": cfg.out, "seed": cfg.seed}
    words = ["segr1", "demo", "--out", cfg.out, "--seed", str(cfg.seed)]
    if cfg.segmenter != FULL.segmenter:
        words += ["--segmenter", cfg.segmenter]
        opts["segmenter"] = cfg.segmenter
    if cfg.rebuild:
        words.append("--rebuild")
        opts["rebuild"] = True
    if cfg.pretrain_seed != FULL.pretrain_seed:
        words += ["--pretrain-seed", str(cfg.pretrain_seed)]
        opts["pretrain_seed"] = cfg.pretrain_seed
    if cfg.warmup_box_scale != FULL.warmup_box_scale:
        words += ["--warmup-box-scale", str(cfg.warmup_box_scale)]
        opts["warmup_box_scale"] = cfg.warmup_box_scale
    if cfg.warmup_per_object != FULL.warmup_per_object:
        opts["warmup_boxes"] = "per-object" if cfg.warmup_per_object else "one"
        words += ["--warmup-boxes", opts["warmup_boxes"]]
    wanted = asdict(cfg)

    def unmatched(quick: bool) -> list[str]:
        made = asdict(cli_config(**opts, quick=quick))
        return [f"{k}={v!r}" for k, v in wanted.items() if made[k] != v]

    quick = len(unmatched(True)) < len(unmatched(False))
    other = unmatched(quick)
    line = shlex.join([*words, "--quick"] if quick else words)
    return line + (f"  # and through the API: {', '.join(other)}" if other else "")
