"""The official-``sam2`` backend against the transformers backend, on the same random weights.

An official SAM2.1 hiera-tiny (random, seeded, every tensor jittered so that no two same-shaped
tensors are equal: a swapped mapping cannot hide behind the init's ones/zeros) is converted by
``sam2_convert`` into transformers' ``Sam2Model(hiera_tiny_config())``; both segment the same
non-square image with the same prompts.

Measured on the 2-core CPU (float32, 240 x 360 image, 1024 px encoder):

* same pixels into both encoders: feature maps bit-identical; low-res logits (which span about
  +-0.5) differ by at most 4.5e-7, IoU and object scores likewise; thresholded masks agree on
  every pixel. Asserted: ``LOGIT_TOL`` = 1e-5 on logits and scores, ``PIXEL_TOL`` = 1e-4 of
  the pixels may disagree.
* each package's own preprocessing: transformers resizes the uint8 image and rounds it to uint8
  before normalising, the official ``SAM2Transforms`` resizes the float image (same bilinear,
  antialiased resize, no rounding): encoder inputs differ by up to 1/255/std (0.0173), features
  by up to 0.064, logits by up to 0.0083, masks on at most 0.14 % of the pixels. Asserted:
  ``E2E_LOGIT_TOL`` = 0.02 on logits, ``E2E_PIXEL_TOL`` = 0.5 % of the pixels.

With random weights the single-mask token is never stable (stability 0.73-0.80 < 0.98), so
decode() always takes the dynamic fallback to the best multimask token; token 0 is compared with
the fallback switched off.
"""

import subprocess
import sys

import numpy as np
import pytest
import torch

from segr1.segment import Sam2OfficialSegmenter, build_segmenter
from segr1.segment.base import Call, Embedding
from segr1.segment.sam2 import hiera_tiny_config
from segr1.segment.sam2_convert import (
    ConversionError,
    convert_state_dict,
    expected_shapes,
    transformers_segmenter,
)
from segr1.segment.sam2_official import infer_config

LOGIT_TOL, PIXEL_TOL = 1e-5, 1e-4
E2E_LOGIT_TOL, E2E_PIXEL_TOL = 0.02, 0.005
H, W = 240, 360


def make_image() -> np.ndarray:
    """A non-square (240, 360, 3) uint8 image: textured background, one red rectangle."""
    image = (np.random.default_rng(0).random((H, W, 3)) * 60 + 80).astype(np.uint8)
    image[60:180, 100:260] = (200, 60, 40)
    return image


def call(box=None, points=(), labels=()) -> Call:
    return Call(
        None if box is None else np.asarray(box, np.float32),
        np.asarray(points, np.float32).reshape(-1, 2),
        np.asarray(labels, np.int64).reshape(-1),
    )


KINDS = {
    "box": [call([100, 60, 260, 180])],
    "box+points": [call([90, 50, 270, 190], [[180, 120], [110, 70]], [1, 0])],
    "points": [call(None, [[180, 120], [300, 200], [150, 100]], [1, 0, 1])],
    "one point": [call(None, [[180, 120]], [1])],
}
BATCH = [  # one decode: box layouts with 0, 1, 2 points and point layouts with 1, 3 points
    call([100, 60, 260, 180], [[180, 120], [110, 70]], [1, 0]),
    call(None, [[180, 120]], [1]),
    call([20, 20, 200, 200]),
    call([150, 40, 350, 230], [[200, 100]], [1]),
    call(None, [[30, 30], [300, 200], [180, 120]], [1, 0, 1]),
    call([10, 10, 120, 90]),
]


