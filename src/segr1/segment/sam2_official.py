"""The frozen SAM2 backend on the official ``sam2`` package (the released Seg-R1 code's own).

It loads the ``.pt`` checkpoints users already have (``sam2.1_hiera_large.pt`` with config
``configs/sam2.1/sam2.1_hiera_l.yaml``) and reproduces ``SAM2ImagePredictor`` (built by
``build_sam2``, default arguments) without its state:

* :meth:`Sam2OfficialSegmenter.embed` does what ``set_image`` does (ToTensor, resize to S x S
  in float with antialias, ImageNet normalisation, ``forward_image``, ``no_mem_embed`` added to
  the lowest-resolution level) and returns the three levels ``(s0, s1, image_embed)`` in an
  :class:`Embedding` instead of keeping them on the object;
* :meth:`Sam2OfficialSegmenter.decode` does what ``_predict`` does (box corners first with
  labels 2/3, then points, one padding point appended by the prompt encoder), single-mask
  output (``multimask_output=False``; ``build_sam2``'s dynamic fallback to the most confident
  multimask output when the single mask is unstable stays on, as in the released predictor),
  low-res logits upsampled (bilinear) to the embedded image's ``(H, W)`` and thresholded at 0.

Batching is "exact" only: calls are grouped by token layout (box or not, number of points) and
never padded together, because the official padding point (label -1) is a learned token that
changes the masks. ``dtype`` other than float32 runs under ``torch.autocast`` (the official
code is written for autocast, not for half-precision weights); weights stay float32.

Images are RGB; ``bgr=True`` swaps channels first (the released Seg-R1 quirk). ``sam2`` and
torch are imported lazily: ``import segr1.segment`` works without the package installed.
"""

from __future__ import annotations

import contextlib
import importlib
import re
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

import numpy as np

from segr1.segment.base import Call, Embedding
from segr1.segment.sam2 import LogitDecoder, default_embed_batch, own_rows, torch_dtype

if TYPE_CHECKING:
    import torch

    from segr1.segment.cache import EmbeddingCache

INSTALL_HINT = (
    "pip install 'segr1[sam2]' (or, without compiling CUDA: SAM2_BUILD_CUDA=0 pip install "
    "--no-build-isolation --no-deps sam2==1.1.0 && pip install hydra-core iopath)"
)
TINY_CONFIG = "configs/sam2.1/sam2.1_hiera_t.yaml"
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
_SIZES = {"tiny": "t", "small": "s", "base_plus": "b+", "large": "l"}
_RELEASED = re.compile(r"^(sam2|sam2\.1)_hiera_(tiny|small|base_plus|large)$")


def import_sam2(module: str = "sam2.build_sam") -> ModuleType:
    """Import a module of the official package, or fail with the install command."""
    try:
        return importlib.import_module(module)
    except ImportError as err:
        raise ImportError(
            f"the official SAM2 backend needs the `sam2` package ({err}); install it with "
            f"{INSTALL_HINT}"
        ) from err


def infer_config(checkpoint: str | Path) -> str:
    """The official config name for a released checkpoint file name.

    ``sam2.1_hiera_large.pt`` -> ``configs/sam2.1/sam2.1_hiera_l.yaml``; the same for tiny, small,
    base_plus and the SAM 2.0 files ``sam2_hiera_*.pt``. Other names raise ``ValueError``.
    """
    path = Path(checkpoint)
    match = _RELEASED.match(path.stem) if path.suffix == ".pt" else None
    if match is None:
        raise ValueError(
            f"cannot infer the SAM2 config from the checkpoint file name {path.name!r} (known: "
            "sam2.1_hiera_{tiny,small,base_plus,large}.pt and sam2_hiera_*.pt); pass it "
            "explicitly, e.g. Sam2OfficialSegmenter.from_checkpoint(path, "
            "config='configs/sam2.1/sam2.1_hiera_l.yaml')"
        )
    version, size = match.groups()
    return f"configs/{version}/{version}_hiera_{_SIZES[size]}.yaml"


