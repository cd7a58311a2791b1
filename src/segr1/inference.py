"""Inference: image (+ query) -> prompt template -> policy -> completion -> parse -> segmenter ->
mask at the ORIGINAL resolution. :class:`Pipeline` holds the policy, its processor, the
:class:`~segr1.protocol.templates.Template`, the frozen segmenter and the model side S.

Protocol (the released Seg-R1 one):

* the image is stretched to S x S (aspect ratio ignored; PIL bilinear, as the reward does) and
  shown to the policy; answer coordinates are absolute pixels in that S x S frame;
* ``segment_at="model"`` (default, released protocol): the segmenter embeds the S x S image, the
  prompts are clipped to the S x S frame, and the S x S mask is upsampled to the original size;
  ``upsample="bilinear"`` (default) resizes the 0/255 mask bilinearly and keeps > 127 (the
  convention the reward uses for ground truths); ``"nearest"`` copies pixels;
* ``segment_at="original"``: the prompts are scaled to the original frame and the segmenter
  embeds the original image (no upsampling);
* an answer with nothing usable (no box, no parsed points) gives an EMPTY mask; the
  :class:`Prediction` keeps the completion and ``parsed = False`` so it stays visible;
* decoding is greedy by default (the released evaluation); other generation settings (e.g. a
  repetition penalty) come from the checkpoint's ``generation_config.json``.

Each image is embedded once, through the segmenter's own cache when it has one; all the
completions of one image are decoded in one batched segmenter call.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from segr1.imaging import ImageLike, stretch, to_rgb, upsample_mask
from segr1.protocol.geometry import Prompts, Size, answer_prompts, square
from segr1.protocol.parse import Answer, parse_answer
from segr1.protocol.templates import Template
from segr1.segment.base import Segmenter

SEGMENT_AT = ("model", "original")
UPSAMPLE = ("bilinear", "nearest")


@dataclass(frozen=True)
class Prediction:
    """One answer: the completion, what it says, its mask ``(H, W)`` bool at the original
    resolution, and its prompts in the original frame."""

    completion: str
    answer: Answer
    mask: np.ndarray
    prompts: Prompts

    @property
    def parsed(self) -> bool:
        """False when nothing in the completion could prompt the segmenter (empty mask)."""
        return not self.answer.is_empty

    def to_dict(self) -> dict[str, Any]:
        return {
            "completion": self.completion,
            "answer": self.answer.to_dict(),
            "parsed": self.parsed,
            "prompts_original_frame": {
                "boxes": self.prompts.boxes.tolist(),
                "points": self.prompts.points.tolist(),
                "labels": self.prompts.labels.tolist(),
            },
            "mask_size_wh": [int(self.mask.shape[1]), int(self.mask.shape[0])],
            "mask_area": int(self.mask.sum()),
        }


def segment_square(
    segmenter: Segmenter,
    rgb: np.ndarray,
    prompt_sets: Sequence[Prompts],
    side: int,
    upsample: str = "bilinear",
) -> list[np.ndarray]:
    """The released protocol's segmentation: the image stretched to S x S is embedded (through
    the segmenter's cache), prompt sets in that frame are decoded in one batch, and each S x S
    mask is upsampled to the image's ``(H, W)``."""
    h, w = rgb.shape[:2]
    small = segmenter(stretch(rgb, side), prompt_sets)  # (P, S, S)
    return [upsample_mask(m, (w, h), upsample) for m in small]  # (S, S) -> (H, W)


def _per_image(values: Any, n: int, name: str) -> list:
    if values is None or isinstance(values, str | bool):
        return [values] * n
    values = list(values)
    if len(values) != n:
        raise ValueError(f"{name}: {len(values)} given for {n} images")
    return values


