"""Output folders that never take over anyone else's files.

A command that writes a whole folder (a stand-in, a demo run) marks it as its own with a file it
writes first or last; :func:`refuse_foreign` refuses a folder that holds files but none of those
marks, so a mistyped path never trains over a checkpoint or a report. :func:`write_atomic`
replaces a record in one step, so an interrupt never leaves it torn; :func:`read_record` reads
one back, None when it is missing or torn."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any


def refuse_foreign(folder: str | Path, marks: Sequence[str], what: str, fix: str) -> None:
    """Raise FileExistsError when ``folder`` holds files but none of ``marks``: "FOLDER holds
    files that are not WHAT (up to four of them): FIX". A missing or empty folder, or a marked
    one, passes."""
    folder = Path(folder)
    if not folder.is_dir() or any((folder / m).exists() for m in marks):
        return
    found = sorted(p.name for p in folder.iterdir())
    if found:
        shown = ", ".join(found[:4]) + (f" and {len(found) - 4} more" if len(found) > 4 else "")
        raise FileExistsError(f"{folder} holds files that are not {what} ({shown}): {fix}")


def write_atomic(path: str | Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file beside it and one rename."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def read_record(path: str | Path) -> dict[str, Any] | None:
    """A JSON object record, or None when it is missing, unreadable or not an object."""
    try:
        record = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None
