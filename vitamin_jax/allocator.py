"""Start the command-line processes with tcmalloc where it is installed, else with glibc tuned (docs/design.md#where-the-time-goes).

On CPU, glibc hands the update's large temporaries back to the OS and faults them in again
on every update; tcmalloc keeps freed memory for reuse, which made the paper-size update
1.38x faster on the 2-core development machine (experiments/bench_allocator.py). The
allocator must be chosen before the process starts, so `python -m vitamin_jax.main` and
`python -m vitamin_jax.sweep` re-execute themselves once with LD_PRELOAD set (same pid,
same arguments). Where tcmalloc is absent they re-execute with GLIBC_TUNABLES instead
(GLIBC_TUNED: 1.22x at paper size); nothing changes where tcmalloc is already loaded, the
caller set GLIBC_TUNABLES itself, or VITAMIN_JAX_TCMALLOC=0.
"""

from __future__ import annotations

import os
import sys
from typing import Mapping, Optional, Sequence

OPT_OUT = "VITAMIN_JAX_TCMALLOC"  # "0": keep the default allocator
# Where tcmalloc is absent: glibc kept from handing the update's temporaries back to the OS (one
# arena: thread arenas map blocks above 64 MiB with mmap whatever mmap_max says; no mmap; no
# trimming) and its heap on transparent huge pages (THP 'madvise' mode; ignored where THP is off).
# 1.22x at paper size, 7.6M -> 35K page faults (experiments/bench_allocator.py).
GLIBC_WITHOUT_THP = ("glibc.malloc.arena_max=1:glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold=17179869184:"
                     "glibc.malloc.top_pad=268435456")
GLIBC_TUNED = GLIBC_WITHOUT_THP + ":glibc.malloc.hugetlb=1"
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


def tuned_glibc_environment(environ: Mapping[str, str]) -> Optional[dict]:
    """The environment with GLIBC_TUNED (Linux), or None: opted out, or the caller set its own tunables."""
    if environ.get(OPT_OUT, "1") == "0" or "GLIBC_TUNABLES" in environ or not sys.platform.startswith("linux"):
        return None
    return {**environ, "GLIBC_TUNABLES": GLIBC_TUNED, OPT_OUT: "0"}


def reexec_with_tcmalloc(module: str) -> None:
    """Replace this process by `python -m module <same arguments>` under tcmalloc if available, else
    under glibc's tunables (GLIBC_TUNED)."""
    environ = preload_environment(os.environ) or tuned_glibc_environment(os.environ)
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
    if not tcmalloc_loaded():
        print(f"glibc tunables: {os.environ.get('GLIBC_TUNABLES', 'none')}")