class Pipeline:
    """Policy + processor + template + segmenter at model side ``side`` (see module docstring)."""

    def __init__(
        self,
        model: Any,
        processor: Any,
        segmenter: Segmenter,
        *,
        task: str = "foreground",
        side: int = 768,
        stage: str = "eval",
        max_new_tokens: int = 400,
        segment_at: str = "model",
        upsample: str = "bilinear",
    ) -> None:
        if segment_at not in SEGMENT_AT:
            raise ValueError(f"segment_at={segment_at!r}; choose one of {', '.join(SEGMENT_AT)}")
        if upsample not in UPSAMPLE:
            raise ValueError(f"upsample={upsample!r}; choose one of {', '.join(UPSAMPLE)}")
        if side < 1:
            raise ValueError(f"side must be positive, got {side}")
        self.model, self.processor, self.segmenter = model, processor, segmenter
        self.template = Template(task, stage)  # type: ignore[arg-type]
        self.side, self.max_new_tokens = side, max_new_tokens
        self.segment_at, self.upsample = segment_at, upsample
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
        bgr: bool = False,
        max_new_tokens: int = 400,
        **kwargs: Any,
    ) -> Pipeline:
        """Load the policy (hub id or directory) and build the segmenter by name.

        ``kwargs``: ``stage``, ``segment_at``, ``upsample`` (see :class:`Pipeline`),
        ``attn_implementation`` and ``trust_remote_code`` (see :func:`load_policy`)."""
        from segr1.policy import load_policy

        load_kw = {
            k: kwargs.pop(k) for k in ("attn_implementation", "trust_remote_code") if k in kwargs
        }
        policy, processor = load_policy(model, device=device, dtype=dtype, **load_kw)
        if isinstance(segmenter, str):
            from segr1.segment import build_segmenter

            segmenter = build_segmenter(segmenter, device=device, bgr=bgr)
        return cls(
            policy,
            processor,
            segmenter,
            task=task,
            side=side,
            max_new_tokens=max_new_tokens,
            **kwargs,
        )

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

    def _generate(self, squares: list[np.ndarray], texts: list[str], gen: dict) -> list[str]:
        import torch

        inputs = self.processor(
            text=texts,
            images=[Image.fromarray(s) for s in squares],
            padding=True,
            return_tensors="pt",
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
        is_sentence: Sequence[bool] | bool = True,
        greedy: bool = True,
        temperature: float = 1.0,
        top_p: float = 1.0,
        top_k: int = 0,
        batch_size: int = 8,
        max_new_tokens: int | None = None,
        seed: int | None = None,
    ) -> list[str]:
        """One completion per image, batched with left padding. Greedy unless ``greedy=False``
        (then ``temperature`` / ``top_p`` / ``top_k``, ``top_k=0`` = off; ``seed`` seeds torch)."""
        squares = [stretch(to_rgb(im), self.side) for im in images]
        texts = self._texts(len(squares), queries, is_sentence)
        gen = self._generation_kwargs(greedy, temperature, top_p, top_k, max_new_tokens)
        if seed is not None:
            import torch

            torch.manual_seed(seed)
        out: list[str] = []
        for i in range(0, len(squares), batch_size):
            out += self._generate(squares[i : i + batch_size], texts[i : i + batch_size], gen)
        return out

    def _texts(self, n: int, queries: Any, is_sentence: Any) -> list[str]:
        qs, ss = _per_image(queries, n, "queries"), _per_image(is_sentence, n, "is_sentence")
        return [self.prompt_text(q, s) for q, s in zip(qs, ss, strict=True)]

    # -- segmenter ---------------------------------------------------------------------------
    def _prompts(self, answer: Answer, target: Size) -> Prompts:
        return answer_prompts(answer.boxes, answer.points, answer.labels, self.side, target)

    def segment_completions(self, image: ImageLike, completions: Sequence[str]) -> list[Prediction]:
        """Parse and segment several completions for ONE image (one embed, one batched decode)."""
        rgb = to_rgb(image)
        h, w = rgb.shape[:2]
        answers = [parse_answer(c) for c in completions]
        original = [self._prompts(a, (w, h)) for a in answers]
        if all(p.is_empty for p in original):
            masks = [np.zeros((h, w), dtype=bool) for _ in answers]
        elif self.segment_at == "original":
            masks = list(self.segmenter(rgb, original))  # (P, H, W)
        else:
            frame = square(self.side)
            prompts = [self._prompts(a, frame) for a in answers]
            masks = segment_square(self.segmenter, rgb, prompts, self.side, self.upsample)
        return [
            Prediction(c, a, m, p)
            for c, a, m, p in zip(completions, answers, masks, original, strict=True)
        ]

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
        """Generate (batched) and segment every image; ``generate_kwargs`` go to :meth:`generate`."""
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
            texts = self.generate(
                chunk,
                qs[i : i + batch_size],
                is_sentence=ss[i : i + batch_size],
                batch_size=batch_size,
                **generate_kwargs,
            )
            out += [self.segment_completion(im, t) for im, t in zip(chunk, texts, strict=True)]
            bar.update(len(chunk))
        bar.close()
        return out

    def __call__(self, image: ImageLike, query: str | None = None, **kwargs: Any) -> Prediction:
        """Predict one image; ``kwargs`` as in :meth:`predict_batch`."""
        return self.predict_batch([image], [query], **kwargs)[0]


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


def write_prediction(out: Path, path: Path, image: np.ndarray, pred: Prediction) -> None:
    """``<stem>.png`` (mask), ``<stem>_overlay.jpg`` and ``<stem>.json`` under ``out``."""
    import json

    from segr1.data.io import write_image, write_mask
    from segr1.overlay import draw_overlay

    write_mask(out / f"{path.stem}.png", pred.mask)
    write_image(out / f"{path.stem}_overlay.jpg", draw_overlay(image, pred.mask, pred.prompts))
    record = {"image": str(path), **pred.to_dict()}
    (out / f"{path.stem}.json").write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")


def predict_paths(
    pipeline: Pipeline,
    inputs: Sequence[str | Path],
    out: str | Path,
    query: str | None = None,
    batch_size: int = 4,
    progress: bool = True,
) -> tuple[int, list[str]]:
    """Predict every image under ``inputs`` into ``out``; returns (written, error messages).
    Unreadable images do not stop the run; each is reported by name."""
    from tqdm.auto import tqdm

    from segr1.data.io import ImageReadError, read_image

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths, errors, written = collect_images(inputs), [], 0
    bar = tqdm(total=len(paths), desc="predict", unit="img", disable=not progress)
    for i in range(0, len(paths), batch_size):
        batch: list[tuple[Path, np.ndarray]] = []
        for p in paths[i : i + batch_size]:
            try:
                batch.append((p, read_image(p)))
            except ImageReadError as e:
                errors.append(str(e))
        if batch:
            preds = pipeline.predict_batch([im for _, im in batch], query, batch_size=batch_size)
            for (p, im), pred in zip(batch, preds, strict=True):
                write_prediction(out, p, im, pred)
            written += len(batch)
        bar.update(len(paths[i : i + batch_size]))
    bar.close()
    return written, errors
