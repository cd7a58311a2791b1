"""Evaluation protocol profiles: every choice between the released Seg-R1 evaluation and ours.

A :class:`Profile` is a frozen set of switches that ``segr1 eval`` / ``segr1 predict`` /
:class:`segr1.Pipeline` follow; ``metrics.json`` and ``report.md`` name the profile and list what
it implies (:meth:`Profile.conventions`). Two profiles exist:

* ``default``: segr1's corrected protocol. The released prompt strings; the policy and the
  segmenter see the SAME S x S image (the one stretch, :func:`segr1.imaging.stretch`, PIL
  bilinear, lossless, RGB), the image training rows are made of; the shared parser (all boxes,
  any finite numbers); the per-box rule everywhere; binary masks saved; ReasonSeg ignore pixels
  excluded from intersection and union; gIoU 1.0 for an empty prediction on an empty ground
  truth; 400 new tokens.
* ``released``: the released evaluation scripts step by step (SEG-R1.md section 6a): the policy
  sees the image stretched with PIL's default filter (bicubic) after a JPEG (quality 75) round
  trip, resized by ``qwen-vl-utils`` as the released code's own preprocessing; the segmenter gets
  the bilinear S x S stretch channel-swapped (BGR); non-negative integers only; ReasonSeg reads
  only the first box (closing tag optional) and makes ONE segmenter call with it and ALL points;
  foreground masks are saved soft (the S x S mask x 255 resized bilinearly, not re-binarised);
  ReasonSeg ignore pixels count as background; gIoU 0 for empty/empty; 1024 new tokens for
  foreground, 512 for referring / reasoning.

Both profiles give a mask to every usable answer (:attr:`segr1.protocol.Answer.usable`: a box,
points, or both), as the released evaluation does.

:data:`SCORING_FIELDS` (``ignore``, ``empty_iou``) change only how saved masks are scored: a
finished run can be re-scored with them changed without predicting again.

What neither profile reproduces: the released evaluator reuses the previous image's prediction
when an answer is unparseable (or crashes on the first). segr1 scores it as an empty mask and
counts it. The released sampling (one random expression per RefCOCO image, ReasonSeg images
drawn with replacement, unseeded) is a separate switch (``--sample released --seed K``,
:mod:`segr1.data.sampling`), not part of a profile, so every profile evaluates every sample by
default.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

from segr1.protocol.parse import (
    DEFAULT_RULES,
    RELEASED_REASONSEG_RULES,
    RELEASED_RULES,
    ParseRules,
)

PROFILE_NAMES: tuple[str, ...] = ("default", "released")
QUERY_TASKS = ("referring", "reasoning")
#: Switches that change only how saved masks are scored.
SCORING_FIELDS: tuple[str, ...] = ("ignore", "empty_iou")


@dataclass(frozen=True)
class Profile:
    """The switches of one evaluation protocol (see the module docstring)."""

    name: str
    #: The policy's S x S stretch: None = the one stretch the segmenter and training share;
    #: a filter name = the original stretched again with that filter for the policy only.
    policy_resample: str | None = None
    #: JPEG quality of the policy's input round trip; None: lossless.
    policy_jpeg_quality: int | None = None
    #: Resize the policy's input with ``qwen-vl-utils`` (``fetch_image``) before the processor.
    policy_qwen_vl_utils: bool = False
    #: Hand the segmenter a channel-swapped (BGR) image.
    bgr: bool = False
    max_new_tokens_foreground: int = 400
    max_new_tokens_query: int = 400
    integers_only: bool = False
    #: ReasonSeg: first box only (closing tag optional), one call with the first box + ALL points.
    reasoning_first_box: bool = False
    #: Save foreground predictions soft (bilinear resize of the S x S mask, not re-binarised).
    soft_foreground: bool = False
    #: ReasonSeg ignore pixels: "exclude" (from intersection and union) or "background".
    ignore: str = "exclude"
    #: gIoU of a sample with an empty prediction and an empty ground truth.
    empty_iou: float = 1.0

    def __post_init__(self) -> None:
        from segr1.imaging import RESAMPLE

        if self.ignore not in ("exclude", "background"):
            raise ValueError(f"ignore={self.ignore!r}; choose 'exclude' or 'background'")
        if self.policy_resample is not None and self.policy_resample not in RESAMPLE:
            raise ValueError(
                f"policy_resample={self.policy_resample!r}; choose none or one of "
                f"{', '.join(RESAMPLE)}"
            )
        q = self.policy_jpeg_quality
        if q is not None and not 1 <= q <= 100:
            raise ValueError(f"policy_jpeg_quality={q}; choose 1..100 or none")
        if min(self.max_new_tokens_foreground, self.max_new_tokens_query) < 1:
            raise ValueError("max_new_tokens_* must be positive")
        if not 0.0 <= self.empty_iou <= 1.0:
            raise ValueError(f"empty_iou={self.empty_iou}; choose a value in [0, 1]")

    def rules(self, task: str) -> ParseRules:
        """How answers of ``task`` are parsed."""
        if self.reasoning_first_box and task == "reasoning":
            return replace(RELEASED_REASONSEG_RULES, integers_only=self.integers_only)
        return RELEASED_RULES if self.integers_only else DEFAULT_RULES

    def joint(self, task: str) -> bool:
        """Whether ``task`` uses the one-call (first box + all points) rule."""
        return self.reasoning_first_box and task == "reasoning"

    def max_new_tokens(self, task: str) -> int:
        return self.max_new_tokens_query if task in QUERY_TASKS else self.max_new_tokens_foreground

    def soft(self, task: str) -> bool:
        """Whether ``task``'s saved predictions keep soft levels."""
        return self.soft_foreground and task == "foreground"

    def generation(self) -> dict[str, object]:
        """The switches that decide the saved masks (all but :data:`SCORING_FIELDS`)."""
        return {k: v for k, v in asdict(self).items() if k not in ("name", *SCORING_FIELDS)}

    def conventions(
        self, task: str, segment_at: str = "model", max_new_tokens: int | None = None
    ) -> dict[str, str]:
        """What this profile implies for ``task``, one line per switch (for reports);
        ``max_new_tokens``: the budget actually used, when it overrides the profile's."""
        from segr1.imaging import MASK_RESAMPLE, STRETCH_RESAMPLE

        stretch = f"the S x S stretch (PIL {self.policy_resample or STRETCH_RESAMPLE})"
        policy = stretch
        if self.policy_jpeg_quality is not None:
            policy += f", JPEG quality {self.policy_jpeg_quality} round trip"
        if self.policy_qwen_vl_utils:
            policy += ", resized by qwen-vl-utils (fetch_image) to the processor's patch grid"
        if segment_at == "original":
            segmenter = "the original image (prompts scaled to it)"
        elif self.policy_resample is None:
            segmenter = f"the S x S stretch (PIL {STRETCH_RESAMPLE}) the policy sees, lossless"
        else:
            segmenter = f"the S x S stretch (PIL {STRETCH_RESAMPLE}; the policy's differs)"
        resized = (
            "at the original size (no resize)"
            if segment_at == "original"
            else f"S x S mask resized to the image size (PIL {MASK_RESAMPLE})"
        )
        rules = self.rules(task)
        parse = (
            "only the first <bbox> (closing tag optional)"
            if rules.boxes == "first"
            else "all <bbox> tags"
        ) + ", the first <points> and <labels>"
        parse += "; non-negative integers only" if rules.integers_only else "; any finite numbers"
        out = {
            "profile": self.name,
            "policy input": policy + ", then the processor",
            "segmenter input": segmenter + (", channel-swapped (BGR)" if self.bgr else ", RGB"),
            "max new tokens": str(max_new_tokens or self.max_new_tokens(task)),
            "parsing": parse,
            "prompts to mask": "one call: the first box with ALL points"
            if self.joint(task)
            else "per box: the box with the points inside it; masks OR-ed; points only: one call",
            "saved prediction": f"soft: {resized}, not re-binarised"
            if self.soft(task)
            else f"{resized}, then > 128",
        }
        return out  # the scoring switches (ignore, empty_iou) are described by the scorer


