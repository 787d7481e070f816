"""Device parallelism: a 1-D data mesh over all devices (batch sharded, params replicated).

Under `jax.jit` with these shardings XLA inserts the gradient all-reduce itself, so the
update functions stay exactly as on one device and the result equals the single-device
result up to float reduction order. A multi-process job calls `initialize_multi_host`
first; the mesh then spans every process's devices (docs/design.md#multi-process-runs).
"""

from __future__ import annotations

import os
from typing import Any, Optional

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

from vitamin_jax.errors import TrainingError

DATA_AXIS = "data"


def _cluster_in_environment() -> bool:
    """True when the environment describes a job of more than one process."""
    env = os.environ
    if "JAX_COORDINATOR_ADDRESS" in env:
        return True
    counts = [env.get("SLURM_STEP_NUM_TASKS", env.get("SLURM_NTASKS")), env.get("OMPI_COMM_WORLD_SIZE")]
    if any(c is not None and c.isdigit() and int(c) > 1 for c in counts):
        return True
    return len([h for h in env.get("TPU_WORKER_HOSTNAMES", "").split(",") if h]) > 1


def initialize_multi_host(parallel: Any) -> None:
    """Call `jax.distributed.initialize` for a multi-process job; a no-op for a single process.

    `parallel` is a config's `parallel` section. With an empty `coordinator_address` JAX reads
    the cluster from the environment: Slurm (`srun`, more than one task), Open MPI, a Cloud
    TPU pod slice, or JAX_COORDINATOR_ADDRESS / JAX_NUM_PROCESSES / JAX_PROCESS_ID. CPU
    collectives go through gloo. A process whose peer stops answering for
    `heartbeat_timeout_s` aborts (non-zero exit) instead of waiting.
    """
    address = parallel.coordinator_address
    if jax.distributed.is_initialized() or not (address or _cluster_in_environment()):
        return
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    kwargs = dict(heartbeat_timeout_seconds=int(parallel.heartbeat_timeout_s))
    if address:
        kwargs.update(coordinator_address=address, num_processes=parallel.num_processes or None,
                      process_id=None if parallel.process_id < 0 else parallel.process_id)
    jax.distributed.initialize(**kwargs)


def is_primary() -> bool:
    """Process 0 writes the run's files (config, metrics, events, curve, progress bar)."""
    return jax.process_index() == 0


def multi_process() -> bool:
    return jax.process_count() > 1


def barrier(name: str) -> None:
    """Wait until every process reaches `name` (a no-op for one process)."""
    if multi_process():
        from jax.experimental import multihost_utils

        multihost_utils.sync_global_devices(name)


def all_processes(values: np.ndarray) -> np.ndarray:
    """[P, ...]: `values` of every process (a [1, ...] array for one process)."""
    values = np.asarray(values)
    if not multi_process():
        return values[None]
    from jax.experimental import multihost_utils

    return np.asarray(multihost_utils.process_allgather(values))


def primary_first(primary_fn, others_fn, what: str, error_type: type):
    """Process 0 runs `primary_fn` (it may write); then the others run `others_fn` (they read).

    Every process learns whether each step succeeded, so an error on one process stops all of
    them at once with a one-line `error_type` instead of leaving them waiting for a peer.
    Returns this process's result. With one process: `primary_fn()`.
    """
    if not multi_process():
        return primary_fn()
    result, error = None, None
    for primary_step in (True, False):
        if primary_step == is_primary():
            try:
                result = (primary_fn if primary_step else others_fn)()
            except error_type as e:
                error = e
        failed = all_processes(np.array([error is not None]))[:, 0]
        if failed.any():
            if error is not None:
                raise error
            raise error_type(f"process {int(np.flatnonzero(failed)[0])} of this job failed to {what} "
                             f"(its own message says why)")
    return result


def local_copy(tree: Any) -> Any:
    """Replicated global arrays as arrays on this process's first device (for host-side rollouts)."""
    if not multi_process():
        return tree
    return jax.tree.map(lambda x: x.addressable_data(0) if isinstance(x, jax.Array) else x, tree)


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
    if multi_process():  # a committed local array cannot move across processes: go through the host value
        tree = jax.tree.map(np.asarray, tree)
    return jax.device_put(tree, replicated(mesh))


def shard_batch(tree: Any, mesh: Mesh, batch_axis: int) -> Any:
    """Place host batches with axis `batch_axis` split over the mesh (it must divide evenly).

    Every process holds the same global batch; each one contributes only the rows of its
    own devices (`make_array_from_callback` asks for the addressable slices only).
    """
    size = mesh.devices.size

    def put(x):
        if x.shape[batch_axis] % size:
            raise ValueError(f"batch axis of size {x.shape[batch_axis]} does not divide over {size} devices")
        x = np.asarray(x)
        return jax.make_array_from_callback(x.shape, batch_sharding(mesh, batch_axis), lambda index: x[index])

    return jax.tree.map(put, tree)


def config_mesh(config: Any) -> Optional[Mesh]:
    """The data mesh a run's config asks for: local devices with `parallel.data_parallel`, every
    process's devices in a multi-process job, None for one device; TrainingError if it cannot be."""
    if multi_process():
        if config.parallel.num_devices not in (0, jax.device_count()):
            raise TrainingError(f"config.parallel.num_devices={config.parallel.num_devices}: a multi-process job "
                                f"uses all {jax.device_count()} devices of its processes; leave it 0")
    elif not config.parallel.data_parallel:
        return None
    mesh = data_mesh(config.parallel.num_devices or None)
    if config.train.batch_size % mesh.devices.size:
        raise TrainingError(f"config.train.batch_size={config.train.batch_size} does not divide over "
                            f"{mesh.devices.size} devices")
    return mesh


def check_processes_agree(what: str, values) -> None:
    """Every process of a job steps the same episodes (docs/design.md#multi-process-runs); check they did."""
    if not multi_process():
        return
    every = all_processes(np.asarray(values, np.float64))
    if not np.array_equal(every, np.broadcast_to(every[0], every.shape)):
        raise TrainingError(f"the processes of this job disagree on their {what} (max difference "
                            f"{np.abs(every - every[0]).max():.3g}); they must run on identical software and "
                            f"hardware for their environments to step alike")
