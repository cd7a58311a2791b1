"""The frozen SAM2 backend on transformers' ``Sam2Model`` + ``Sam2Processor``.

* :meth:`Sam2Segmenter.embed` runs the vision encoder ONCE per image
  (``model.get_image_embeddings``); the embedding holds the three feature levels on the device.
* :meth:`Sam2Segmenter.decode` turns all calls into masks with the prompt encoder + mask decoder
  only (``model(image_embeddings=...)``), single-mask output, logits upsampled (bilinear) to
  the embedded image's ``(H, W)`` and thresholded at 0, as SAM2's image predictor does;
  :meth:`~LogitDecoder.decode_prob` also returns the sigmoid of those same logits.

:class:`LogitDecoder` is that shared decode loop (layout groups, chunks, upsampling, threshold,
sigmoid) for every backend whose decoder gives mask logits: this SAM2, the official-package SAM2
and SAM 3 (:mod:`segr1.segment.sam3`) implement only ``low_res_logits``.

Batching. The decoder's token self-attention has no padding mask: a padded point (label -10,
the processor's convention) is a zero token that still takes part in attention, so padding
changes the logits slightly. Default ``batching="exact"`` therefore batches calls that share a
token layout (box or not, number of points) into one forward each, so every mask equals the
mask of that call decoded alone. ``batching="padded"`` pads points with -10 and needs one
forward per kind (with / without box): fewer forwards, masks within float noise of exact.

Several images: :meth:`Sam2Segmenter.embed_batch` runs the vision encoder once on a batch of up
to ``max_embed_batch`` images (default: 8 on a GPU, 1 on the CPU, where batching measured
slower); each image's three feature levels are then copied out of the
batch (so a cached embedding holds only its own memory). The encoder treats batch rows
independently; batched kernels may round differently from a batch of one (float noise).

Images are RGB; ``bgr=True`` swaps channels before the encoder to reproduce the released
Seg-R1 code's quirk. transformers is imported lazily so ``import segr1.segment`` stays light.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from segr1.segment.base import Call, Embedding, Segmenter

if TYPE_CHECKING:
    import torch
    from transformers import Sam2Config, Sam2Model, Sam2Processor

    from segr1.segment.cache import EmbeddingCache

Batching = Literal["exact", "padded"]
PAD_LABEL = -10  # transformers' "padding point" label: zero embedding
DTYPES = ("float32", "bfloat16", "float16")


def torch_dtype(dtype: str | torch.dtype) -> torch.dtype:
    """``"float32" | "bfloat16" | "float16"`` (or a torch dtype) -> torch dtype."""
    import torch

    if isinstance(dtype, torch.dtype):
        return dtype
    if dtype not in DTYPES:
        raise ValueError(f"unknown dtype {dtype!r}; choose one of {DTYPES}")
    return getattr(torch, dtype)


def _hiera_1024_config(
    dim: int, heads: int, blocks: list[int], windows: list[int], global_blocks: list[int]
) -> Sam2Config:
    """A released SAM2.1 image architecture at 1024 px: Hiera stages double ``dim`` and
    ``heads``; the FPN, prompt encoder and mask decoder are the same for every size."""
    from transformers import (
        Sam2Config,
        Sam2HieraDetConfig,
        Sam2MaskDecoderConfig,
        Sam2PromptEncoderConfig,
        Sam2VisionConfig,
    )

    dims = [dim * 2**i for i in range(4)]
    backbone = Sam2HieraDetConfig(
        hidden_size=dim,
        num_attention_heads=heads,
        image_size=[1024, 1024],
        blocks_per_stage=blocks,
        embed_dim_per_stage=dims,
        num_attention_heads_per_stage=[heads * 2**i for i in range(4)],
        window_size_per_stage=windows,
        global_attention_blocks=global_blocks,
        window_positional_embedding_background_size=[7, 7],
    )
    vision = Sam2VisionConfig(
        backbone_config=backbone,
        backbone_channel_list=dims[::-1],
        backbone_feature_sizes=[[256, 256], [128, 128], [64, 64]],
        fpn_hidden_size=256,
    )
    prompt = Sam2PromptEncoderConfig(hidden_size=256, image_size=1024, patch_size=16)
    decoder = Sam2MaskDecoderConfig(hidden_size=256, mlp_dim=2048, num_attention_heads=8)
    return Sam2Config(
        vision_config=vision, prompt_encoder_config=prompt, mask_decoder_config=decoder
    )


def hiera_tiny_config() -> Sam2Config:
    """The released ``sam2.1-hiera-tiny`` image architecture (1024 px), built offline."""
    return _hiera_1024_config(96, 1, [1, 2, 7, 2], [8, 4, 14, 7], [5, 7, 9])


def hiera_large_config() -> Sam2Config:
    """The released ``sam2.1-hiera-large`` image architecture (1024 px), built offline."""
    return _hiera_1024_config(144, 2, [2, 6, 36, 4], [8, 4, 16, 8], [23, 33, 43])


def check_tiny_sam2_size(image_size: int, width: int, hidden: int | None, stride: int) -> None:
    """Raise ValueError naming the argument when :func:`tiny_sam2_config` cannot build these
    sizes (no transformers import: configs check themselves with it)."""
    if stride not in (1, 2, 4):
        raise ValueError(f"tiny_sam2_config(stride={stride}): use 1, 2 or 4")
    if image_size % (8 * stride):
        raise ValueError(
            f"tiny_sam2_config(image_size={image_size}): use a multiple of {8 * stride}"
        )
    if width < 2 or width % 2:
        raise ValueError(f"tiny_sam2_config(width={width}): use an even width of at least 2")
    if (hidden or 4 * width) % 8:
        raise ValueError(f"tiny_sam2_config(hidden={hidden}): use a multiple of 8")


def tiny_sam2_config(
    image_size: int = 64, width: int = 8, hidden: int | None = None, stride: int = 4
) -> Sam2Config:
    """A very small SAM2 for tests and the offline demo: about 0.12 M parameters at the default
    ``width`` 8, about 0.48 M at 16 (parameters grow as ``width`` squared).

    ``stride`` is the patch embedding's stride (SAM2's is 4): the image embedding is a grid of
    ``image_size / (4 * stride)`` tokens a side and the mask decoder's logits are
    ``image_size / stride``; ``image_size`` must be a multiple of ``8 * stride``. ``width`` is
    the first Hiera stage's channels (the stages double it); the FPN, prompt encoder and mask
    decoder run at ``hidden`` (default ``4 * width``; a multiple of 8). Hiera needs
    ``backbone_feature_sizes`` of S/stride, S/(2 stride), S/(4 stride), and a global-attention
    block must not open a stage (block 3 is inside stage 2).
    """
    from transformers import (
        Sam2Config,
        Sam2HieraDetConfig,
        Sam2MaskDecoderConfig,
        Sam2PromptEncoderConfig,
        Sam2VisionConfig,
    )

    check_tiny_sam2_size(image_size, width, hidden, stride)
    s, w = image_size, width
    d = hidden or 4 * w
    backbone = Sam2HieraDetConfig(
        hidden_size=w,
        num_attention_heads=1,
        image_size=[s, s],
        blocks_per_stage=[1, 1, 2, 1],
        embed_dim_per_stage=[w, 2 * w, 4 * w, 8 * w],
        num_attention_heads_per_stage=[1, 1, 2, 2],
        window_size_per_stage=[4, 2, 2, 1],
        global_attention_blocks=[3],
        window_positional_embedding_background_size=[4, 4],
        patch_stride=[stride, stride],
    )
    vision = Sam2VisionConfig(
        backbone_config=backbone,
        backbone_channel_list=[8 * w, 4 * w, 2 * w, w],
        backbone_feature_sizes=[[s // k, s // k] for k in (stride, 2 * stride, 4 * stride)],
        fpn_hidden_size=d,
    )
    prompt = Sam2PromptEncoderConfig(
        hidden_size=d, image_size=s, patch_size=4 * stride, mask_input_channels=w
    )
    decoder = Sam2MaskDecoderConfig(
        hidden_size=d, mlp_dim=2 * d, num_attention_heads=2, iou_head_hidden_dim=d
    )
    return Sam2Config(
        vision_config=vision, prompt_encoder_config=prompt, mask_decoder_config=decoder
    )


def default_processor(config: Sam2Config) -> Sam2Processor:
    """The stock SAM2 processor (resize to S x S, ImageNet normalisation) for ``config``."""
    from transformers import Sam2ImageProcessor, Sam2Processor

    side = int(config.prompt_encoder_config.image_size)
    return Sam2Processor(image_processor=Sam2ImageProcessor(size={"height": side, "width": side}))


def layout_groups(calls: Sequence[Call], batching: Batching) -> list[list[int]]:
    """Indices of the calls that can share one decoder forward, in first-seen order.

    A call with neither box nor points is in no group: its mask stays empty.
    """
    groups: dict[tuple[bool, int], list[int]] = {}
    for i, call in enumerate(calls):
        if call.box is None and len(call.points) == 0:
            continue
        n = len(call.points) if batching == "exact" else -1
        groups.setdefault((call.box is not None, n), []).append(i)
    return list(groups.values())


def default_embed_batch(device: str) -> int:
    """Images per encoder forward: 8 on a GPU; 1 on the CPU, where a batch of 4 hiera-tiny
    images gave 12 % fewer images per second than one at a time (docs/benchmarks.md)."""
    return 8 if str(device).startswith("cuda") else 1


def own_rows(levels: Sequence[torch.Tensor], i: int, n: int) -> tuple[torch.Tensor, ...]:
    """Row ``i`` of each batched feature level, copied out of a batch of ``n`` (kept as is
    when ``n == 1``) so that a stored embedding does not hold the whole batch's memory."""
    return tuple(f if n == 1 else f[i : i + 1].clone() for f in levels)


