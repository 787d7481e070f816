"""The Fig. 2 toy experiment: protocol pieces by hand, and a reduced run that must hold on any seed."""

import json
import os
import subprocess
import sys

import numpy as np

from vitamin_jax.configuration import PROJECT_ROOT

sys.path.insert(0, os.path.join(PROJECT_ROOT, "experiments"))
import toy_mdp  # noqa: E402  (the script enables float64 only in its own process)


def test_reward_function_by_hand():
    a = np.array([-1.0, -0.5, 0.0, 0.5, 1.0, 2.0])
    np.testing.assert_allclose(np.asarray(toy_mdp.reward(a)), [0.0, 0.25, 1.0, 0.0, -1.0, -1.0])


def test_offline_data_and_schedule():
    actions = toy_mdp.offline_actions(59)
    assert np.all((actions[:100] > -1) & (actions[:100] < -0.95))
    assert np.all((actions[100:] > 0.5) & (actions[100:] < 1.0)) and len(actions) == 128
    steps = toy_mdp.grad_steps_per_epoch()
    assert steps[:5] == [4] * 5
    assert steps[5:] == [(128 + 64 * (i + 1)) // 32 for i in range(16)]


def test_reduced_run_odt_stays_low_and_an_rl_gradient_climbs(tmp_path):
    out = tmp_path / "toy"
    result = subprocess.run([sys.executable, os.path.join(PROJECT_ROOT, "experiments", "toy_mdp.py"),
                             "--out", str(out), "--seeds", "6"], capture_output=True, text=True, timeout=600,
                            env={**os.environ, "JAX_PLATFORMS": "cpu"})
    assert result.returncode == 0, result.stderr[-2000:]
    results = json.load(open(out / "results.json"))
    for method in toy_mdp.METHODS:
        assert set(results[method]) >= {"final_per_seed", "final_mean", "final_median", "reward_per_epoch_mean"}
        assert len(results[method]["final_per_seed"]) == 6
        assert len(results[method]["reward_per_epoch_mean"]) == 17
    assert max(results["odt"]["final_per_seed"]) < 0.1  # ODT never leaves the data's reward level
    assert max(results[m]["final_median"] for m in ("ddpg", "odt_ddpg", "odt_td3")) >= 0.5
    assert os.path.getsize(out / "toy_mdp.png") > 0
