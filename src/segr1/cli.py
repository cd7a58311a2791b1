"""The ``segr1`` command: one Typer app. Each command is a thin shell over a library function;
heavy imports happen inside the command so ``segr1 --help`` stays fast."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import typer
import yaml

if TYPE_CHECKING:
    from segr1.inference import Pipeline

app = typer.Typer(
    name="segr1",
    help="Seg-R1: train, evaluate and run a VLM that prompts a frozen segmenter.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
    rich_markup_mode=None,  # help texts hold literal [brackets]: "[default: ...]", "segr1[sam2]"
)
data_app = typer.Typer(help="Dataset utilities.", no_args_is_help=True, rich_markup_mode=None)
app.add_typer(data_app, name="data")

#: What a user's input can raise: one line "error: ..." and exit code 2 (``--debug``: traceback).
USER_ERRORS = (ValueError, OSError, ImportError, TypeError, yaml.YAMLError)
_state = {"debug": False}


@app.callback()
def _root(
    debug: bool = typer.Option(
        False, "--debug", help="Show the full traceback of an error instead of one line."
    ),
) -> None:
    """Seg-R1: train, evaluate and run a VLM that prompts a frozen segmenter."""
    _state["debug"] = debug


def _fail(err: BaseException) -> NoReturn:
    """Report a user error in one line (exit code 2), or re-raise it under ``--debug``."""
    if _state["debug"]:
        raise err
    typer.echo(f"error: {err}", err=True)
    raise typer.Exit(2) from None


# Options shared by the commands that build a Pipeline (predict, eval) or read a dataset
# (eval, data inspect): declared once so their names, defaults and help cannot drift apart.
MODEL = typer.Option(..., "--model", help="Policy: hub id or local directory.")
SEGMENTER = typer.Option(
    "grabcut",
    help="grabcut | sam2-random-tiny | sam3-random-tiny | a transformers SAM2 or SAM 3 checkpoint "
    "(hub id or folder, e.g. facebook/sam2.1-hiera-large, facebook/sam3) | an official SAM2 .pt "
    "file (e.g. sam2.1_hiera_large.pt; needs segr1[sam2]).",
)
DEVICE = typer.Option("cpu", help="Torch device for policy and segmenter.")
DTYPE = typer.Option("auto", help="auto | float32 | bfloat16 | float16.")
SEGMENT_AT = typer.Option("model", help="model (S x S, released) | original.")
PROFILE = typer.Option(
    "default",
    "--profile",
    help="Evaluation protocol: default (segr1's, corrected) | released (the released Seg-R1 "
    "evaluation step by step; see docs/reproduction.md).",
)
PROFILE_OPT = typer.Option(
    None,
    "--profile-opt",
    help="Change one switch of the profile, KEY=VALUE, repeatable (e.g. bgr=true, "
    "policy_jpeg_quality=75, soft_foreground=true; docs/reproduction.md lists them).",
)
SENTENCE = typer.Option(
    True,
    "--sentence/--no-sentence",
    help="Reasoning: the query is a sentence (--sentence) or a short object name "
    "(--no-sentence: ' Identify and segment <name, lower-cased>.').",
)
STAGE = typer.Option("eval", help="Prompt stage: eval (released evaluation texts) | train.")
ANSWER_FORMAT = typer.Option(
    "seg-r1",
    "--answer-format",
    help="seg-r1 (the released tags) | seg-zero (one object: box + two points, JSON; S 840, "
    "Seg-Zero checkpoints) | vision-reasoner (a JSON list of objects; S 840).",
)
ABSTAIN = typer.Option(
    False,
    "--abstain",
    help="Ask with segr1's own prompt addition that teaches the 'no target' answer "
    "(Seg-R1: <bbox>none</bbox>; JSON formats: <answer>none</answer>); never a released text.",
)
MAX_NEW_TOKENS = typer.Option(
    None, min=1, help="Generation budget per answer [default: the profile's for the task]."
)
SIDE = typer.Option(
    None, min=1, help="Square side S [default: 768 for foreground/prerl, 1024 otherwise]."
)
MAX_TURNS = typer.Option(
    1,
    "--max-turns",
    min=1,
    help="Refinement episodes: after each answer the policy is shown the mask it made (mask, "
    "boxes and points drawn on the image, with segr1's own instruction) and answers again, up "
    "to N answers; an episode ends early when the policy repeats its prompts (keeps its "
    "answer). The final answer's mask is the prediction. 1: single-turn Seg-R1.",
)
ROOT = typer.Option(None, "--root", help="Dataset root folder.")
SPLIT = typer.Option(None, "--split", help="Split [default: the dataset's test/val split].")
IMAGES = typer.Option(None, "--images", help="Image folder (dataset 'folder'; skips detection).")
MASKS = typer.Option(None, "--masks", help="Mask folder (with --images).")
IMAGE_DIR = typer.Option(None, "--image-dir", help="COCO train2014 images (refcoco*).")
UNPAIRED = typer.Option("error", "--unpaired", help="'error' or 'drop' unpaired files.")
DATA_OPT = typer.Option(
    None,
    "--data-opt",
    help="Other reader option KEY=VALUE, repeatable (e.g. split_by=umd, include_noncam=true).",
)


def _dataset_opts(
    images: str | None,
    masks: str | None,
    image_dir: str | None,
    unpaired: str,
    data_opt: list[str] | None,
) -> dict[str, object]:
    """Reader keyword options from the shared dataset flags (only those the user set)."""
    opts: dict[str, object] = {}
    if images is not None or masks is not None:
        opts.update(images=images, masks=masks)
    if image_dir is not None:
        opts["image_dir"] = image_dir
    if unpaired != "error":
        opts["unpaired"] = unpaired
    for item in data_opt or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ValueError(f"--data-opt {item!r}: expected KEY=VALUE")
        lowered = value.lower()
        opts[key.replace("-", "_")] = lowered == "true" if lowered in ("true", "false") else value
    return opts


def _pipeline(model: str, **kwargs: object) -> Pipeline:
    from segr1.inference import Pipeline

    return Pipeline.from_pretrained(model, **kwargs)


def _check_device(device: str) -> None:
    """A CUDA device on a machine without one fails here, before anything loads."""
    if device.startswith("cuda"):
        import torch

        if not torch.cuda.is_available():
            raise ValueError(
                f"--device {device}: no CUDA device is available here; use --device cpu"
            )


def _profile(name: str, overrides: list[str] | None):  # -> segr1.profiles.Profile
    from segr1.profiles import with_overrides

    return with_overrides(name, overrides)


@app.command()
def demo(
    out: str = typer.Option(
        "demo_out",
        "--out",
        help="Folder for data, models, report: a new or empty one, or an earlier run's to "
        "continue it (a run of other settings there is refused).",
    ),
    quick: bool = typer.Option(
        False, "--quick", help="A tiny run (under a minute) for smoke tests."
    ),
    seed: int = typer.Option(0, "--seed", min=0, help="Seed for the benchmark data and GRPO."),
    segmenter: str = typer.Option(
        "sam2",
        "--segmenter",
        help="The frozen segmenter: 'sam2' (a small SAM2 trained by segr1 on other synthetic "
        "scenes, the stand-in for SAM2's pretraining; shipped, or built into OUT/segmenter) "
        "or 'grabcut' (weights-free; a constant box over most of the frame with points pays there).",
    ),
    rebuild: bool = typer.Option(
        False,
        "--rebuild",
        help="Build the two pretraining stand-ins (SAM2 stand-in, warmed-up policy) in OUT "
        "instead of using the shipped ones (about two and a half hours on one core), and check "
        "them against the shipped files byte for byte (OUT/rebuild.json; docs/demo.md).",
    ),
    pretrain_seed: int = typer.Option(
        0,
        "--pretrain-seed",
        min=0,
        help="Seed of the stand-ins (SAM2 stand-in, policy init, warm-up and its data); the "
        "shipped ones are seed 0, any other seed builds both in OUT (about two and a half hours "
        "on one core).",
    ),
    warmup_box_scale: float | None = typer.Option(
        None,
        "--warmup-box-scale",
        min=0.5,
        max=3.0,
        show_default=False,
        help="Side of the warm-up's target boxes over the object's. Default 1.3, the shipped "
        "policy: boxes on the objects but loose, which RL tightens. Any other value builds its "
        "own policy in OUT (about 30 minutes); 1.0 (tight targets) is the contrast in "
        "docs/demo.md.",
    ),
    warmup_boxes: str | None = typer.Option(
        None,
        "--warmup-boxes",
        show_default=False,
        help="The warm-up's target boxes on a scene with several objects: 'one' (one box "
        "around all, the shipped policy) or 'per-object' (one box per object, the protocol's "
        "several-box answer; answers up to 96 tokens). 'per-object' builds its own policy in "
        "OUT (about 30 minutes); docs/demo.md has its three seeds.",
    ),
) -> None:
    """Seg-R1 offline on a CPU: synthetic data, tiny policy, GRPO, before/after report."""
    from segr1.demo import cli_config, run_demo

    try:
        cfg = cli_config(out, seed, quick, segmenter, rebuild, pretrain_seed, warmup_box_scale,
                         warmup_boxes)  # fmt: skip
        report = run_demo(cfg)
    except USER_ERRORS as err:
        _fail(err)
    except KeyboardInterrupt:
        typer.echo(f"\ninterrupted: run the same command again to continue in {out} (finished "
                   "stages are reused, GRPO goes on from its last checkpoint)", err=True)  # fmt: skip
        raise typer.Exit(130) from None
    typer.echo((report / "report.md").read_text(encoding="utf-8"))


@app.command()
def predict(
    images: list[str] = typer.Argument(..., help="Image files and/or folders of images."),
    model: str = MODEL,
    out: str = typer.Option(..., "--out", help="Output folder (mask PNG, overlay JPG, JSON)."),
    query: str | None = typer.Option(None, help="Expression / question (referring, reasoning)."),
    sentence: bool = SENTENCE,
    task: str = typer.Option("foreground", help="foreground | referring | reasoning | prerl."),
    segmenter: str = SEGMENTER,
    side: int | None = SIDE,
    device: str = DEVICE,
    dtype: str = DTYPE,
    segment_at: str = SEGMENT_AT,
    profile: str = PROFILE,
    profile_opt: list[str] | None = PROFILE_OPT,
    stage: str = STAGE,
    answer_format: str = ANSWER_FORMAT,
    abstain: bool = ABSTAIN,
    max_new_tokens: int | None = MAX_NEW_TOKENS,
    max_turns: int = MAX_TURNS,
    batch_size: int = typer.Option(4, min=1, help="Images per generation batch."),
) -> None:
    """Segment images: writes <stem>.png, <stem>_overlay.jpg and <stem>.json per image (with
    --max-turns N > 1 also <stem>_turn<k>_overlay.jpg per answer)."""
    from segr1.inference import check_predict_out, collect_images, predict_paths
    from segr1.prompting import default_side
    from segr1.protocol.formats import get_format, template_for

    try:  # inputs, outputs, query and device are checked before any model loads
        check_predict_out(collect_images(images), Path(out))
        template_for(answer_format, task, stage, abstain).user_text(query)
        _check_device(device)
        own_side = get_format(answer_format).side
        pipe = _pipeline(
            model, segmenter=segmenter, task=task, answer_format=answer_format, abstain=abstain,
            side=side or own_side or default_side(task),
            device=device, dtype=dtype,
            profile=_profile(profile, profile_opt), max_new_tokens=max_new_tokens, stage=stage,
            segment_at=segment_at, max_turns=max_turns,
        )  # fmt: skip
        written, errors = predict_paths(
            pipe, images, out, query=query, is_sentence=sentence, batch_size=batch_size
        )
    except USER_ERRORS as e:
        _fail(e)
    typer.echo(f"wrote {written} prediction(s) to {out}")
    for message in errors:
        typer.echo(f"unreadable: {message}", err=True)
    if errors:
        raise typer.Exit(1)


@app.command("eval")
def eval_cmd(
    model: str = MODEL,
    dataset: str = typer.Option(
        ...,
        "--dataset",
        help="Dataset name (segr1 data list), or several: cod10k,camo,nc4k,chameleon (each "
        "into OUT/<name>; NAME:SPLIT picks a split, e.g. dis5k:dis-te1); a plain image/mask "
        "folder pair is --dataset folder --images DIR --masks DIR.",
    ),
    out: str = typer.Option(..., "--out", help="Output folder; a re-run resumes in it."),
    root: str | None = ROOT,
    split: str | None = SPLIT,
    images: str | None = IMAGES,
    masks: str | None = MASKS,
    image_dir: str | None = IMAGE_DIR,
    unpaired: str = UNPAIRED,
    data_opt: list[str] | None = DATA_OPT,
    segmenter: str = SEGMENTER,
    side: int | None = SIDE,
    device: str = DEVICE,
    dtype: str = DTYPE,
    segment_at: str = SEGMENT_AT,
    profile: str = PROFILE,
    profile_opt: list[str] | None = PROFILE_OPT,
    stage: str = STAGE,
    answer_format: str = ANSWER_FORMAT,
    abstain: bool = ABSTAIN,
    max_new_tokens: int | None = MAX_NEW_TOKENS,
    max_turns: int = MAX_TURNS,
    sample: str = typer.Option(
        "all",
        "--sample",
        help="all (every sample, deterministic) | released (emulate the released evaluation's "
        "random draw: one expression per RefCOCO image, ReasonSeg images with replacement).",
    ),
    seed: int = typer.Option(0, "--seed", help="Seed of --sample released."),
    batch_size: int = typer.Option(8, min=1, help="Images per generation batch."),
    limit: int | None = typer.Option(
        None, min=1, help="Evaluate only the first N samples (smoke runs)."
    ),
    force_new: bool = typer.Option(
        False,
        "--force-new",
        help="--out holds a run with other settings: delete that run's own files (run.json, "
        "completions, reports, its masks) and start over.",
    ),
    save_prob: bool = typer.Option(
        False,
        "--save-prob",
        help="Also write the segmenter's mask probability (sigmoid of the mask logits, max "
        "across boxes) as 8-bit PNGs in probs/, scored as metrics_prob with their own curves "
        "(GrabCut has none: its binary mask).",
    ),
) -> None:
    """Evaluate a policy on one or more datasets: mask PNGs, completions.jsonl, metrics.json,
    curves.json, report.md per dataset (segr1 report draws tables and curves from them).
    Several processes: accelerate launch [--num_processes N] -m segr1.cli eval ... (each rank
    predicts its share on its own GPU; rank 0 merges and scores)."""
    from segr1.data import sampling
    from segr1.data.registry import load_dataset
    from segr1.eval_many import evaluate_datasets, parse_datasets, run_dir, shared_pipeline
    from segr1.evaluate import check_outputs_apart, evaluate
    from segr1.prompting import default_side
    from segr1.protocol.formats import get_format
    from segr1.ranks import Ranks

    ranks = Ranks.from_env()
    dropped: dict[str, list[str]] = {}  # per dataset label: files its reader left out

    def load(choice):  # -> the samples to evaluate; outputs checked before any model loads
        samples = load_dataset(choice.name, root, choice.split, **opts)
        dropped[choice.label] = list(getattr(samples, "dropped", []))
        if sample != "all" and samples and samples[0].task == "foreground":
            typer.echo(f"note: --sample released keeps every image of {choice.label}, a "
                       "foreground set, as the released evaluation did", err=True)  # fmt: skip
        chosen = sampling.choose_samples(samples, sample, seed)[:limit]
        check_outputs_apart(run_dir(out, choices, choice), chosen)
        return chosen

    def make(task, first):  # -> a Pipeline for task, sharing the first one's models
        kw = dict(profile=prof, max_new_tokens=max_new_tokens, stage=stage,
                  segment_at=segment_at, probabilities=save_prob, answer_format=answer_format,
                  abstain=abstain, max_turns=max_turns)  # fmt: skip
        s = side or get_format(answer_format).side or default_side(task)
        if first is not None:
            return shared_pipeline(first, task, s, **kw)
        return _pipeline(model, segmenter=segmenter, task=task, side=s, device=device,
                         dtype=dtype, **kw)  # fmt: skip

    def run(pipe, samples, folder, choice):
        return evaluate(
            pipe, samples, folder, dataset=choice.label, root=root, split=choice.split,
            model=model, segmenter=segmenter, sampling=sampling.describe(sample, seed, pipe.task),
            dropped=dropped[choice.label], batch_size=batch_size, force_new=force_new,
            ranks=ranks,
        )  # fmt: skip

    try:
        _check_device(device)
        device = ranks.device(device)
        opts = _dataset_opts(images, masks, image_dir, unpaired, data_opt)
        prof = _profile(profile, profile_opt)
        choices = parse_datasets(dataset, split)
        if len(choices) > 1 and "images" in opts:
            raise ValueError("--images/--masks name one folder pair: use them with one dataset")
        results = evaluate_datasets(choices, out, load, make, run)
    except USER_ERRORS as e:
        _fail(e)
    finally:
        ranks.close()
    unreadable = False
    for folder, result in results:
        if result is None:
            typer.echo(f"rank {ranks.rank}: predicted its share of {folder}; rank 0 scores it")
            continue
        typer.echo((folder / "report.md").read_text(encoding="utf-8"))
        typer.echo(
            f"{result['count']} samples, {result['unusable']} unusable answers; wrote {folder}"
        )
        for message in result["dropped"]:
            typer.echo(f"left out by the reader: {message}", err=True)
        for message in result["unreadable"]:
            typer.echo(f"unreadable: {message}", err=True)
        unreadable = unreadable or bool(result["unreadable"])
    if unreadable:
        raise typer.Exit(1)


@app.command(
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
    add_help_option=False,
)
def train(ctx: typer.Context) -> None:
    """GRPO training: segr1 train --config FILE.yaml [--key value ...]; --help lists all keys."""
    from segr1.train.config import parse_config
    from segr1.train.data import check_specs
    from segr1.train.main import resume_checkpoint
    from segr1.train.main import train as run_training

    try:
        cfg = parse_config(ctx.args)
        resume_checkpoint(cfg)  # a bad --resume fails here, before any model loads
        check_specs(cfg.dataset_specs)  # and missing, empty or unpaired data
        result = run_training(cfg)
    except USER_ERRORS as e:
        _fail(e)
    typer.echo(f"trained {result.global_step} steps; final policy in {result.final_dir}")


@app.command()
def score(
    pred_dir: str = typer.Argument(..., help="Folder of predicted mask PNGs (named by stem)."),
    gt_dir: str = typer.Argument(..., help="Folder of ground-truth masks."),
    json_path: str | None = typer.Option(None, "--json", help="Also write the results here."),
    missing: str = typer.Option(
        "error", "--missing", help="A ground truth without a prediction: error | empty."
    ),
    task: str = typer.Option(
        "foreground",
        "--task",
        help="foreground (S, wF, MAE, E, F, IoU, Dice) | referring (cIoU, gIoU; also reasoning).",
    ),
    profile: str = PROFILE,
    profile_opt: list[str] | None = PROFILE_OPT,
) -> None:
    """Score existing mask PNGs against ground truths, with the scoring loop segr1 eval uses
    (here a prediction of another size is resized to its ground truth and counted)."""
    import json

    from segr1.scoring import kind_of, score_folders

    try:
        if task not in ("foreground", "prerl", "referring", "reasoning"):
            raise ValueError(f"--task {task!r}: choose foreground, referring or reasoning")
        prof = _profile(profile, profile_opt)
        result = score_folders(pred_dir, gt_dir, missing=missing, kind=kind_of(task), profile=prof)
    except USER_ERRORS as e:
        _fail(e)
    typer.echo(f"{'metric':<8} {'value':>8}")
    for key, value in result.items():
        if isinstance(value, float):
            typer.echo(f"{key:<8} {value:>8.4f}")
    typer.echo(
        f"scored {result['count']} mask(s); resized {result['resized']}; "
        f"missing scored as empty {result['missing']}"
    )
    for message in result["unreadable"]:
        typer.echo(f"unreadable (not scored): {message}", err=True)
    if result["unmatched_predictions"]:
        stems = ", ".join(result["unmatched_predictions"])
        typer.echo(f"predictions without ground truth (not scored): {stems}")
    if json_path:
        Path(json_path).parent.mkdir(parents=True, exist_ok=True)
        Path(json_path).write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
        typer.echo(f"wrote {json_path}")
    if result["unreadable"]:
        raise typer.Exit(1)


@app.command()
def report(
    run_dirs: list[str] = typer.Argument(
        ..., help="Finished segr1 eval output folders (a run, or a multi-dataset --out)."
    ),
    out: str = typer.Option(..., "--out", help="Report folder (report.md, tables/, curves/)."),
    label: list[str] | None = typer.Option(
        None, "--label", help="Row name per RUN_DIR, in order [default: the folder names]."
    ),
    metrics: str | None = typer.Option(
        None,
        "--metrics",
        help="Table columns, comma-separated (e.g. Sm,meanEm,wFm,MAE) [default: per task: "
        "Sm,meanEm,wFm,MAE,maxEm,maxFm | cIoU,gIoU].",
    ),
    digits: int = typer.Option(3, min=1, max=8, help="Decimals in the Markdown and LaTeX tables."),
) -> None:
    """Tables (Markdown, CSV, LaTeX; best per column in bold) and PR / F / E curves (PNG, PDF)
    from finished runs, read from their metrics.json and curves.json: one table per task, one
    figure per dataset, one row / line per run."""
    from segr1.reports import build_report

    try:
        columns = [m.strip() for m in metrics.split(",") if m.strip()] if metrics else []
        path = build_report(run_dirs, out, labels=label or [], metrics=columns, digits=digits)
    except USER_ERRORS as e:
        _fail(e)
    typer.echo(path.read_text(encoding="utf-8"))
    typer.echo(f"wrote {path.parent}")


@app.command()
def serve(
    model: str | None = typer.Option(
        None,
        "--model",
        help="Policy: hub id or local directory [default: the tiny offline policy (random "
        "weights: it runs, its answers mean nothing), built once into ~/.cache/segr1].",
    ),
    segmenter: str = SEGMENTER,
    port: int = typer.Option(7860, "--port", min=1, max=65535, help="Port to listen on."),
    host: str = typer.Option(
        "127.0.0.1",
        "--host",
        help="Address to listen on. The default serves this machine only; 0.0.0.0 exposes the "
        "app (and the models' compute) to every network this machine is on: no login, no TLS.",
    ),
    side: int | None = SIDE,
    device: str = DEVICE,
    dtype: str = DTYPE,
    profile: str = PROFILE,
    profile_opt: list[str] | None = PROFILE_OPT,
    stage: str = STAGE,
    max_new_tokens: int | None = MAX_NEW_TOKENS,
) -> None:
    """A web app (Gradio): upload or pick an image, optional query, see the overlay (mask, boxes,
    labelled points), the raw answer, the parsed prompts and download the mask PNG."""
    from segr1.serve import Segr1Service, default_policy
    from segr1.serve.app import build_ui, launch
    from segr1.serve.core import example_images

    try:
        _check_device(device)
        prof = _profile(profile, profile_opt)
        policy = model or str(default_policy())
        base = _pipeline(policy, segmenter=segmenter, side=side or 768, device=device,
                         dtype=dtype, profile=prof, stage=stage, max_new_tokens=max_new_tokens)  # fmt: skip
        service = Segr1Service(base, side=side, stage=stage, max_new_tokens=max_new_tokens)
        about = (
            f"Policy `{model or 'tiny offline policy (random weights)'}`, segmenter `{segmenter}`."
        )
        ui = build_ui(service, about=about, examples=example_images())
    except USER_ERRORS as e:
        _fail(e)
    typer.echo(f"segr1 serve: http://{host}:{port} (Ctrl+C stops)")
    launch(ui, host=host, port=port)


@app.command()
def prompt(
    task: str = typer.Option(
        "foreground", "--task", help="foreground | prerl | referring | reasoning."
    ),
    query: str | None = typer.Option(None, "--query", help="Expression / question / object name."),
    sentence: bool = SENTENCE,
    profile: str = PROFILE,
    profile_opt: list[str] | None = PROFILE_OPT,
    stage: str = typer.Option("eval", "--stage", help="eval | train."),
    answer_format: str = ANSWER_FORMAT,
    abstain: bool = ABSTAIN,
    side: int | None = SIDE,
    model: str | None = typer.Option(
        None, "--model", help="Also render the chat text with this checkpoint's processor."
    ),
) -> None:
    """Print, as JSON, exactly what the policy receives: chat messages, image, generation."""
    import json

    from segr1.prompting import describe_prompt

    try:
        info = describe_prompt(
            task, query, is_sentence=sentence, profile=_profile(profile, profile_opt),
            stage=stage, side=side, model=model, answer_format=answer_format, abstain=abstain,
        )  # fmt: skip
    except USER_ERRORS as e:
        _fail(e)
    typer.echo(json.dumps(info, indent=2, ensure_ascii=False))


@data_app.command("synth")
def data_synth(
    out: str = typer.Option(
        ..., "--out", help="Output folder: Train/, Test/ (COD10K layout), meta.json."
    ),
    n: int = typer.Option(400, "--n", help="Number of training scenes."),
    n_test: int | None = typer.Option(None, "--n-test", help="Test scenes [default: 30% of --n]."),
    seed: int = typer.Option(0, "--seed", help="Random seed; the same seed gives the same bytes."),
    size: int = typer.Option(256, "--size", help="Image side in pixels."),
    camo_strength: float = typer.Option(
        0.7, "--camo-strength", help="Camouflage subtlety in [0, 1]; 1 = same texture statistics."
    ),
    camo_fraction: float = typer.Option(0.6, "--camo-fraction", help="Share of camouflage scenes."),
    empty_rate: float = typer.Option(
        0.03, "--empty-rate", help="Share of scenes with no object (no-target samples), in [0, 1]."
    ),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing set in --out."),
) -> None:
    """Generate the synthetic camouflage benchmark (readable as dataset 'synth')."""
    from segr1.data.synth import generate
    from segr1.data.synth_scene import SynthConfig

    try:
        cfg = SynthConfig(
            size=size,
            camo_strength=camo_strength,
            camo_fraction=camo_fraction,
            empty_fraction=empty_rate,
        )
        n_te = round(0.3 * n) if n_test is None else n_test
        meta = generate(out, n, n_te, seed=seed, config=cfg, overwrite=overwrite)
    except USER_ERRORS as e:
        _fail(e)
    for split, info in meta["splits"].items():
        typer.echo(f"{split}: {info['n']} scenes {info['counts']} -> {out}")


@data_app.command("list")
def data_list() -> None:
    """The dataset names --dataset accepts, one per line."""
    from segr1.data.registry import dataset_names

    for name in dataset_names():
        typer.echo(name)


@data_app.command("inspect")
def data_inspect(
    dataset: str = typer.Option(..., "--dataset", help="Dataset name (segr1 data list)."),
    root: str | None = ROOT,
    split: str | None = SPLIT,
    images: str | None = IMAGES,
    masks: str | None = MASKS,
    image_dir: str | None = IMAGE_DIR,
    unpaired: str = UNPAIRED,
    data_opt: list[str] | None = DATA_OPT,
    show: int = typer.Option(5, "--show", help="How many samples to list."),
) -> None:
    """Print the detected layout, the sample count and the first samples of a dataset."""
    from segr1.data.registry import describe

    try:
        opts = _dataset_opts(images, masks, image_dir, unpaired, data_opt)
        typer.echo(describe(dataset, root, split, show=show, **opts))
    except USER_ERRORS as e:
        _fail(e)


if __name__ == "__main__":
    app()