DEFAULT = Profile(name="default")
RELEASED = Profile(
    name="released",
    policy_resample="bicubic",
    policy_jpeg_quality=75,
    policy_qwen_vl_utils=True,
    bgr=True,
    max_new_tokens_foreground=1024,
    max_new_tokens_query=512,
    integers_only=True,
    reasoning_first_box=True,
    soft_foreground=True,
    ignore="background",
    empty_iou=0.0,
)
PROFILES: dict[str, Profile] = {p.name: p for p in (DEFAULT, RELEASED)}


def get_profile(profile: str | Profile) -> Profile:
    """A profile by name (``default`` | ``released``), or the profile given."""
    if isinstance(profile, Profile):
        return profile
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}; choose one of {', '.join(PROFILES)}")
    return PROFILES[profile]


def _value(field_type: str, text: str, key: str) -> object:
    lowered = text.strip().lower()
    if "bool" in field_type:
        if lowered not in ("true", "false"):
            raise ValueError(f"--profile-opt {key}: expected true or false, got {text!r}")
        return lowered == "true"
    if "None" in field_type and lowered in ("none", "null", ""):
        return None
    try:
        if "int" in field_type:
            return int(text)
        if "float" in field_type:
            return float(text)
    except ValueError:
        raise ValueError(f"--profile-opt {key}: expected a number, got {text!r}") from None
    return text


def with_overrides(profile: str | Profile, overrides: list[str] | None) -> Profile:
    """``profile`` with switches changed by ``KEY=VALUE`` items (``--profile-opt``); the
    result's name records them, e.g. ``default+bgr=true``."""
    from dataclasses import fields

    base = get_profile(profile)
    if not overrides:
        return base
    types = {f.name: str(f.type) for f in fields(Profile) if f.name != "name"}
    changes: dict[str, object] = {}
    for item in overrides:
        key, sep, text = item.partition("=")
        key = key.strip().replace("-", "_")
        if not sep or key not in types:
            raise ValueError(
                f"--profile-opt {item!r}: expected KEY=VALUE with KEY one of {', '.join(types)}"
            )
        changes[key] = _value(types[key], text, key)
    suffix = ",".join(f"{k}={str(v).lower()}" for k, v in sorted(changes.items()))
    return replace(base, name=f"{base.name}+{suffix}", **changes)
