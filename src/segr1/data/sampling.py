"""Which samples an evaluation runs: all of them (default), or the released evaluation's draw.

* ``all``: every sample, in the reader's order (every RefCOCO expression, every ReasonSeg query).
* ``released``: an emulation, with a stated seed, of how the released evaluation scripts chose
  samples (they were unseeded, so no seed reproduces their exact draw):

  - referring (RefCOCO family): ONE random expression per image;
  - reasoning (ReasonSeg): as many draws as there are images, each an image drawn WITH
    replacement and then one of its queries at random; the k-th draw's sample id gets the
    suffix ``~k`` so a repeated image keeps one mask per draw;
  - foreground: unchanged (the released evaluation ran every image).

Images are told apart by their file path; draws use ``numpy.random.default_rng(seed)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from segr1.data.sample import Sample

SAMPLINGS: tuple[str, ...] = ("all", "released")


def by_image(samples: Sequence[Sample]) -> list[list[Sample]]:
    """Samples grouped by image file, groups in first-seen order."""
    groups: dict[str, list[Sample]] = {}
    for s in samples:
        groups.setdefault(str(s.image_path), []).append(s)
    return list(groups.values())


def released_draw(samples: Sequence[Sample], seed: int) -> list[Sample]:
    """The ``released`` sampling of ``samples`` (see the module docstring)."""
    if not samples or samples[0].task == "foreground":
        return list(samples)
    rng = np.random.default_rng(seed)
    groups = by_image(samples)
    if samples[0].task == "referring":
        return [g[int(rng.integers(len(g)))] for g in groups]
    out = []
    for k in range(len(groups)):
        group = groups[int(rng.integers(len(groups)))]
        drawn = group[int(rng.integers(len(group)))]
        out.append(replace(drawn, id=f"{drawn.id}~{k}"))
    return out


def choose_samples(samples: Sequence[Sample], sampling: str = "all", seed: int = 0) -> list[Sample]:
    """``samples`` under ``sampling`` (``all`` | ``released``)."""
    if sampling not in SAMPLINGS:
        raise ValueError(f"unknown sampling {sampling!r}; choose one of {', '.join(SAMPLINGS)}")
    return list(samples) if sampling == "all" else released_draw(samples, seed)


def describe(sampling: str, seed: int, task: str) -> str:
    """One line for reports."""
    if sampling == "all" or task == "foreground":
        return "every sample, in order"
    what = (
        "one random expression per image"
        if task == "referring"
        else "images drawn with replacement (as many draws as images), one random query each"
    )
    return f"released-evaluation emulation: {what}, seed {seed}"
