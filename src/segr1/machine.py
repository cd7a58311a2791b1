"""What a CPU build ran on. The bytes a training run writes depend on the kernels torch
dispatches to (its CPU capability: AVX2, AVX-512, ...; MKL's and oneDNN's own choices), so a
build records them beside its weights, and a rebuild that differs can say why."""

from __future__ import annotations

import os
import platform
from typing import Any

#: Environment variables that pin the kernels (torch's dispatch, MKL, oneDNN)
ISA_ENV = ("ATEN_CPU_CAPABILITY", "MKL_ENABLE_INSTRUCTIONS", "MKL_CBWR", "ONEDNN_MAX_CPU_ISA")


def cpu_model() -> str:
    """The processor's name (``/proc/cpuinfo``'s model name where there is one)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_record() -> dict[str, Any]:
    """``{"cpu", "cpu_capability", "torch", "isa_env"}`` of this process."""
    import torch

    return {"cpu": cpu_model(), "cpu_capability": torch.backends.cpu.get_cpu_capability(),
            "torch": torch.__version__,
            "isa_env": {k: os.environ[k] for k in ISA_ENV if k in os.environ}}  # fmt: skip
