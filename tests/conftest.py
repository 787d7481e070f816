"""Test-wide settings: CPU only, four host devices for the multi-device tests."""

import os

os.environ.setdefault("JAX_PLATFORMS", "cpu")
os.environ.setdefault("XLA_FLAGS", "--xla_force_host_platform_device_count=4")
# Keep tensorflow-style thread pools small on the 2-core CI machine.
os.environ.setdefault("OMP_NUM_THREADS", "1")