def jitter(model: torch.nn.Module, seed: int = 1, scale: float = 0.02) -> None:
    """Add seeded noise to every parameter and buffer (in place)."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for tensor in model.state_dict().values():
            if tensor.is_floating_point():
                tensor.add_(torch.randn(tensor.shape, generator=gen) * scale)


@pytest.fixture(scope="module")
def official():
    seg = Sam2OfficialSegmenter.from_config(seed=0)
    jitter(seg.model)
    return seg


@pytest.fixture(scope="module")
def converted(official):
    return transformers_segmenter(official.model, config=hiera_tiny_config())


@pytest.fixture(scope="module")
def embeddings(official, converted):
    """Each encoder runs once per input: official; transformers on the official pixels;
    transformers on its own preprocessing."""
    image = make_image()
    with torch.inference_mode():
        shared = converted.model.get_image_embeddings(official.pixel_values(image))
    return {
        "official": official.embed(image),
        "shared": Embedding(size=(W, H), data=tuple(shared)),
        "own": converted.embed(image),
    }


def hf_logits(seg, embedding: Embedding, calls) -> torch.Tensor:
    """Transformers single-mask low-res logits (C, 256, 256) for calls of one layout."""
    inputs = seg.prompt_tensors(calls, embedding.size)
    with torch.inference_mode():
        out = seg.model(image_embeddings=list(embedding.data), multimask_output=False, **inputs)
    return out.pred_masks[0, :, 0].float()


def assert_nontrivial(masks: np.ndarray) -> None:
    fg = masks.reshape(len(masks), -1).mean(axis=1)
    assert ((fg > 0.01) & (fg < 0.99)).all(), f"trivial masks, foreground fractions {fg}"


@pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated:FutureWarning")
def test_preprocessing_is_the_official_one(official, converted):
    from sam2.utils.transforms import SAM2Transforms

    image = make_image()
    ours = official.pixel_values(image)  # (1, 3, 1024, 1024)
    torch.testing.assert_close(ours[0], SAM2Transforms(1024, 0.0)(image), rtol=0, atol=0)
    theirs = converted.pixel_values(image)  # uint8 resize + rounding, then normalise
    gap = float((ours - theirs).abs().max())
    assert 0 < gap <= 1 / 255 / 0.224 + 1e-6


def test_encoders_agree(embeddings):
    for a, b, c in zip(*(embeddings[k].data for k in ("official", "shared", "own")), strict=True):
        assert a.shape == b.shape
        assert float((a - b).abs().max()) <= LOGIT_TOL
        assert float((a - c).abs().max()) <= 0.1  # preprocessing only


@pytest.mark.parametrize("kind", list(KINDS))
def test_masks_agree_for_each_prompt_kind(kind, official, converted, embeddings):
    calls = KINDS[kind]
    ours = official.low_res_logits(embeddings["official"], calls)  # (C, 256, 256)
    assert float(ours.abs().max()) > 0.05
    assert (
        float((ours - hf_logits(converted, embeddings["shared"], calls)).abs().max()) <= LOGIT_TOL
    )
    own = hf_logits(converted, embeddings["own"], calls)
    assert float((ours - own).abs().max()) <= E2E_LOGIT_TOL
    masks = official.decode(embeddings["official"], calls)
    assert masks.shape == (len(calls), H, W) and masks.dtype == bool
    assert_nontrivial(masks)
    assert (masks != converted.decode(embeddings["shared"], calls)).mean() <= PIXEL_TOL
    assert (masks != converted.decode(embeddings["own"], calls)).mean() <= E2E_PIXEL_TOL


def official_heads(seg, embedding: Embedding, calls, multimask: bool):
    """The official decoder's raw outputs: logits (C, M, 256, 256), IoU (C, M), objectness (C, 1)."""
    model = seg.model
    s0, s1, image_embed = embedding.data
    points = seg.prompt_tensors(calls, embedding.size)
    with torch.inference_mode():
        sparse, dense = model.sam_prompt_encoder(points=points, boxes=None, masks=None)
        logits, iou, _, objectness = model.sam_mask_decoder(
            image_embed, model.sam_prompt_encoder.get_dense_pe(), sparse, dense,
            multimask, len(calls) > 1, [s0, s1],
        )  # fmt: skip
    return logits, iou, objectness


