"""Inference: image (+ query) -> prompt template -> policy -> completion -> parse -> segmenter ->
mask at the ORIGINAL resolution. :class:`Pipeline` holds the policy, its processor, the
:class:`~segr1.protocol.templates.Template`, the frozen segmenter, the model side S and the
evaluation :class:`~segr1.profiles.Profile`.

The path, shared with the training reward by construction:

* the image is stretched to S x S with :func:`segr1.imaging.stretch` (the one stretch; training
  rows use it too) and shown to the policy (the ``released`` profile shows it a bicubic stretch
  after a JPEG round trip and qwen-vl-utils' resize); answer coordinates are absolute pixels in
  that S x S frame;
* the completion is parsed with the profile's rules and turned into masks by
  :func:`segr1.segment.answers.segment_answers_many`, the function the reward calls: an answer that
  fails the answer format's validity gate gets an EMPTY mask, and its :class:`Prediction` keeps
  the completion with ``usable = False`` so it stays visible and counted;
* ``segment_at="model"`` (default, released protocol): the segmenter embeds the S x S image and
  the S x S mask is resized to
  the original size with :func:`segr1.imaging.resize_levels`, then binarised (> 128) unless the
  profile saves soft foreground masks; ``segment_at="original"``: the prompts are scaled to the
  original frame and the segmenter embeds the original image;
* decoding is greedy by default (the released evaluation); other generation settings (e.g. a
  repetition penalty) come from the checkpoint's ``generation_config.json``;
* ``max_turns > 1``: each image is a refinement episode (:mod:`segr1.episode`): the policy is
  shown the mask its answer made and answers again, up to ``max_turns`` answers; the
  prediction is the FINAL turn's, with every turn's prediction in ``Prediction.turns``.

Each image is embedded once, through the segmenter's own cache when it has one, and the images of
a batch in one batched encoder call; all the completions of one image are decoded in one
batched segmenter call.

``probabilities=True`` also gives each prediction the segmenter's mask probability
(:data:`PROB_DESCRIPTION`) from the same :func:`segment_answers_many` call. It is NOT the
``released`` profile's soft foreground mask (the binary S x S mask resized without
re-binarising).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from segr1.imaging import (
    ImageLike,
    binarize,
    jpeg_roundtrip,
    resize_levels,
    stretch,
    to_rgb,
)
from segr1.profiles import DEFAULT, Profile, get_profile
from segr1.protocol.formats import get_format, template_for
from segr1.protocol.geometry import Prompts, original_prompts
from segr1.protocol.parse import Answer
from segr1.segment.answers import segment_answers_many
from segr1.segment.base import Segmenter

SEGMENT_AT = ("model", "original")
#: What ``Prediction.prob`` (``segr1 eval --save-prob``: ``probs/<id>.png``) holds.
PROB_DESCRIPTION = (
    "the segmenter's mask probability: sigmoid of the mask logits (SAM2 / SAM 3), per box with "
    "the points inside it and the MAX across boxes (the union rule), at the segmenter's frame, "
    "x 255 rounded, resized bilinearly to the image size; GrabCut has no probability and gives "
    "its binary mask (0 / 255)"
)


@dataclass(frozen=True)
class Prediction:
    """One answer: the completion, what it says, its mask at the original resolution as saved
    (``levels`` (H, W) uint8: 0 / 255, or soft levels under a soft-mask profile) and its
    prompts in the original frame (for display). ``prob``: with ``Pipeline(probabilities=True)``,
    the (H, W) uint8 mask probability x 255 (:data:`PROB_DESCRIPTION`)."""

    completion: str
    answer: Answer
    levels: np.ndarray
    prompts: Prompts
    prob: np.ndarray | None = None
    turns: tuple[Prediction, ...] = ()  # a refinement episode: every turn's prediction, in order

    @property
    def usable(self) -> bool:
        """The answer could prompt the segmenter (else its mask is empty)."""
        return self.answer.usable

    @property
    def mask(self) -> np.ndarray:
        """(H, W) bool: the saved levels binarised (> 128)."""
        return binarize(self.levels)

    def to_dict(self) -> dict[str, Any]:
        return {
            "completion": self.completion,
            "answer": self.answer.to_dict(),
            "usable": self.usable,
            "prompts_original_frame": {
                "boxes": self.prompts.boxes.tolist(),
                "points": self.prompts.points.tolist(),
                "labels": self.prompts.labels.tolist(),
            },
            "mask_size_wh": [int(self.levels.shape[1]), int(self.levels.shape[0])],
            "mask_area": int(self.mask.sum()),
            **(self.turns_dict() if self.turns else {}),
        }

    def turns_dict(self) -> dict[str, Any]:
        """A refinement episode's turns (completion, parsed answer, usable, mask area each) and
        whether it revised / kept its answer (:mod:`segr1.episode`)."""
        from segr1.episode import kept, revised

        answers = [t.answer for t in self.turns]
        turns = [
            {"completion": t.completion, "answer": t.answer.to_dict(), "usable": t.usable,
             "mask_area": int(t.mask.sum())}
            for t in self.turns
        ]  # fmt: skip
        return {"turns": turns, "revised": revised(answers), "kept": kept(answers)}


def _per_image(values: Any, n: int, name: str) -> list:
    if values is None or isinstance(values, str | bool):
        return [values] * n
    values = list(values)
    if len(values) != n:
        raise ValueError(f"{name}: {len(values)} given for {n} images")
    return values


class Pipeline:
    """Policy + processor + template + segmenter + profile at model side ``side`` (see the
    module docstring). ``max_new_tokens=None`` takes the profile's budget for the task;
    ``probabilities``: predictions also carry the segmenter's mask probability."""

    def __init__(
        self,
        model: Any,
        processor: Any,
        segmenter: Segmenter,
        *,
        task: str = "foreground",
        side: int = 768,
        stage: str = "eval",
        profile: str | Profile = "default",
        max_new_tokens: int | None = None,
        segment_at: str = "model",
        probabilities: bool = False,
        answer_format: str = "seg-r1",
        abstain: bool = False,
        max_turns: int = 1,
    ) -> None:
        if max_turns < 1:
            raise ValueError(f"max_turns must be at least 1, got {max_turns}")
        if segment_at not in SEGMENT_AT:
            raise ValueError(f"segment_at={segment_at!r}; choose one of {', '.join(SEGMENT_AT)}")
        if side < 1:
            raise ValueError(f"side must be positive, got {side}")
        self.model, self.processor, self.segmenter = model, processor, segmenter
        self.format = get_format(answer_format)
        self.template = template_for(self.format, task, stage, abstain)
        self.profile = get_profile(profile)
        if self.format.name != "seg-r1" and self.profile.generation() != DEFAULT.generation():
            raise ValueError(
                f"profile {self.profile.name!r} reproduces the released Seg-R1 evaluation; "
                f"with --answer-format {self.format.name} use the default profile"
            )
        bgr = getattr(segmenter, "bgr", None)
        if bgr is not None and bool(bgr) != self.profile.bgr:
            raise ValueError(
                f"profile {self.profile.name!r} hands the segmenter "
                f"{'BGR' if self.profile.bgr else 'RGB'} images but this segmenter was built with "
                f"bgr={bgr}; build it with bgr={self.profile.bgr} (Pipeline.from_pretrained does)"
            )
        self.task, self.side, self.segment_at = task, side, segment_at
        self.probabilities = probabilities
        self.max_turns = max_turns
        self.rules = self.profile.rules(task)
        own = self.format.max_new_tokens
        self.max_new_tokens = max_new_tokens or own or self.profile.max_new_tokens(task)
        self.processor.tokenizer.padding_side = "left"

    @classmethod
    def from_pretrained(
        cls,
        model: str | Path,
        segmenter: str | Segmenter = "grabcut",
        task: str = "foreground",
        side: int = 768,
        device: str = "cpu",
        dtype: str = "auto",
        profile: str | Profile = "default",
        **kwargs: Any,
    ) -> Pipeline:
        """Load the policy (hub id or directory) and build the segmenter by name (with the
        profile's channel order).

        ``kwargs``: ``stage``, ``max_new_tokens``, ``segment_at``, ``probabilities`` (see
        :class:`Pipeline`),
        ``attn_implementation`` and ``trust_remote_code`` (see :func:`load_policy`)."""
        from segr1.policy import load_policy

        profile = get_profile(profile)
        load_kw = {
            k: kwargs.pop(k) for k in ("attn_implementation", "trust_remote_code") if k in kwargs
        }
        policy, processor = load_policy(model, device=device, dtype=dtype, **load_kw)
        if isinstance(segmenter, str):
            from segr1.segment import build_segmenter

            segmenter = build_segmenter(segmenter, device=device, bgr=profile.bgr)
        return cls(policy, processor, segmenter, task=task, side=side, profile=profile, **kwargs)

    # -- images ------------------------------------------------------------------------------
    def square(self, image: ImageLike) -> np.ndarray:
        """(H, W, 3) -> the (S, S, 3) stretch the segmenter embeds (and, by default, the policy
        sees): :func:`segr1.imaging.stretch`, as training rows are made."""
        return stretch(to_rgb(image), self.side)

    def policy_image(self, rgb: np.ndarray, square: np.ndarray | None = None) -> Image.Image:
        """The S x S image as the processor receives it under the profile (``rgb``: the
        original; ``square``: its :meth:`square`, when already made)."""
        if self.profile.policy_resample is not None:
            square = stretch(rgb, self.side, self.profile.policy_resample)
        elif square is None:
            square = self.square(rgb)
        if self.profile.policy_jpeg_quality is not None:
            square = jpeg_roundtrip(square, self.profile.policy_jpeg_quality)
        pil = Image.fromarray(square)
        if self.profile.policy_qwen_vl_utils:
            pil = qwen_vl_utils_resize(pil, self.processor)
        return pil

    def segmenter_image(self, rgb: np.ndarray, square: np.ndarray) -> np.ndarray:
        """The image the segmenter embeds: the S x S stretch, or the original
        (``segment_at="original"``)."""
        return rgb if self.segment_at == "original" else square

    # -- policy ------------------------------------------------------------------------------
    def prompt_text(self, query: str | None = None, is_sentence: bool = True) -> str:
        """The chat-templated prompt for one image (image placeholder included)."""
        messages = self.template.messages(query, is_sentence)
        return self.processor.apply_chat_template(
            messages, tokenize=False, add_generation_prompt=True
        )

    def _generation_kwargs(
        self, greedy: bool, temperature: float, top_p: float, top_k: int, max_new_tokens: int | None
    ) -> dict[str, Any]:
        kw: dict[str, Any] = {"max_new_tokens": max_new_tokens or self.max_new_tokens}
        if greedy:
            return {**kw, "do_sample": False}
        return {**kw, "do_sample": True, "temperature": temperature, "top_p": top_p, "top_k": top_k}

    def _generate(self, policy_images: list, texts: list[str], gen: dict) -> list[str]:
        """Generate for ``texts`` (chat-templated), each with its image(s): one PIL image, or a
        list of them for a refinement turn."""
        import torch

        inputs = self.processor(
            text=texts, images=policy_images, padding=True, return_tensors="pt"
        ).to(self.model.device)
        if "pixel_values" in inputs:
            inputs["pixel_values"] = inputs["pixel_values"].to(self.model.dtype)
        with torch.inference_mode():
            out = self.model.generate(**inputs, **gen)  # (B, prompt + new)
        new = out[:, inputs["input_ids"].shape[1] :]
        return self.processor.batch_decode(new, skip_special_tokens=True)

    def generate(
        self,
        images: Sequence[ImageLike],
        queries: Sequence[str | None] | str | None = None,
        *,
        squares: Sequence[np.ndarray] | None = None,
        is_sentence: Sequence[bool] | bool = True,
        greedy: bool = True,
        temperature: float = 1.0,
        top_p: float = 1.0,
        top_k: int = 0,
        batch_size: int = 8,
        max_new_tokens: int | None = None,
        seed: int | None = None,
    ) -> list[str]:
        """One completion per image (any size), batched with left padding. ``squares``: the
        images' :meth:`square`, when already made. Greedy unless ``greedy=False`` (then
        ``temperature`` / ``top_p`` / ``top_k``, ``top_k=0`` = off; ``seed`` seeds torch)."""
        rgbs = [to_rgb(im) for im in images]
        sq = list(squares) if squares is not None else [None] * len(rgbs)
        texts = self._texts(len(rgbs), queries, is_sentence)
        gen = self._generation_kwargs(greedy, temperature, top_p, top_k, max_new_tokens)
        if seed is not None:
            import torch

            torch.manual_seed(seed)
        out: list[str] = []
        for i in range(0, len(rgbs), batch_size):
            shown = [self.policy_image(r, s) for r, s in zip(rgbs[i : i + batch_size],
                                                             sq[i : i + batch_size], strict=True)]  # fmt: skip
            out += self._generate(shown, texts[i : i + batch_size], gen)
        return out

    def _texts(self, n: int, queries: Any, is_sentence: Any) -> list[str]:
        qs, ss = _per_image(queries, n, "queries"), _per_image(is_sentence, n, "is_sentence")
        return [self.prompt_text(q, s) for q, s in zip(qs, ss, strict=True)]

    # -- segmenter ---------------------------------------------------------------------------
    def segment_completions(
        self, image: ImageLike, completions: Sequence[str], square: np.ndarray | None = None
    ) -> list[Prediction]:
        """Parse and segment several completions for ONE image (one embed, one batched decode)
        through :func:`segment_answers_many`. ``square``: the image's :meth:`square`, when known."""
        return self.segment_many([image], [completions], None if square is None else [square])[0]

    def segment_many(
        self,
        images: Sequence[ImageLike],
        completions: Sequence[Sequence[str]],
        squares: Sequence[np.ndarray] | None = None,
    ) -> list[list[Prediction]]:
        """:meth:`segment_completions` for several images: the images are embedded in ONE
        batched encoder call (:func:`segment_answers_many`)."""
        rgbs = [to_rgb(im) for im in images]
        squares = [self.square(rgb) for rgb in rgbs] if squares is None else list(squares)
        answers = [[self.format.parse(c, self.rules) for c in group] for group in completions]
        found = segment_answers_many(
            self.segmenter,
            [self.segmenter_image(rgb, sq) for rgb, sq in zip(rgbs, squares, strict=True)],
            answers,
            side=self.side,
            joint=self.profile.joint(self.task),
            return_prob=self.probabilities,
        )  # per image (P, S, S), or (P, H, W) when segmenting the original; twice with probs
        masks, probs = found if self.probabilities else (found, [None] * len(found))
        soft = self.profile.soft(self.task)
        out = []
        for rgb, group, parsed, group_masks, group_probs in zip(
            rgbs, completions, answers, masks, probs, strict=True
        ):
            h, w = rgb.shape[:2]
            preds = []
            rows = zip(group, parsed, group_masks, strict=True)
            for k, (completion, answer, mask) in enumerate(rows):
                levels = resize_levels(mask, (w, h))  # (H, W) uint8
                if not soft:
                    levels = binarize(levels).astype(np.uint8) * np.uint8(255)
                prob = None
                if group_probs is not None:
                    prob = resize_levels(np.rint(group_probs[k] * 255).astype(np.uint8), (w, h))
                shown = original_prompts(answer, self.side, (w, h))
                preds.append(Prediction(completion, answer, levels, shown, prob))
            out.append(preds)
        return out

    def segment_completion(self, image: ImageLike, completion: str) -> Prediction:
        """Parse and segment one given completion (no generation)."""
        return self.segment_completions(image, [completion])[0]

    # -- end to end --------------------------------------------------------------------------
    def predict_batch(
        self,
        images: Sequence[ImageLike],
        queries: Sequence[str | None] | str | None = None,
        *,
        is_sentence: Sequence[bool] | bool = True,
        batch_size: int = 8,
        progress: bool = False,
        **generate_kwargs: Any,
    ) -> list[Prediction]:
        """Generate (batched) and segment every image; ``generate_kwargs`` go to
        :meth:`generate`. Each image is stretched once for both."""
        from tqdm.auto import tqdm

        images = [to_rgb(im) for im in images]
        qs, ss = (
            _per_image(queries, len(images), "queries"),
            _per_image(is_sentence, len(images), "is_sentence"),
        )
        out: list[Prediction] = []
        bar = tqdm(total=len(images), desc="predict", unit="img", disable=not progress)
        for i in range(0, len(images), batch_size):
            chunk = images[i : i + batch_size]
            squares = [self.square(im) for im in chunk]
            if self.max_turns > 1:
                out += self.refine_batch(
                    chunk, qs[i : i + batch_size], ss[i : i + batch_size], squares,
                    **generate_kwargs,
                )  # fmt: skip
                bar.update(len(chunk))
                continue
            texts = self.generate(
                chunk,
                qs[i : i + batch_size],
                squares=squares,
                is_sentence=ss[i : i + batch_size],
                batch_size=batch_size,
                **generate_kwargs,
            )
            for preds in self.segment_many(chunk, [[t] for t in texts], squares):
                out += preds
            bar.update(len(chunk))
        bar.close()
        return out

    def refine_batch(
        self,
        images: Sequence[np.ndarray],
        queries: Sequence[str | None],
        is_sentence: Sequence[bool],
        squares: Sequence[np.ndarray],
        *,
        greedy: bool = True,
        temperature: float = 1.0,
        top_p: float = 1.0,
        top_k: int = 0,
        max_new_tokens: int | None = None,
        seed: int | None = None,
        batch_size: int = 8,
    ) -> list[Prediction]:
        """One refinement episode per image (:func:`segr1.episode.run_episodes`, at most
        ``max_turns`` answers, all episodes of the batch generated together): each returned
        prediction is the episode's FINAL turn, with every turn in ``turns``. ``batch_size``
        is accepted for :meth:`predict_batch`'s signature; the images given are one batch."""
        from segr1.episode import run_episodes

        gen = self._generation_kwargs(greedy, temperature, top_p, top_k, max_new_tokens)
        if seed is not None:
            import torch

            torch.manual_seed(seed)
        rgbs = list(images)
        policy = ChatPolicy(self, rgbs, squares, list(queries), list(is_sentence), gen)

        def segment(indices, texts, _answers):
            preds = self.segment_many(
                [rgbs[i] for i in indices], [[t] for t in texts], [squares[i] for i in indices]
            )
            shown = [binarize(resize_levels(p[0].levels, (self.side, self.side))) for p in preds]
            return shown, [p[0] for p in preds]  # (S, S) masks for the policy; Predictions

        episodes = run_episodes(
            policy, segment, list(squares), max_turns=self.max_turns,
            parse=lambda t: self.format.parse(t, self.rules), side=self.side,
        )  # fmt: skip
        out = []
        for episode in episodes:
            turns = tuple(t.record for t in episode.turns)
            out.append(dataclasses.replace(turns[-1], turns=turns))
        return out

    def __call__(self, image: ImageLike, query: str | None = None, **kwargs: Any) -> Prediction:
        """Predict one image; ``kwargs`` as in :meth:`predict_batch`."""
        return self.predict_batch([image], [query], **kwargs)[0]


