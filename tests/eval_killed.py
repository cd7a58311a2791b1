"""``segr1 eval`` whose process kills itself (SIGKILL, as an out-of-memory killer or a lost node
would) before its prediction batch number ``KILL_BEFORE_BATCH_<RANK>`` (0-based; unset: never).
Launched by tests/test_eval_distributed.py with ``accelerate launch ... eval_killed.py eval ...``."""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

from segr1.cli import app
from segr1.inference import Pipeline

KILL_AT = int(os.environ.get(f"KILL_BEFORE_BATCH_{os.environ.get('RANK', '0')}", "-1"))
_predict_batch = Pipeline.predict_batch
_batches = 0


def _wait_for_later_ranks(limit_s: float = 120.0) -> None:
    """Before dying, wait until every rank that is to die LATER has logged a record: the
    launcher tears all ranks down when one dies, and on a busy machine a slower rank would
    otherwise be killed before it wrote anything."""
    out = Path(sys.argv[sys.argv.index("--out") + 1])
    me = int(os.environ.get("RANK", "0"))
    later = [r for r in range(int(os.environ.get("WORLD_SIZE", "1")))
             if int(os.environ.get(f"KILL_BEFORE_BATCH_{r}", "-1")) > KILL_AT and r != me]  # fmt: skip
    deadline = time.monotonic() + limit_s
    for r in later:
        log = out / f"completions.rank{r}.jsonl"
        while time.monotonic() < deadline and not (log.exists() and log.read_text().strip()):
            time.sleep(0.2)


def predict_batch(self, *args, **kwargs):
    global _batches
    if _batches == KILL_AT:
        _wait_for_later_ranks()
        os.kill(os.getpid(), signal.SIGKILL)
    _batches += 1
    return _predict_batch(self, *args, **kwargs)


Pipeline.predict_batch = predict_batch

if __name__ == "__main__":
    app()
