"""Test-wide settings: CPU only, four host devices for the multi-device tests, one compile cache.

The persistent compilation cache is shared by this session's test processes (subprocesses
inherit the environment), so the many small toy runs compile each shape once.
"""

import os
import tempfile

os.environ.setdefault("JAX_PLATFORMS", "cpu")
os.environ.setdefault("XLA_FLAGS", "--xla_force_host_platform_device_count=4")
# Keep tensorflow-style thread pools small on the 2-core CI machine.
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("JAX_COMPILATION_CACHE_DIR", tempfile.mkdtemp(prefix="vitamin-jax-test-cache-"))
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0.5")
