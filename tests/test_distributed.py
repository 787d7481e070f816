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
