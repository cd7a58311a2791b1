"""Official ``sam2`` weights -> transformers ``Sam2Model`` weights, in that one direction.

:func:`convert_state_dict` is a pure function over tensors: it renames every key of an official
``SAM2Base`` state dict to the transformers name, drops the video-only modules (memory
attention / encoder, object pointers, temporal encodings: the image path never reads them), and
checks the result against the target model's key -> shape table. Every official key must be
renamed or explicitly dropped, every target key produced, every shape equal; otherwise
:class:`ConversionError` lists the offending keys. Two keys are not one-to-one:

* the four ``point_embeddings.{0..3}`` (1, D) tables become one ``point_embed`` (4, D) table;
* the prompt encoder's random-Fourier matrix feeds both transformers copies
  (``shared_image_embedding`` for the dense image PE, ``prompt_encoder.shared_embedding``).

:func:`transformers_config` derives the matching ``Sam2Config`` from an official model and
:func:`transformers_segmenter` builds a :class:`Sam2Segmenter` from an official model or ``.pt``.
torch and transformers are imported lazily.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch
    from transformers import Sam2Config

    from segr1.segment.sam2 import Sam2Segmenter

#: Official modules that only the video predictor uses: accounted for, not converted.
VIDEO_ONLY = re.compile(
    r"^(memory_attention|memory_encoder|mask_downsample|obj_ptr_proj|obj_ptr_tpos_proj)\."
    r"|^(maskmem_tpos_enc|no_mem_pos_enc|no_obj_ptr|no_obj_embed_spatial)$"
)
PE_MATRIX = "sam_prompt_encoder.pe_layer.positional_encoding_gaussian_matrix"
PE_TARGETS = (
    "shared_image_embedding.positional_embedding",
    "prompt_encoder.shared_embedding.positional_embedding",
)
POINT_EMBEDDING = re.compile(r"^sam_prompt_encoder\.point_embeddings\.(\d+)\.weight$")
POINT_TARGET = "prompt_encoder.point_embed.weight"
#: An official ``MLP``'s linear layers: ``<prefix>.layers.<i>.<weight|bias>``.
MLP_LAYER = re.compile(
    r"^(.*\.(?:mlp|output_hypernetworks_mlps\.\d+|iou_prediction_head|pred_obj_score_head))"
    r"\.layers\.(\d+)\.(weight|bias)$"
)
#: One-to-one renames, first match wins (MLP layers are renamed before these apply).
RENAMES: tuple[tuple[str, str], ...] = (
    (r"^image_encoder\.trunk\.patch_embed\.proj\.", "vision_encoder.backbone.patch_embed.projection."),
    (r"^image_encoder\.trunk\.blocks\.(\d+)\.norm([12])\.", r"vision_encoder.backbone.blocks.\1.layer_norm\2."),
    (r"^image_encoder\.trunk\.", "vision_encoder.backbone."),
    (r"^image_encoder\.neck\.convs\.(\d+)\.conv\.", r"vision_encoder.neck.convs.\1."),
    (r"^no_mem_embed$", "no_memory_embedding"),
    (r"^sam_prompt_encoder\.mask_downscaling\.0\.", "prompt_encoder.mask_embed.conv1."),
    (r"^sam_prompt_encoder\.mask_downscaling\.1\.", "prompt_encoder.mask_embed.layer_norm1."),
    (r"^sam_prompt_encoder\.mask_downscaling\.3\.", "prompt_encoder.mask_embed.conv2."),
    (r"^sam_prompt_encoder\.mask_downscaling\.4\.", "prompt_encoder.mask_embed.layer_norm2."),
    (r"^sam_prompt_encoder\.mask_downscaling\.6\.", "prompt_encoder.mask_embed.conv3."),
    (r"^sam_prompt_encoder\.(no_mask_embed|not_a_point_embed)\.", r"prompt_encoder.\1."),
    (r"^sam_mask_decoder\.output_upscaling\.0\.", "mask_decoder.upscale_conv1."),
    (r"^sam_mask_decoder\.output_upscaling\.1\.", "mask_decoder.upscale_layer_norm."),
    (r"^sam_mask_decoder\.output_upscaling\.3\.", "mask_decoder.upscale_conv2."),
    (r"^sam_mask_decoder\.transformer\.(.+)\.out_proj\.", r"mask_decoder.transformer.\1.o_proj."),
    (r"^sam_mask_decoder\.transformer\.layers\.(\d+)\.norm([1-4])\.", r"mask_decoder.transformer.layers.\1.layer_norm\2."),
    (r"^sam_mask_decoder\.transformer\.norm_final_attn\.", "mask_decoder.transformer.layer_norm_final_attn."),
    (r"^sam_mask_decoder\.(?!output_upscaling\.)", "mask_decoder."),
)  # fmt: skip
_RENAMES = tuple((re.compile(p), r) for p, r in RENAMES)


class ConversionError(ValueError):
    """The official state dict does not map onto the target model (the message lists keys)."""


def mlp_layer_counts(keys: list[str]) -> dict[str, int]:
    """Number of linear layers of each official MLP, by MLP prefix."""
    counts: dict[str, int] = {}
    for key in keys:
        m = MLP_LAYER.match(key)
        if m:
            counts[m[1]] = max(counts.get(m[1], 0), int(m[2]) + 1)
    return counts


def rename(key: str, mlp_layers: Mapping[str, int]) -> str | None:
    """The transformers name of one official key, or None when no rule covers it.

    An official ``MLP`` of n layers ``layers.0 .. layers.{n-1}`` becomes transformers'
    ``proj_in``, ``layers.0 .. layers.{n-3}``, ``proj_out``.
    """
    m = MLP_LAYER.match(key)
    if m:
        prefix, i, kind = m[1], int(m[2]), m[3]
        last = mlp_layers[prefix] - 1
        name = "proj_in" if i == 0 else "proj_out" if i == last else f"layers.{i - 1}"
        key = f"{prefix}.{name}.{kind}"
    for pattern, repl in _RENAMES:
        if pattern.search(key):
            return pattern.sub(repl, key, count=1)
    return None


def _point_table(official: Mapping[str, torch.Tensor], indices: dict[int, str]) -> torch.Tensor:
    """The four (1, D) point embeddings stacked into one (4, D) table, in index order."""
    import torch

    if sorted(indices) != list(range(len(indices))):
        raise ConversionError(f"point_embeddings indices not contiguous: {sorted(indices)}")
    return torch.cat([official[indices[i]] for i in range(len(indices))], dim=0)  # (K, D)


def _check(
    out: Mapping[str, torch.Tensor],
    expected: Mapping[str, Any],
    unmapped: list[str],
) -> None:
    """Raise :class:`ConversionError` listing unmapped, missing, unexpected and misshapen keys."""
    problems = []
    missing = sorted(set(expected) - set(out))
    unexpected = sorted(set(out) - set(expected))
    shapes = [
        f"{k}: {tuple(out[k].shape)} vs {tuple(expected[k])}"
        for k in sorted(set(out) & set(expected))
        if tuple(out[k].shape) != tuple(expected[k])
    ]
    for title, keys in (
        ("official keys no rule maps", unmapped),
        ("transformers keys missing from the conversion", missing),
        ("converted keys transformers does not have", unexpected),
        ("shape mismatches (converted vs transformers)", shapes),
    ):
        if keys:
            problems.append(f"{len(keys)} {title}: " + ", ".join(keys))
    if problems:
        raise ConversionError(
            "SAM2 official -> transformers conversion failed:\n" + "\n".join(problems)
        )


def convert_state_dict(
    official: Mapping[str, torch.Tensor], expected: Mapping[str, Any]
) -> dict[str, torch.Tensor]:
    """Official ``SAM2Base`` state dict -> transformers ``Sam2Model`` state dict.

    ``expected`` maps every transformers key to its shape (see :func:`expected_shapes`); any
    unmapped official key, missing or extra transformers key or shape mismatch raises
    :class:`ConversionError` naming them all. Tensors are shared, not copied.
    """
    layers = mlp_layer_counts(list(official))
    out: dict[str, torch.Tensor] = {}
    points: dict[int, str] = {}
    unmapped = []
    for key, tensor in official.items():
        if VIDEO_ONLY.search(key):
            continue
        if key == PE_MATRIX:
            out.update(dict.fromkeys(PE_TARGETS, tensor))
        elif m := POINT_EMBEDDING.match(key):
            points[int(m[1])] = key
        elif (name := rename(key, layers)) is not None:
            out[name] = tensor
        else:
            unmapped.append(key)
    if points:
        out[POINT_TARGET] = _point_table(official, points)
    _check(out, expected, unmapped)
    return out


def expected_shapes(model: torch.nn.Module) -> dict[str, tuple[int, ...]]:
    """A model's state-dict key -> shape table (the ``expected`` of :func:`convert_state_dict`)."""
    return {k: tuple(v.shape) for k, v in model.state_dict().items()}


