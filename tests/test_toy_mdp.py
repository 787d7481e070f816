"""The Fig. 2 toy experiment: protocol pieces by hand, and a full-protocol run that must hold on any seed."""

import json
import os
import subprocess
import sys
from pathlib import Path

import jax
import numpy as np

EXPERIMENTS = Path(__file__).resolve().parents[1] / "experiments"
sys.path.insert(0, str(EXPERIMENTS))
import toy_mdp  # noqa: E402  (float64 is switched on only when the script runs as __main__)

PAPER_METHODS = ("odt", "ddpg", "odt_ddpg", "odt_td3")


def test_import_does_not_enable_float64():
    assert not jax.config.jax_enable_x64


def test_reward_function_by_hand():
    a = np.array([-1.0, -0.5, 0.0, 0.5, 1.0, -2.0, 2.0])
    expected = [0.0, 0.25, 1.0, 0.0, -1.0, 0.0, -1.0]
    np.testing.assert_array_equal(toy_mdp.reward(a), expected)  # numpy, float64
    np.testing.assert_allclose(np.asarray(toy_mdp.reward(jax.numpy.asarray(a))), expected, atol=1e-7)


def test_offline_dataset_clusters_and_rewards():
    actions, rewards = toy_mdp.offline_dataset(59)
    assert actions.shape == rewards.shape == (128,)
    low, high = actions[:100], actions[100:]
    assert np.all((low > -1) & (low < -0.95)) and np.all((high > 0.5) & (high < 1.0))
    np.testing.assert_allclose(rewards[:100], (low + 1) ** 2)
    np.testing.assert_allclose(rewards[100:], 1 - 2 * high)
    assert rewards.max() < 0.0025 + 1e-12  # no data near the peak r(0) = 1
    other, _ = toy_mdp.offline_dataset(60)
    assert not np.allclose(actions, other)  # the seed drives the data
    np.testing.assert_array_equal(actions, toy_mdp.offline_dataset(59)[0])


def test_grad_steps_per_epoch():
    steps = toy_mdp.grad_steps_per_epoch()
    assert steps[:5] == [4] * 5 and len(steps) == 21
    assert steps[5:] == [(128 + 64 * (i + 1)) // 32 for i in range(16)]
    assert toy_mdp.grad_steps_at_rollout()[0] == 20 and toy_mdp.grad_steps_at_rollout()[-1] == 320


def test_torch_init_is_uniform_fan_in():
    params = toy_mdp.init_mlp(jax.random.PRNGKey(0), 2, torch_init=True)
    for (w, b), fan_in in zip(params, (2, 128, 128)):
        bound = 1 / np.sqrt(fan_in)
        assert np.abs(w).max() <= bound and np.abs(b).max() <= bound and np.abs(b).max() > 0
    flax_like = toy_mdp.init_mlp(jax.random.PRNGKey(0), 2, torch_init=False)
    assert all(np.all(np.asarray(b) == 0) for _, b in flax_like)


def test_the_original_pytorch_initialisation_is_the_default():
    assert toy_mdp.build_parser().parse_args(["--out", "x"]).init == "torch"
    assert toy_mdp.build_parser().parse_args(["--out", "x", "--init", "flax"]).init == "flax"


def test_full_protocol_odt_stays_low_and_an_rl_gradient_climbs(tmp_path):
    """The whole 16-epoch protocol, 10 seeds, in a subprocess so float64 stays out of this process."""
    out = tmp_path / "toy"
    result = subprocess.run(
        [sys.executable, str(EXPERIMENTS / "toy_mdp.py"), "--out", str(out), "--methods", ",".join(PAPER_METHODS)],
        capture_output=True, text=True, timeout=300, env={**os.environ, "JAX_PLATFORMS": "cpu"})
    assert result.returncode == 0, result.stderr[-2000:]
    results = json.loads((out / "results.json").read_text())
    for method in PAPER_METHODS:
        assert set(results[method]) == {"final_per_seed", "final_mean", "final_median", "reward_per_epoch_mean"}
        assert len(results[method]["final_per_seed"]) == 10
        assert len(results[method]["reward_per_epoch_mean"]) == 16
        assert results[method]["final_per_seed"][0] == results["per_seed"][method]["reward_per_epoch"][0][-1]
    assert results["grad_steps_per_epoch"] == toy_mdp.grad_steps_per_epoch()
    assert results["config"]["torch_init"] is True  # the original's initialisation by default
    assert max(results["odt"]["final_per_seed"]) < 0.1  # ODT never leaves the data's reward level
    assert max(results[m]["final_median"] for m in ("ddpg", "odt_ddpg", "odt_td3")) >= 0.5
    assert (out / "toy_mdp.png").stat().st_size > 10_000