def config_name(config: str) -> str:
    """Normalise ``sam2.1_hiera_l`` / ``sam2.1_hiera_l.yaml`` to the package's config path."""
    if "/" in config:
        return config
    stem = config.removesuffix(".yaml")
    version = "sam2.1" if stem.startswith("sam2.1") else "sam2"
    return f"configs/{version}/{stem}.yaml"


def build_official_model(config: str, seed: int | None = None) -> Any:
    """An official ``SAM2Base`` on the CPU in eval mode, as ``build_sam2`` builds it (its
    image-predictor post-processing overrides included), with no checkpoint loaded.

    ``seed`` makes the random weights reproducible without touching the global RNG.
    """
    build_sam = import_sam2("sam2.build_sam")
    import torch

    if seed is None:
        return build_sam.build_sam2(config_name(config), None, device="cpu")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return build_sam.build_sam2(config_name(config), None, device="cpu")


def load_official_checkpoint(model: Any, checkpoint: str | Path) -> None:
    """Load a released ``.pt`` (``{"model": state_dict}``) into ``model``; every key must fit."""
    import torch

    state = torch.load(str(checkpoint), map_location="cpu", weights_only=True)
    state = state.get("model", state) if isinstance(state, dict) else state
    missing, unexpected = model.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise RuntimeError(
            f"{Path(checkpoint).name} does not fit the SAM2 config: {len(missing)} missing keys "
            f"{sorted(missing)[:8]}, {len(unexpected)} unexpected keys {sorted(unexpected)[:8]}; "
            "pass the matching config= (e.g. configs/sam2.1/sam2.1_hiera_l.yaml)"
        )


