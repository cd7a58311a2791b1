"""The frozen SAM 3 backend on transformers' ``Sam3TrackerModel`` + ``Sam3TrackerProcessor``.

SAM 3's tracker takes SAM2-style point / box prompts with SAM2's API (``get_image_embeddings``
once per image, then ``model(image_embeddings=..., input_points=..., input_labels=...,
input_boxes=..., multimask_output=False)``), so :class:`Sam3Segmenter` IS
:class:`~segr1.segment.sam2.Sam2Segmenter` with the model and processor classes swapped: the
same embed, prompt tensors, layout batching, upsampling, threshold at 0 and sigmoid
probabilities. What differs is inside the model: a ViT image encoder at 1008 px with patch 14
(SAM2: Hiera at 1024 px), images normalised with mean = std = 0.5 by ``Sam3ImageProcessor``.

``Sam3Model`` (text / concept prompts, the detector) is not used: the Seg-R1 policy writes boxes
and points. Checkpoints: by hub id (``facebook/sam3``; the tracker weights are read from it and
the detector's are ignored) or a directory written by :meth:`save_pretrained`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from segr1.segment.sam2 import Sam2Segmenter

if TYPE_CHECKING:
    from transformers import Sam3TrackerConfig, Sam3TrackerProcessor


def tiny_sam3_config(image_size: int = 112) -> Sam3TrackerConfig:
    """A very small SAM 3 tracker (about 0.13 M parameters) for tests and offline runs.

    ``image_size`` must be a multiple of 56 (patch 14, and the 4x-upsampled FPN level must be a
    whole multiple of the coarsest): feature maps are S/14 x 4, x 2, x 1.
    """
    from transformers import (
        Sam3TrackerConfig,
        Sam3TrackerMaskDecoderConfig,
        Sam3TrackerPromptEncoderConfig,
        Sam3VisionConfig,
        Sam3ViTConfig,
    )

    if image_size % 56:
        raise ValueError(f"tiny_sam3_config(image_size={image_size}): use a multiple of 56")
    s, grid = image_size, image_size // 14
    backbone = Sam3ViTConfig(
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        image_size=s,
        patch_size=14,
        window_size=4,
        global_attn_indexes=[1],
        pretrain_image_size=s,
    )
    vision = Sam3VisionConfig(
        backbone_config=backbone,
        fpn_hidden_size=32,
        backbone_feature_sizes=[[grid * 4] * 2, [grid * 2] * 2, [grid] * 2],
    )
    prompt = Sam3TrackerPromptEncoderConfig(
        hidden_size=32, image_size=s, patch_size=14, mask_input_channels=8
    )
    decoder = Sam3TrackerMaskDecoderConfig(
        hidden_size=32, mlp_dim=64, num_attention_heads=2, iou_head_hidden_dim=32
    )
    return Sam3TrackerConfig(
        vision_config=vision, prompt_encoder_config=prompt, mask_decoder_config=decoder
    )


def default_sam3_processor(config: Sam3TrackerConfig) -> Sam3TrackerProcessor:
    """The stock SAM 3 processor (resize to S x S, mean = std = 0.5) for ``config``."""
    from transformers import Sam3ImageProcessor, Sam3TrackerProcessor

    side = int(config.prompt_encoder_config.image_size)
    return Sam3TrackerProcessor(
        image_processor=Sam3ImageProcessor(size={"height": side, "width": side})
    )


class Sam3Segmenter(Sam2Segmenter):
    """A frozen transformers SAM 3 tracker (point / box prompts) behind the Segmenter protocol."""

    name = "sam3"
    model_class = "Sam3TrackerModel"
    processor_class = "Sam3TrackerProcessor"
    label = "SAM 3"
    example_id = "facebook/sam3"

    @staticmethod
    def default_processor(config: Any) -> Any:
        return default_sam3_processor(config)