def _require(ok: bool, what: str) -> None:
    if not ok:
        raise ConversionError(f"transformers' Sam2Model cannot express this official model: {what}")


def _hiera_config(trunk: Any, side: int) -> Any:
    """``Sam2HieraDetConfig`` of an official ``Hiera`` trunk fed S x S images."""
    from transformers import Sam2HieraDetConfig

    ends = list(trunk.stage_ends)
    conv = trunk.patch_embed.proj
    first = trunk.blocks[0]
    return Sam2HieraDetConfig(
        hidden_size=conv.out_channels,
        num_attention_heads=first.attn.num_heads,
        image_size=[side, side],
        patch_kernel_size=list(conv.kernel_size),
        patch_stride=list(conv.stride),
        patch_padding=list(conv.padding),
        query_stride=list(trunk.q_stride),
        window_positional_embedding_background_size=list(trunk.window_pos_embed_bkg_spatial_size),
        num_query_pool_stages=len(trunk.q_pool_blocks),
        blocks_per_stage=[b - a for a, b in zip([-1, *ends[:-1]], ends, strict=True)],
        embed_dim_per_stage=[trunk.blocks[e].dim_out for e in ends],
        num_attention_heads_per_stage=[trunk.blocks[e].attn.num_heads for e in ends],
        window_size_per_stage=list(trunk.window_spec),
        global_attention_blocks=list(trunk.global_att_blocks),
        mlp_ratio=first.mlp.layers[0].out_features / first.dim_out,
    )