class Sam2OfficialSegmenter(LogitDecoder):
    """A frozen official ``SAM2Base`` (eval mode, no gradients) behind the Segmenter protocol."""

    name = "sam2-official"

    def __init__(
        self,
        model: Any,
        device: str = "cpu",
        dtype: str | torch.dtype = "float32",
        bgr: bool = False,
        max_batch: int = 64,
        cache: EmbeddingCache | None = None,
        max_embed_batch: int | None = None,
    ) -> None:
        self.dtype = torch_dtype(dtype)
        self.device = device
        self.model = model.to(device=device).eval().requires_grad_(False)
        self.side = int(model.image_size)
        self.bgr = bgr
        self.max_batch = max_batch
        self.max_embed_batch = max_embed_batch or default_embed_batch(device)
        self.cache = cache

    @classmethod
    def from_checkpoint(
        cls,
        checkpoint: str | Path,
        config: str | None = None,
        device: str = "cpu",
        dtype: str = "float32",
        bgr: bool = False,
        **kwargs: Any,
    ) -> Sam2OfficialSegmenter:
        """Load a released ``.pt``; ``config`` is inferred from the file name when not given."""
        path = Path(checkpoint)
        if not path.is_file():
            raise FileNotFoundError(f"no SAM2 checkpoint at {str(path)!r}")
        model = build_official_model(config or infer_config(path))
        load_official_checkpoint(model, path)
        return cls(model, device=device, dtype=dtype, bgr=bgr, **kwargs)

    @classmethod
    def from_config(
        cls,
        config: str = TINY_CONFIG,
        seed: int = 0,
        device: str = "cpu",
        dtype: str = "float32",
        bgr: bool = False,
        **kwargs: Any,
    ) -> Sam2OfficialSegmenter:
        """Random weights from an official config (tests, benchmark); seeded, global RNG untouched."""
        model = build_official_model(config, seed=seed)
        return cls(model, device=device, dtype=dtype, bgr=bgr, **kwargs)

    def autocast(self) -> contextlib.AbstractContextManager[Any]:
        """``torch.autocast`` to :attr:`dtype` on the model's device (a no-op for float32)."""
        import torch

        if self.dtype == torch.float32:
            return contextlib.nullcontext()
        return torch.autocast(device_type=torch.device(self.device).type, dtype=self.dtype)

    def pixel_values(self, image: np.ndarray) -> torch.Tensor:
        """(H, W, 3) uint8 RGB -> (1, 3, S, S) float32 encoder input, exactly ``SAM2Transforms``:
        ToTensor, bilinear antialiased resize of the float image, ImageNet normalisation."""
        import torch
        import torch.nn.functional as F

        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise ValueError(
                f"SAM2 expects an (H, W, 3) uint8 RGB image, got {image.shape} {image.dtype}"
            )
        if self.bgr:
            image = image[..., ::-1]
        x = torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1).float().div(255)
        x = F.interpolate(
            x[None], (self.side, self.side), mode="bilinear", align_corners=False, antialias=True
        )  # (1, 3, S, S)
        mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
        std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
        return ((x - mean) / std).to(self.device)

    def embed(self, image: np.ndarray) -> Embedding:
        return self.embed_batch([image])[0]

    def embed_batch(self, images: Sequence[np.ndarray]) -> list[Embedding]:
        """One ``forward_image`` per ``max_embed_batch`` images (``set_image_batch`` does the
        same), each image's levels copied out of the batch."""
        import torch

        model = self.model
        out = []
        for start in range(0, len(images), self.max_embed_batch):
            chunk = images[start : start + self.max_embed_batch]
            with torch.inference_mode(), self.autocast():
                pixels = torch.cat([self.pixel_values(im) for im in chunk])  # (B, 3, S, S)
                backbone_out = model.forward_image(pixels)
                _, feats, _, sizes = model._prepare_backbone_features(backbone_out)
                if model.directly_add_no_mem_embed:
                    feats[-1] = feats[-1] + model.no_mem_embed
                # (HW, B, C) -> (B, C, h, w): s0 (S/4), s1 (S/8), image_embed (S/16)
                maps = [
                    f.permute(1, 2, 0).reshape(len(chunk), -1, h, w)
                    for f, (h, w) in zip(feats, sizes, strict=True)
                ]
            out += [
                Embedding((im.shape[1], im.shape[0]), own_rows(maps, i, len(chunk)))
                for i, im in enumerate(chunk)
            ]
        return out

    def prompt_tensors(
        self, calls: Sequence[Call], size: tuple[int, int]
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Coords (C, K, 2) in the S x S frame and labels (C, K) for calls of one layout: box
        corners first (labels 2, 3), then points, as ``SAM2ImagePredictor._predict`` orders them."""
        import torch

        w, h = size
        coords, labels = [], []
        for call in calls:
            if len(call.labels) and not np.isin(call.labels, (0, 1)).all():
                raise ValueError(f"point labels must be 0 or 1, got {call.labels.tolist()}")
            xy = np.asarray(call.points, np.float32).reshape(-1, 2)
            lab = np.asarray(call.labels, np.int32).reshape(-1)
            if call.box is not None:
                xy = np.concatenate([np.asarray(call.box, np.float32).reshape(2, 2), xy])
                lab = np.concatenate([np.array([2, 3], np.int32), lab])
            coords.append(xy)
            labels.append(lab)
        xy = torch.from_numpy(np.stack(coords))  # (C, K, 2), image pixels
        xy[..., 0] = xy[..., 0] / w  # transform_coords(normalize=True), same float ops
        xy[..., 1] = xy[..., 1] / h
        xy = xy * self.side
        return xy.to(self.device), torch.from_numpy(np.stack(labels)).to(self.device)

    def low_res_logits(self, embedding: Embedding, calls: Sequence[Call]) -> torch.Tensor:
        """Single-mask logits (C, S/4, S/4) float32 for calls of one layout, one decoder forward."""
        import torch

        model = self.model
        s0, s1, image_embed = embedding.data
        coords, labels = self.prompt_tensors(calls, embedding.size)
        with torch.inference_mode(), self.autocast():
            sparse, dense = model.sam_prompt_encoder(
                points=(coords, labels), boxes=None, masks=None
            )
            low_res, _, _, _ = model.sam_mask_decoder(
                image_embeddings=image_embed,
                image_pe=model.sam_prompt_encoder.get_dense_pe(),
                sparse_prompt_embeddings=sparse,
                dense_prompt_embeddings=dense,
                multimask_output=False,
                repeat_image=len(calls) > 1,
                high_res_features=[s0, s1],
            )
        return low_res[:, 0].float()  # (C, S/4, S/4)
