"""Start the command-line processes with tcmalloc where it is installed (docs/design.md#where-the-time-goes).

On CPU, glibc hands the update's large temporaries back to the OS and faults them in again
on every update; tcmalloc keeps freed memory for reuse, which made the paper-size update
1.38x faster on the 2-core development machine (experiments/bench_allocator.py). The
allocator must be chosen before the process starts, so `python -m vitamin_jax.main` and
`python -m vitamin_jax.sweep` re-execute themselves once with LD_PRELOAD set (same pid,
same arguments). Nothing changes where tcmalloc is absent, already loaded, or
VITAMIN_JAX_TCMALLOC=0.
"""

from __future__ import annotations

import os
import sys
from typing import Mapping, Optional, Sequence

OPT_OUT = "VITAMIN_JAX_TCMALLOC"  # "0": keep the default allocator
CANDIDATES = (
    "/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4",
    "/usr/lib/aarch64-linux-gnu/libtcmalloc_minimal.so.4",
    "/usr/lib64/libtcmalloc_minimal.so.4",
    "/usr/lib/libtcmalloc_minimal.so.4",
)


def find_tcmalloc(candidates: Sequence[str] = CANDIDATES) -> Optional[str]:
    """The first installed tcmalloc library of `candidates` (Linux only), else None."""
    if not sys.platform.startswith("linux"):
        return None
    return next((path for path in candidates if os.path.exists(path)), None)


def preload_environment(environ: Mapping[str, str], candidates: Sequence[str] = CANDIDATES) -> Optional[dict]:
    """The environment to re-execute with, or None to go on as we are."""
    if environ.get(OPT_OUT, "1") == "0" or "tcmalloc" in environ.get("LD_PRELOAD", ""):
        return None
    library = find_tcmalloc(candidates)
    if library is None:
        return None
    preload = " ".join(p for p in (library, environ.get("LD_PRELOAD", "")) if p)
    return {**environ, "LD_PRELOAD": preload, OPT_OUT: "0"}  # the re-executed process does not loop


def reexec_with_tcmalloc(module: str) -> None:
    """Replace this process by `python -m module <same arguments>` under tcmalloc, if available."""
    environ = preload_environment(os.environ)
    if environ is not None:
        sys.stdout.flush()
        os.execve(sys.executable, [sys.executable, "-m", module, *sys.argv[1:]], environ)


def tcmalloc_loaded() -> bool:
    """Whether this process has tcmalloc mapped (Linux; False elsewhere)."""
    try:
        with open("/proc/self/maps") as f:
            return "tcmalloc" in f.read()
    except OSError:
        return False


if __name__ == "__main__":  # `python -m vitamin_jax.allocator`: says which allocator this process got
    print(f"tcmalloc loaded: {tcmalloc_loaded()}")
