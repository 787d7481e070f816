"""Write-then-rename: a reader sees the old file or the new one, never a half-written one."""

from __future__ import annotations

import os


def atomic_write(path: str, text: str) -> None:
    """Replace `path` with `text` atomically; on failure (e.g. a full disk) the old file stays and no temp is left."""
    temp = f"{path}.tmp.{os.getpid()}"
    try:
        with open(temp, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(temp, path)
    except BaseException:
        try:
            os.remove(temp)
        except OSError:
            pass
        raise