def transformers_config(model: Any) -> Sam2Config:
    """The ``Sam2Config`` whose ``Sam2Model`` computes what this official ``SAM2Base`` does on
    images; raises :class:`ConversionError` for options transformers does not implement."""
    from transformers import (
        Sam2Config,
        Sam2MaskDecoderConfig,
        Sam2PromptEncoderConfig,
        Sam2VisionConfig,
    )

    encoder, dec = model.image_encoder, model.sam_mask_decoder
    neck = encoder.neck
    _require(encoder.scalp == 1 and model.use_high_res_features_in_sam, "scalp / high-res features")
    _require(neck.fpn_interp_model == "nearest" and neck.fuse_type == "sum", "FPN fusion")
    _require(model.directly_add_no_mem_embed and dec.pred_obj_scores, "no-mem embed / obj scores")
    side, stride = int(model.image_size), int(model.backbone_stride)
    backbone = _hiera_config(encoder.trunk, side)
    conv = neck.convs[0].conv
    vision = Sam2VisionConfig(
        backbone_config=backbone,
        backbone_channel_list=list(neck.backbone_channel_list),
        backbone_feature_sizes=[[side // s, side // s] for s in (4, 8, 16)],
        fpn_hidden_size=neck.d_model,
        fpn_kernel_size=conv.kernel_size[0],
        fpn_stride=conv.stride[0],
        fpn_padding=conv.padding[0],
        fpn_top_down_levels=list(neck.fpn_top_down_levels),
    )
    prompt = Sam2PromptEncoderConfig(
        hidden_size=model.sam_prompt_embed_dim,
        image_size=side,
        patch_size=stride,
        mask_input_channels=model.sam_prompt_encoder.mask_downscaling[3].out_channels,
    )
    attn = dec.transformer.layers[0].cross_attn_token_to_image
    decoder = Sam2MaskDecoderConfig(
        hidden_size=dec.transformer_dim,
        mlp_dim=dec.transformer.mlp_dim,
        num_hidden_layers=dec.transformer.depth,
        num_attention_heads=dec.transformer.num_heads,
        attention_downsample_rate=attn.embedding_dim // attn.internal_dim,
        num_multimask_outputs=dec.num_multimask_outputs,
        iou_head_depth=dec.iou_prediction_head.num_layers,
        iou_head_hidden_dim=dec.iou_prediction_head.layers[0].out_features,
        dynamic_multimask_via_stability=bool(dec.dynamic_multimask_via_stability),
        dynamic_multimask_stability_delta=float(dec.dynamic_multimask_stability_delta),
        dynamic_multimask_stability_thresh=float(dec.dynamic_multimask_stability_thresh),
    )
    return Sam2Config(
        vision_config=vision, prompt_encoder_config=prompt, mask_decoder_config=decoder
    )


def transformers_segmenter(
    source: Any,
    config: Sam2Config | None = None,
    official_config: str | None = None,
    **kwargs: Any,
) -> Sam2Segmenter:
    """A :class:`Sam2Segmenter` with the weights of an official ``SAM2Base`` or ``.pt`` file.

    ``config`` defaults to :func:`transformers_config` of the official model; ``official_config``
    names the official config of a ``.pt`` whose file name does not tell it. ``kwargs`` go to
    :class:`Sam2Segmenter` (device, dtype, bgr, batching, ...).
    """
    import torch
    from transformers import Sam2Model

    from segr1.segment.sam2 import Sam2Segmenter, default_processor
    from segr1.segment.sam2_official import (
        build_official_model,
        infer_config,
        load_official_checkpoint,
    )

    if isinstance(source, str | Path):
        model = build_official_model(official_config or infer_config(source))
        load_official_checkpoint(model, source)
        source = model
    config = config or transformers_config(source)
    with torch.random.fork_rng(devices=[]):
        target = Sam2Model(config)
    weights = convert_state_dict(source.state_dict(), expected_shapes(target))
    target.load_state_dict(weights, strict=True)
    return Sam2Segmenter(target, default_processor(config), **kwargs)