@pytest.mark.parametrize("multimask", [True, False])
def test_every_mask_token_iou_and_object_score_agree(
    multimask, official, converted, embeddings, monkeypatch
):
    """With random weights the single mask is never stable, so decode() always takes the
    dynamic fallback (best of tokens 1-3): compare token 0 with the fallback off, and 1-3."""
    if not multimask:
        monkeypatch.setattr(official.model.sam_mask_decoder, "dynamic_multimask_via_stability", 0)
        monkeypatch.setattr(converted.model.mask_decoder, "dynamic_multimask_via_stability", 0)
    calls = KINDS["box+points"] + [call([20, 20, 200, 200], [[100, 100], [30, 150]], [1, 0])]
    logits, iou, objectness = official_heads(official, embeddings["official"], calls, multimask)
    inputs = converted.prompt_tensors(calls, embeddings["shared"].size)
    with torch.inference_mode():
        out = converted.model(
            image_embeddings=list(embeddings["shared"].data), multimask_output=multimask, **inputs
        )
    assert logits.shape == (2, 3 if multimask else 1, 256, 256)
    assert float(logits.abs().max()) > 0.05 and float(iou.std()) > 0
    torch.testing.assert_close(out.pred_masks[0], logits, rtol=0, atol=LOGIT_TOL)
    torch.testing.assert_close(out.iou_scores[0], iou, rtol=0, atol=LOGIT_TOL)
    torch.testing.assert_close(out.object_score_logits[0], objectness, rtol=0, atol=LOGIT_TOL)


def test_one_batch_of_mixed_layouts_agrees_and_equals_each_call_alone(
    official, converted, embeddings
):
    ours = official.decode(embeddings["official"], BATCH)
    assert_nontrivial(ours)
    assert (ours != converted.decode(embeddings["shared"], BATCH)).mean() <= PIXEL_TOL
    assert (ours != converted.decode(embeddings["own"], BATCH)).mean() <= E2E_PIXEL_TOL
    for k, c in enumerate(BATCH):
        np.testing.assert_array_equal(ours[k], official.decode(embeddings["official"], [c])[0])


def test_embed_batch_is_one_forward_and_equals_embed(official, embeddings):
    """Two images of different sizes through one ``forward_image``: each image's levels equal
    its own ``embed`` (up to batched-kernel rounding), and its masks are the same."""
    other = make_image()[:200, :300][::-1].copy()
    official.max_embed_batch = 2  # the CPU default is 1
    try:
        batch = official.embed_batch([make_image(), other])
    finally:
        official.max_embed_batch = 1
    assert [e.size for e in batch] == [(W, H), (300, 200)]
    for x, y in zip(batch[0].data, embeddings["official"].data, strict=True):
        assert x.shape == y.shape and float((x - y).abs().max()) <= LOGIT_TOL
    mine = official.decode(batch[0], BATCH)
    assert (mine != official.decode(embeddings["official"], BATCH)).mean() <= PIXEL_TOL


def test_conversion_fails_loudly_on_missing_extra_and_misshapen_keys(official, converted):
    state = dict(official.model.state_dict())
    shapes = expected_shapes(converted.model)
    del state["image_encoder.trunk.blocks.3.attn.qkv.weight"]
    state["sam_mask_decoder.mystery.weight"] = torch.zeros(1)
    state["image_encoder.neck.convs.0.conv.bias"] = torch.zeros(7)
    with pytest.raises(ConversionError) as err:
        convert_state_dict(state, shapes)
    message = str(err.value)
    assert "vision_encoder.backbone.blocks.3.attn.qkv.weight" in message  # missing
    assert "mask_decoder.mystery.weight" in message  # unexpected
    assert "vision_encoder.neck.convs.0.bias: (7,) vs (256,)" in message  # shape
    state = dict(official.model.state_dict(), **{"bogus_top_level": torch.zeros(1)})
    with pytest.raises(ConversionError, match="no rule maps: bogus_top_level"):
        convert_state_dict(state, shapes)


def test_bgr_switch_swaps_channels_before_the_encoder(official):
    image = make_image()
    bgr = Sam2OfficialSegmenter(official.model, bgr=True)
    assert not torch.equal(bgr.pixel_values(image), official.pixel_values(image))
    torch.testing.assert_close(
        bgr.pixel_values(image), official.pixel_values(image[..., ::-1].copy()), rtol=0, atol=0
    )