class ChatPolicy:
    """A :class:`Pipeline`'s policy in refinement episodes (:class:`segr1.episode.EpisodePolicy`):
    each episode keeps its chat messages (the template's, then per turn the answer and
    :func:`~segr1.protocol.templates.refine_messages`) and its images (the policy's view of the
    image, then each observation), rendered with the processor's chat template."""

    def __init__(
        self,
        pipe: Pipeline,
        rgbs: Sequence[np.ndarray],
        squares: Sequence[np.ndarray],
        queries: Sequence[str | None],
        is_sentence: Sequence[bool],
        gen: dict[str, Any],
    ) -> None:
        self.pipe, self.gen = pipe, gen
        self.messages = [
            pipe.template.messages(q, s) for q, s in zip(queries, is_sentence, strict=True)
        ]
        self.images = [[pipe.policy_image(rgb, sq)] for rgb, sq in zip(rgbs, squares, strict=True)]

    def answer(self, indices: Sequence[int]) -> list[str]:
        render = self.pipe.processor.apply_chat_template
        texts = [
            render(self.messages[i], tokenize=False, add_generation_prompt=True) for i in indices
        ]
        return self.pipe._generate([self.images[i] for i in indices], texts, self.gen)

    def show(self, index: int, answer: str, image: np.ndarray) -> None:
        from segr1.protocol.templates import refine_messages

        self.messages[index] = self.messages[index] + refine_messages(answer)
        pil = Image.fromarray(image)
        if self.pipe.profile.policy_qwen_vl_utils:
            pil = qwen_vl_utils_resize(pil, self.pipe.processor)
        self.images[index].append(pil)


