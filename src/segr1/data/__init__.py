"""Datasets -> one :class:`Sample` type; readers, the HF training view, the synthetic benchmark.

``load_dataset(name, root, split, **opts) -> list[Sample]`` reads every supported benchmark
(:mod:`segr1.data.registry`); :func:`to_hf_dataset` turns samples into training rows
(:mod:`segr1.data.hf`); :mod:`segr1.data.synth` writes the synthetic camouflage benchmark.
Heavy libraries (datasets, pycocotools, OpenCV) load only when used.
"""

from segr1.data.folders import FolderDataset
from segr1.data.hf import to_hf_dataset
from segr1.data.registry import dataset_names, load_dataset
from segr1.data.sample import Sample, check_unique_ids

__all__ = [
    "FolderDataset",
    "Sample",
    "check_unique_ids",
    "dataset_names",
    "load_dataset",
    "to_hf_dataset",
]
