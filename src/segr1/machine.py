"""What a CPU build ran on. The bytes a training run writes depend on the kernels torch, MKL
and oneDNN dispatch to, which follow the CPU's instruction sets (and the torch version), so a
build records what decides them as far as this process can see: the CPU's name and its vector
instruction sets, torch's dispatch capability and version, and any variable set to pin them."""

from __future__ import annotations

import os
import platform
from typing import Any

#: Environment variables that pin the kernels (torch's dispatch, MKL, oneDNN)
ISA_ENV = ("ATEN_CPU_CAPABILITY", "MKL_ENABLE_INSTRUCTIONS", "MKL_CBWR", "ONEDNN_MAX_CPU_ISA")


def _cpuinfo(field: str) -> str | None:
    """The first ``field`` line's value in ``/proc/cpuinfo``; None where there is none."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith(field):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def cpu_model() -> str:
    """The processor's name (``/proc/cpuinfo``'s model name where there is one)."""
    return _cpuinfo("model name") or platform.processor() or platform.machine()


def vector_flags() -> list[str]:
    """The CPU's AVX flags (``/proc/cpuinfo``; empty where there is none): a VM's model name
    is often generic, its instruction sets are not."""
    return sorted(x for x in (_cpuinfo("flags") or "").split() if x.startswith("avx"))


def machine_record() -> dict[str, Any]:
    """``{"cpu", "flags", "cpu_capability", "torch", "isa_env"}`` of this process."""
    import torch

    return {"cpu": cpu_model(), "flags": vector_flags(),
            "cpu_capability": torch.backends.cpu.get_cpu_capability(),
            "torch": str(torch.__version__),
            "isa_env": {k: os.environ[k] for k in ISA_ENV if k in os.environ}}  # fmt: skip
