"""Device parallelism: a 1-D data mesh over all devices (batch sharded, params replicated).

Under `jax.jit` with these shardings XLA inserts the gradient all-reduce itself, so the
update functions stay exactly as on one device and the result equals the single-device
result up to float reduction order. Multi-host jobs call `initialize_multi_host` first.
"""

from __future__ import annotations

import os
from typing import Any, Optional

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P

DATA_AXIS = "data"


def initialize_multi_host(coordinator_address: str = "", num_processes: int = 0, process_id: int = -1) -> None:
    """Call `jax.distributed.initialize` for cluster jobs; a no-op on a single host.

    With empty arguments JAX reads the cluster from the environment (SLURM, Open MPI,
    Cloud TPU, or JAX_COORDINATOR_ADDRESS / JAX_NUM_PROCESSES / JAX_PROCESS_ID).
    """
    explicit = bool(coordinator_address)
    from_env = any(k in os.environ for k in ("JAX_COORDINATOR_ADDRESS", "SLURM_JOB_ID", "OMPI_COMM_WORLD_SIZE",
                                             "TPU_WORKER_HOSTNAMES"))
    if not (explicit or from_env):
        return
    kwargs = {}
    if explicit:
        kwargs = dict(coordinator_address=coordinator_address, num_processes=num_processes or None,
                      process_id=None if process_id < 0 else process_id)
    jax.distributed.initialize(**kwargs)


def data_mesh(num_devices: Optional[int] = None) -> Mesh:
    """A 1-D mesh over the first `num_devices` devices (all by default)."""
    devices = jax.devices()[: num_devices or jax.device_count()]
    return Mesh(np.array(devices), (DATA_AXIS,))


def replicated(mesh: Mesh) -> NamedSharding:
    return NamedSharding(mesh, P())


def batch_sharding(mesh: Mesh, batch_axis: int) -> NamedSharding:
    """Shard axis `batch_axis` of every batch array over the mesh."""
    return NamedSharding(mesh, P(*([None] * batch_axis), DATA_AXIS))


def replicate(tree: Any, mesh: Mesh) -> Any:
    return jax.device_put(tree, replicated(mesh))


def shard_batch(tree: Any, mesh: Mesh, batch_axis: int) -> Any:
    """Place host batches with axis `batch_axis` split over the mesh (it must divide evenly)."""
    size = mesh.devices.size

    def put(x):
        if x.shape[batch_axis] % size:
            raise ValueError(f"batch axis of size {x.shape[batch_axis]} does not divide over {size} devices")
        return jax.device_put(x, batch_sharding(mesh, batch_axis))

    return jax.tree.map(put, tree)
