"""``segr1 eval`` whose process kills itself (SIGKILL, as an out-of-memory killer or a lost node
would) before its prediction batch number ``KILL_BEFORE_BATCH_<RANK>`` (0-based; unset: never).
Launched by tests/test_eval_distributed.py with ``accelerate launch ... eval_killed.py eval ...``."""

from __future__ import annotations

import os
import signal

from segr1.cli import app
from segr1.inference import Pipeline

KILL_AT = int(os.environ.get(f"KILL_BEFORE_BATCH_{os.environ.get('RANK', '0')}", "-1"))
_predict_batch = Pipeline.predict_batch
_batches = 0


def predict_batch(self, *args, **kwargs):
    global _batches
    if _batches == KILL_AT:
        os.kill(os.getpid(), signal.SIGKILL)
    _batches += 1
    return _predict_batch(self, *args, **kwargs)


Pipeline.predict_batch = predict_batch

if __name__ == "__main__":
    app()