def qwen_vl_utils_resize(image: Image.Image, processor: Any) -> Image.Image:
    """``qwen_vl_utils.fetch_image``: the released evaluation's own resize of the policy input
    to the processor's patch grid (patch size x 2, rounded; PIL bicubic)."""
    try:
        from qwen_vl_utils import fetch_image
    except ImportError as err:
        raise ImportError(
            "the 'released' profile resizes the policy's input with qwen-vl-utils, as the "
            "released evaluation does: pip install 'segr1[released]' (or qwen-vl-utils)"
        ) from err
    patch = int(getattr(processor.image_processor, "patch_size", 14))
    return fetch_image({"image": image}, image_patch_size=patch)


# -- files -----------------------------------------------------------------------------------
def collect_images(inputs: Sequence[str | Path]) -> list[Path]:
    """Files as given, plus the images (by suffix) directly inside each folder, sorted. Raises
    when an input does not exist, a folder holds no image, or two inputs share a file stem."""
    from segr1.data.io import IMAGE_SUFFIXES

    paths: list[Path] = []
    for item in map(Path, inputs):
        if item.is_dir():
            found = sorted(p for p in item.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
            if not found:
                raise FileNotFoundError(f"{item}: no images ({', '.join(IMAGE_SUFFIXES)}) inside")
            paths += found
        elif item.exists():
            paths.append(item)
        else:
            raise FileNotFoundError(f"{item}: no such file or folder")
    stems: dict[str, Path] = {}
    for p in paths:
        if p.stem in stems:
            raise ValueError(
                f"{stems[p.stem]} and {p} share the name {p.stem!r}; outputs would collide"
            )
        stems[p.stem] = p
    return paths


def check_predict_out(paths: Sequence[Path], out: Path) -> None:
    """Refuse an output folder the images are read from (a PNG input would be overwritten)."""
    if Path(out).resolve() in {p.parent.resolve() for p in paths}:
        raise ValueError(
            f"--out {out}: the images are read from there; the masks, overlays and JSON would "
            "land beside them (a PNG input would be overwritten): choose another --out"
        )


def write_prediction(
    out: Path, path: Path, image: np.ndarray, pred: Prediction, about: dict | None = None
) -> None:
    """``<stem>.png`` (mask), ``<stem>_overlay.jpg`` and ``<stem>.json`` under ``out`` (and
    ``<stem>_turn<k>_overlay.jpg`` per turn of a refinement episode);
    ``about`` (task, query, profile, ...) goes into the JSON record."""
    import json

    from segr1.data.io import write_image, write_mask
    from segr1.overlay import draw_overlay

    write_mask(out / f"{path.stem}.png", pred.levels)
    write_image(out / f"{path.stem}_overlay.jpg", draw_overlay(image, pred.mask, pred.prompts))
    for k, turn in enumerate(pred.turns, start=1):  # a refinement episode: one overlay per turn
        shown = draw_overlay(image, turn.mask, turn.prompts)
        write_image(out / f"{path.stem}_turn{k}_overlay.jpg", shown)
    record = {"image": str(path), **(about or {}), **pred.to_dict()}
    (out / f"{path.stem}.json").write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")


def predict_paths(
    pipeline: Pipeline,
    inputs: Sequence[str | Path],
    out: str | Path,
    query: str | None = None,
    batch_size: int = 4,
    progress: bool = True,
    is_sentence: bool = True,
) -> tuple[int, list[str]]:
    """Predict every image under ``inputs`` into ``out``; returns (written, error messages).
    Unreadable images do not stop the run; each is reported by name."""
    from tqdm.auto import tqdm

    from segr1.data.io import ImageReadError, read_image

    out = Path(out)
    paths, errors, written = collect_images(inputs), [], 0
    check_predict_out(paths, out)
    out.mkdir(parents=True, exist_ok=True)
    about = {
        "task": pipeline.task,
        "query": query,
        "template": pipeline.template.name,
        "profile": pipeline.profile.name,
        "side": pipeline.side,
        **({"max_turns": pipeline.max_turns} if pipeline.max_turns > 1 else {}),
    }
    bar = tqdm(total=len(paths), desc="predict", unit="img", disable=not progress)
    for i in range(0, len(paths), batch_size):
        batch: list[tuple[Path, np.ndarray]] = []
        for p in paths[i : i + batch_size]:
            try:
                batch.append((p, read_image(p)))
            except ImageReadError as e:
                errors.append(str(e))
        if batch:
            preds = pipeline.predict_batch(
                [im for _, im in batch], query, is_sentence=is_sentence, batch_size=batch_size
            )
            for (p, im), pred in zip(batch, preds, strict=True):
                write_prediction(out, p, im, pred, about)
            written += len(batch)
        bar.update(len(paths[i : i + batch_size]))
    bar.close()
    return written, errors