class LogitDecoder(Segmenter):
    """A backend whose mask decoder gives logits: the mask is ``logits > 0`` and the probability
    ``sigmoid(logits)``, both from one forward per layout group. Subclasses implement
    :meth:`low_res_logits` and set ``batching`` / ``max_batch``."""

    batching: Batching = "exact"
    max_batch: int = 64

    def low_res_logits(self, embedding: Embedding, calls: Sequence[Call]) -> torch.Tensor:
        """Single-mask logits ``(C, h, w)`` float32 for calls of one layout, one forward."""
        raise NotImplementedError

    def decode(self, embedding: Embedding, calls: Sequence[Call]) -> np.ndarray:
        return self.decode_logits(embedding, calls, prob=False)[0]

    def decode_prob(
        self, embedding: Embedding, calls: Sequence[Call]
    ) -> tuple[np.ndarray, np.ndarray]:
        masks, prob = self.decode_logits(embedding, calls, prob=True)
        assert prob is not None
        return masks, prob

    def decode_logits(
        self, embedding: Embedding, calls: Sequence[Call], prob: bool
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """Masks ``(C, H, W)`` bool and, with ``prob``, ``sigmoid`` of the same logits."""
        import torch
        import torch.nn.functional as F

        w, h = embedding.size
        masks = np.zeros((len(calls), h, w), dtype=bool)  # (C, H, W)
        probs = np.zeros((len(calls), h, w), dtype=np.float32) if prob else None
        for group in layout_groups(calls, self.batching):
            for start in range(0, len(group), self.max_batch):
                chunk = group[start : start + self.max_batch]
                low = self.low_res_logits(embedding, [calls[i] for i in chunk])  # (c, h', w')
                with torch.inference_mode():
                    logits = F.interpolate(low[:, None], (h, w), mode="bilinear",
                                           align_corners=False)[:, 0]  # (c, H, W)  # fmt: skip
                    masks[chunk] = (logits > 0).cpu().numpy()
                    if probs is not None:
                        probs[chunk] = torch.sigmoid(logits).cpu().numpy()
        return masks, probs


class Sam2Segmenter(LogitDecoder):
    """A frozen transformers SAM2 (eval mode, no gradients) behind the Segmenter protocol."""

    name = "sam2"
    #: The transformers model and processor classes (SAM 3's tracker subclasses swap them).
    model_class = "Sam2Model"
    processor_class = "Sam2Processor"
    label = "SAM2"
    example_id = "facebook/sam2.1-hiera-large"

    def __init__(
        self,
        model: Sam2Model,
        processor: Sam2Processor,
        device: str = "cpu",
        dtype: str | torch.dtype = "float32",
        bgr: bool = False,
        batching: Batching = "exact",
        max_batch: int = 64,
        cache: EmbeddingCache | None = None,
        max_embed_batch: int | None = None,
    ) -> None:
        if batching not in ("exact", "padded"):
            raise ValueError(f"unknown batching {batching!r}; choose 'exact' or 'padded'")
        self.dtype = torch_dtype(dtype)
        self.device = device
        self.model = model.to(device=device, dtype=self.dtype).eval().requires_grad_(False)
        self.processor = processor
        self.side = int(model.config.prompt_encoder_config.image_size)
        self.bgr = bgr
        self.batching: Batching = batching
        self.max_batch = max_batch
        self.max_embed_batch = max_embed_batch or default_embed_batch(device)
        self.cache = cache

    @classmethod
    def from_pretrained(
        cls,
        name_or_dir: str | Path,
        device: str = "cpu",
        dtype: str = "float32",
        bgr: bool = False,
        **kwargs: Any,
    ) -> Sam2Segmenter:
        """Load by hub id (``facebook/sam2.1-hiera-large``) or local directory; no remote code."""
        import transformers

        model_cls = getattr(transformers, cls.model_class)
        processor_cls = getattr(transformers, cls.processor_class)
        try:
            model = model_cls.from_pretrained(str(name_or_dir), dtype=torch_dtype(dtype))
            processor = processor_cls.from_pretrained(str(name_or_dir))
        except OSError as err:
            raise OSError(
                f"cannot load {cls.label} from {name_or_dir!r}: give a transformers "
                f"{cls.label} checkpoint (a hub id such as {cls.example_id}, or a directory "
                "written by save_pretrained), or use --segmenter grabcut offline"
            ) from err
        return cls(model, processor, device=device, dtype=dtype, bgr=bgr, **kwargs)

    @classmethod
    def from_config(
        cls,
        config: Sam2Config,
        seed: int = 0,
        device: str = "cpu",
        dtype: str = "float32",
        bgr: bool = False,
        **kwargs: Any,
    ) -> Sam2Segmenter:
        """Random weights from ``config`` (tests, demo, benchmark); seeded, global RNG untouched."""
        import torch
        import transformers

        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            model = getattr(transformers, cls.model_class)(config)
        processor = cls.default_processor(config)
        return cls(model, processor, device=device, dtype=dtype, bgr=bgr, **kwargs)

    @staticmethod
    def default_processor(config: Any) -> Any:
        """The processor for random weights built from ``config``."""
        return default_processor(config)

    def save_pretrained(self, directory: str | Path) -> None:
        """Write model weights, config and processor so :meth:`from_pretrained` reloads them."""
        self.model.save_pretrained(str(directory))
        self.processor.save_pretrained(str(directory))

    def pixel_values(self, images: np.ndarray | Sequence[np.ndarray]) -> torch.Tensor:
        """(H, W, 3) uint8 RGB image(s) -> (B, 3, S, S) normalised encoder input (channels
        swapped if bgr); the images may differ in size."""
        images = [images] if isinstance(images, np.ndarray) else list(images)
        for image in images:
            if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
                raise ValueError(
                    f"SAM2 expects an (H, W, 3) uint8 RGB image, got {image.shape} {image.dtype}"
                )
        if self.bgr:
            images = [image[..., ::-1] for image in images]
        batch = self.processor(
            images=[np.ascontiguousarray(image) for image in images], return_tensors="pt"
        )
        return batch["pixel_values"].to(device=self.device, dtype=self.dtype)

    def embed(self, image: np.ndarray) -> Embedding:
        return self.embed_batch([image])[0]

    def embed_batch(self, images: Sequence[np.ndarray]) -> list[Embedding]:
        """One encoder forward per ``max_embed_batch`` images."""
        import torch

        out = []
        for start in range(0, len(images), self.max_embed_batch):
            chunk = images[start : start + self.max_embed_batch]
            with torch.inference_mode():
                features = self.model.get_image_embeddings(self.pixel_values(chunk))
            out += [
                Embedding((im.shape[1], im.shape[0]), own_rows(features, i, len(chunk)))
                for i, im in enumerate(chunk)
            ]
        return out

    def prompt_tensors(self, calls: Sequence[Call], size: tuple[int, int]) -> dict[str, Any]:
        """Model inputs for calls of one kind (all with a box, or none), in the S x S frame."""
        import torch

        w, h = size
        scale = np.array([self.side / w, self.side / h], np.float32)
        n = max(len(c.points) for c in calls)
        inputs: dict[str, Any] = {}
        if n:
            points = np.zeros((1, len(calls), n, 2), np.float32)  # (1, C, N, 2)
            labels = np.full((1, len(calls), n), PAD_LABEL, np.int64)  # (1, C, N)
            for k, call in enumerate(calls):
                if len(call.labels) and not np.isin(call.labels, (0, 1)).all():
                    raise ValueError(f"point labels must be 0 or 1, got {call.labels.tolist()}")
                points[0, k, : len(call.points)] = call.points * scale
                labels[0, k, : len(call.labels)] = call.labels
            inputs["input_points"] = torch.from_numpy(points).to(self.device)
            inputs["input_labels"] = torch.from_numpy(labels).to(self.device)
        if calls[0].box is not None:
            boxes = np.stack([np.asarray(c.box, np.float32) * np.tile(scale, 2) for c in calls])
            inputs["input_boxes"] = torch.from_numpy(boxes[None]).to(self.device)  # (1, C, 4)
        return inputs

    def low_res_logits(self, embedding: Embedding, calls: Sequence[Call]) -> torch.Tensor:
        """One decoder forward for calls of one kind -> single-mask logits (C, S/4, S/4)."""
        import torch

        inputs = self.prompt_tensors(calls, embedding.size)
        with torch.inference_mode():
            out = self.model(
                image_embeddings=list(embedding.data), multimask_output=False, **inputs
            )
        return out.pred_masks[0, :, 0].float()  # (C, S/4, S/4)
