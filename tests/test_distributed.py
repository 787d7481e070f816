"""Data parallelism on 4 host devices equals one device up to float tolerance."""

import jax
import numpy as np
import pytest

from vitamin_jax import distributed
from vitamin_jax.algorithms import phase_coefficients

from test_agent import make_learner, synthetic_batches


@pytest.mark.skipif(jax.device_count() < 4, reason="needs XLA_FLAGS=--xla_force_host_platform_device_count=4")
def test_sharded_scanned_updates_match_single_device():
    config, learner, state = make_learner("td3_odt", interval=2)
    coeffs = phase_coefficients(config, "online")
    batches = synthetic_batches(0, (3, 2), batch=16)  # [U, interval, B, ...]
    update_many = jax.jit(learner.update_many)
    single, single_metrics = update_many(jax.device_put(state, jax.devices()[0]),
                                         jax.device_put(batches, jax.devices()[0]), coeffs)

    mesh = distributed.data_mesh(4)
    sharded_batches = distributed.shard_batch(batches, mesh, batch_axis=2)
    assert len(sharded_batches.states.sharding.device_set) == 4
    parallel, parallel_metrics = update_many(distributed.replicate(state, mesh), sharded_batches, coeffs)
    assert len(parallel.actor_params["params"]["embed_ln"]["scale"].sharding.device_set) == 4
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5), parallel, single)
    np.testing.assert_allclose(parallel_metrics["critic_loss"], single_metrics["critic_loss"], rtol=1e-4)


def test_uneven_batch_is_a_clear_error():
    mesh = distributed.data_mesh(min(4, jax.device_count()))
    if mesh.devices.size == 1:
        pytest.skip("needs several devices")
    with pytest.raises(ValueError, match="does not divide"):
        distributed.shard_batch({"x": np.zeros((2, 5 * mesh.devices.size + 1))}, mesh, batch_axis=1)


@pytest.mark.parametrize("variables, multi", [
    ({}, False),
    ({"SLURM_JOB_ID": "7", "SLURM_NTASKS": "1"}, False),  # a one-task Slurm job (a sweep cell) stays one process
    ({"SLURM_JOB_ID": "7", "SLURM_NTASKS": "8"}, True),
    ({"SLURM_JOB_ID": "7", "SLURM_NTASKS": "8", "SLURM_STEP_NUM_TASKS": "1"}, False),  # a one-task step
    ({"OMPI_COMM_WORLD_SIZE": "2"}, True),
    ({"TPU_WORKER_HOSTNAMES": "t0"}, False),
    ({"TPU_WORKER_HOSTNAMES": "t0,t1"}, True),
    ({"JAX_COORDINATOR_ADDRESS": "10.0.0.1:1234"}, True),
])
def test_multi_process_jobs_are_recognised_from_the_environment(monkeypatch, variables, multi):
    for name in ("SLURM_JOB_ID", "SLURM_NTASKS", "SLURM_STEP_NUM_TASKS", "OMPI_COMM_WORLD_SIZE",
                 "TPU_WORKER_HOSTNAMES", "JAX_COORDINATOR_ADDRESS"):
        monkeypatch.delenv(name, raising=False)
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    assert distributed._cluster_in_environment() is multi
