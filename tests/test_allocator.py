"""The command-line processes re-execute under tcmalloc where it is installed, once, and only then."""

import os
import subprocess
import sys

import pytest

from vitamin_jax import allocator
from vitamin_jax.configuration import PROJECT_ROOT


def test_preload_environment_adds_the_library_once(tmp_path):
    library = tmp_path / "libtcmalloc_minimal.so.4"
    library.write_bytes(b"")
    missing = str(tmp_path / "absent.so")
    env = allocator.preload_environment({"LD_PRELOAD": "/opt/other.so", "HOME": "/h"}, [missing, str(library)])
    assert env["LD_PRELOAD"] == f"{library} /opt/other.so" and env["HOME"] == "/h"
    assert env[allocator.OPT_OUT] == "0"  # the re-executed process does not re-execute again
    assert allocator.preload_environment(env, [str(library)]) is None
    assert allocator.preload_environment({"LD_PRELOAD": str(library)}, [str(library)]) is None  # already loaded
    assert allocator.preload_environment({allocator.OPT_OUT: "0"}, [str(library)]) is None  # opted out
    assert allocator.preload_environment({}, [missing]) is None  # not installed


@pytest.mark.skipif(not any(os.path.exists(p) for p in allocator.CANDIDATES), reason="tcmalloc is not installed")
def test_a_real_process_re_executes_under_tcmalloc():
    env = {k: v for k, v in os.environ.items() if k not in ("LD_PRELOAD", allocator.OPT_OUT)}
    code = "from vitamin_jax import allocator; allocator.reexec_with_tcmalloc('vitamin_jax.allocator'); print('not replaced')"
    out = subprocess.run([sys.executable, "-c", code], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "tcmalloc loaded: True"
    opted_out = subprocess.run([sys.executable, "-c", code], cwd=PROJECT_ROOT, env={**env, allocator.OPT_OUT: "0"},
                               capture_output=True, text=True, check=True).stdout
    assert opted_out.strip() == "not replaced"


def test_tuned_glibc_environment_only_where_nobody_chose():
    env = allocator.tuned_glibc_environment({"HOME": "/h"})
    assert env == {"HOME": "/h", "GLIBC_TUNABLES": allocator.GLIBC_TUNED, allocator.OPT_OUT: "0"}
    assert "glibc.malloc.hugetlb=1" in allocator.GLIBC_TUNED and "glibc.malloc.mmap_max=0" in allocator.GLIBC_TUNED
    assert allocator.tuned_glibc_environment(env) is None  # the re-executed process does not re-execute again
    assert allocator.tuned_glibc_environment({"GLIBC_TUNABLES": "glibc.malloc.arena_max=2"}) is None  # the user's
    assert allocator.tuned_glibc_environment({allocator.OPT_OUT: "0"}) is None  # opted out


@pytest.mark.skipif(any(os.path.exists(p) for p in allocator.CANDIDATES), reason="tcmalloc is installed: it is used")
def test_without_tcmalloc_a_real_process_re_executes_with_the_glibc_tunables():
    env = {k: v for k, v in os.environ.items() if k not in ("LD_PRELOAD", "GLIBC_TUNABLES", allocator.OPT_OUT)}
    code = "from vitamin_jax import allocator; allocator.reexec_with_tcmalloc('vitamin_jax.allocator'); print('not replaced')"
    out = subprocess.run([sys.executable, "-c", code], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True,
                         check=True).stdout
    assert out.splitlines() == ["tcmalloc loaded: False", f"glibc tunables: {allocator.GLIBC_TUNED}"]
