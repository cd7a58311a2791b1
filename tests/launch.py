"""Launching several CPU processes with ``accelerate launch`` (torchrun underneath), as the
multi-process tests do: ``--multi_gpu`` with no GPU gives one process per rank; the project's
code opens gloo groups itself (training: ``use_cpu: true``; evaluation: :mod:`segr1.ranks`).
(With accelerate 1.15, ``accelerate launch --cpu --num_processes 2`` starts ONE process unless
an MPI hostfile is given.)"""

from __future__ import annotations

import os
import shutil
import socket
import sys
from pathlib import Path

import pytest


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def accelerate() -> str:
    exe = Path(sys.executable).with_name("accelerate")
    found = str(exe) if exe.exists() else shutil.which("accelerate")
    if found is None:
        pytest.fail("the accelerate launcher is not installed next to this Python")
    return found


def launch_command(processes: int) -> list[str]:
    """``accelerate launch`` for ``processes`` CPU processes on this machine, a free port."""
    cmd = [accelerate(), "launch", "--multi_gpu", "--num_processes", str(processes)]
    cmd += ["--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no"]
    return [*cmd, "--main_process_port", str(free_port())]


def launch_env(**extra: str) -> dict[str, str]:
    """The environment for launched processes: one thread each (2 shared cores)."""
    return {**os.environ, "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false", **extra}
