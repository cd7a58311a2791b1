"""Evaluation in several processes (``accelerate launch`` / ``torchrun``, one node or many).

:class:`Ranks` says which process this is (``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, as the
launchers set them) and gives each process its share of the work:

* :meth:`Ranks.shard`: sample ``i`` belongs to rank ``i % world`` - deterministic, balanced,
  and the same whatever the processes have already done;
* :meth:`Ranks.log_name`: each rank appends to its own completion log
  (``completions.rank<r>.jsonl``; one process keeps ``completions.jsonl``), so no two processes
  ever append to one file;
* :meth:`Ranks.device`: ``cuda`` becomes ``cuda:<LOCAL_RANK>`` (one GPU per process);
* :meth:`Ranks.first` runs a check on rank 0 only and raises its error on every rank;
  :meth:`Ranks.barrier` waits for every rank.

The waits use a gloo process group (CPU sockets, any node count, no GPU collective), opened on
first use with a long timeout: rank 0 waits at the end for the slowest rank. All ranks must see
one output folder (a shared filesystem across nodes). When one rank fails, the launcher stops
the others; a re-run resumes every rank where it stopped (see :mod:`segr1.evaluate`).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, TypeVar

T = TypeVar("T")
LOG_NAME = "completions.jsonl"
RANK_LOG_GLOB = "completions.rank*.jsonl"
WAIT = timedelta(hours=24)  # rank 0 waits this long at most for the slowest rank


@dataclass
class Ranks:
    """This process's place among ``world`` evaluation processes (one process by default)."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0
    _group: Any = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not 0 <= self.rank < self.world:
            raise ValueError(f"rank {self.rank} is not in a world of {self.world} processes")

    @classmethod
    def from_env(cls) -> Ranks:
        """From ``RANK`` / ``WORLD_SIZE`` / ``LOCAL_RANK`` (set by torchrun and accelerate)."""
        env = os.environ
        return cls(
            int(env.get("RANK", 0)), int(env.get("WORLD_SIZE", 1)), int(env.get("LOCAL_RANK", 0))
        )

    @property
    def main(self) -> bool:
        return self.rank == 0

    def shard(self, items: Sequence[T]) -> list[T]:
        """This rank's items: every ``world``-th one, starting at ``rank``."""
        return list(items[self.rank :: self.world])

    def log_name(self) -> str:
        """This rank's completion log file name."""
        return LOG_NAME if self.world == 1 else f"completions.rank{self.rank}.jsonl"

    def device(self, device: str) -> str:
        """``cuda`` -> ``cuda:<local rank>`` when there are several processes; else as given."""
        return f"cuda:{self.local_rank}" if device == "cuda" and self.world > 1 else device

    def group(self) -> Any:
        """The gloo process group for the waits (opened once; None in one process)."""
        if self.world == 1:
            return None
        if self._group is None:
            import torch.distributed as dist

            if not dist.is_initialized():
                dist.init_process_group("gloo", rank=self.rank, world_size=self.world, timeout=WAIT)
                self._group = dist.group.WORLD
            else:  # a launcher or caller opened one (maybe NCCL): our own gloo group on top
                self._group = dist.new_group(backend="gloo", timeout=WAIT)
        return self._group

    def barrier(self) -> None:
        """Wait until every rank gets here."""
        if self.world > 1:
            import torch.distributed as dist

            dist.barrier(group=self.group())

    def first(self, check: Callable[..., object], *args: Any) -> None:
        """Run ``check(*args)`` on rank 0 only; if it raises ``ValueError`` or ``OSError``,
        every rank raises ``ValueError`` with its message (nobody starts work)."""
        error = None
        if self.main:
            try:
                check(*args)
            except (ValueError, OSError) as e:
                if self.world == 1:
                    raise
                error = str(e)
        if self.world > 1:
            import torch.distributed as dist

            box = [error]
            dist.broadcast_object_list(box, src=0, group=self.group())
            error = box[0]
        if error is not None:
            raise ValueError(error)

    def close(self) -> None:
        """Close the process group this object opened (safe to call in one process)."""
        if self._group is not None:
            import torch.distributed as dist

            if self._group is dist.group.WORLD:
                dist.destroy_process_group()
            self._group = None