def test_bad_labels_and_images_are_refused(official, embeddings):
    with pytest.raises(ValueError, match="labels must be 0 or 1"):
        official.decode(embeddings["official"], [call([0, 0, 10, 10], [[5, 5]], [2])])
    with pytest.raises(ValueError, match="uint8 RGB"):
        official.embed(make_image()[..., 0])


def test_pt_checkpoint_loads_through_the_factory_and_converts(official, converted, tmp_path):
    path = tmp_path / "sam2.1_hiera_tiny.pt"
    torch.save({"model": official.model.state_dict()}, path)
    loaded = build_segmenter(str(path), cache_bytes=2_000_000)
    assert isinstance(loaded, Sam2OfficialSegmenter) and loaded.cache.max_bytes == 2_000_000
    assert not any(p.requires_grad for p in loaded.model.parameters())
    for k, v in official.model.state_dict().items():
        assert torch.equal(loaded.model.state_dict()[k], v), k
    from_pt = transformers_segmenter(path)  # config derived from the official model
    assert from_pt.model.config.to_dict() == converted.model.config.to_dict()
    for k, v in converted.model.state_dict().items():
        assert torch.equal(from_pt.model.state_dict()[k], v), k


def test_factory_random_official_tiny_is_seeded():
    rng_state = torch.random.get_rng_state()
    a = build_segmenter("sam2-official-random-tiny", cache_bytes=0)
    assert torch.equal(torch.random.get_rng_state(), rng_state)  # global RNG untouched
    b = Sam2OfficialSegmenter.from_config(seed=0)
    assert isinstance(a, Sam2OfficialSegmenter) and a.cache is None
    for p, q in zip(a.model.parameters(), b.model.parameters(), strict=True):
        assert torch.equal(p, q)


@pytest.mark.parametrize(
    ("name", "config"),
    [
        ("sam2.1_hiera_large.pt", "configs/sam2.1/sam2.1_hiera_l.yaml"),
        ("sam2.1_hiera_base_plus.pt", "configs/sam2.1/sam2.1_hiera_b+.yaml"),
        ("sam2.1_hiera_small.pt", "configs/sam2.1/sam2.1_hiera_s.yaml"),
        ("sam2.1_hiera_tiny.pt", "configs/sam2.1/sam2.1_hiera_t.yaml"),
        ("sam2_hiera_large.pt", "configs/sam2/sam2_hiera_l.yaml"),
        ("sam2_hiera_tiny.pt", "configs/sam2/sam2_hiera_t.yaml"),
    ],
)
def test_config_is_inferred_from_released_file_names(name, config):
    assert infer_config(f"/ckpt/{name}") == config


def test_unknown_checkpoint_name_error_says_how_to_pass_config(tmp_path):
    path = tmp_path / "my_finetune.pt"
    path.write_bytes(b"")
    with pytest.raises(ValueError, match=r"my_finetune\.pt.*config="):
        Sam2OfficialSegmenter.from_checkpoint(path)
    with pytest.raises(FileNotFoundError, match="nowhere"):
        Sam2OfficialSegmenter.from_checkpoint(tmp_path / "nowhere" / "sam2.1_hiera_large.pt")


def test_missing_package_error_names_the_install_command(monkeypatch):
    for module in ("sam2", "sam2.build_sam"):
        monkeypatch.setitem(sys.modules, module, None)
    with pytest.raises(ImportError, match=r"pip install 'segr1\[sam2\]'"):
        Sam2OfficialSegmenter.from_config()


def test_segment_package_imports_without_sam2():
    code = (
        "import sys; sys.modules['sam2'] = None\n"
        "import segr1.segment as s\n"
        "assert 'sam2-official-random-tiny' in s.NAMES\n"
        "try:\n    s.build_segmenter('sam2-official-random-tiny')\n"
        "except ImportError as e:\n    print(e)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "pip install 'segr1[sam2]'" in out.stdout
