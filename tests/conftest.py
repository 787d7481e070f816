"""Test-wide settings: CPU only, four host devices for the multi-device tests, fast compiles.

The persistent compilation cache is shared by this session's test processes (subprocesses
inherit the environment), so the many small toy runs compile each shape once. The tests'
programs are tiny and compile far longer than they run, so XLA's CPU backend compiles them
without LLVM optimisation (FAST_COMPILE): the same operations, about a third less compile
time. Runs outside the tests keep the default level.
"""

import os
import tempfile

os.environ.setdefault("JAX_PLATFORMS", "cpu")
FAST_COMPILE = "--xla_backend_optimization_level=0"
os.environ.setdefault("XLA_FLAGS", f"--xla_force_host_platform_device_count=4 {FAST_COMPILE}")
# Keep tensorflow-style thread pools small on the 2-core CI machine.
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("JAX_COMPILATION_CACHE_DIR", tempfile.mkdtemp(prefix="vitamin-jax-test-cache-"))
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0.5")
