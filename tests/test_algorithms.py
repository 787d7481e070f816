"""Algorithm rows: each holds its terms, and a row whose terms do not fit is a one-line ConfigError."""

import pathlib
import re

import pytest

from vitamin_jax import algorithms
from vitamin_jax import objectives as obj
from vitamin_jax.agent import Learner
from vitamin_jax.algorithms import ALGORITHMS, Algorithm, build_algorithm, phase_coefficients
from vitamin_jax.config_validation import resolve_config
from vitamin_jax.configuration import load_config
from vitamin_jax.errors import ConfigError
from vitamin_jax.schema import ALGO_NAMES, PHASES
from vitamin_jax.updates import Updates

PACKAGE = pathlib.Path(__file__).resolve().parents[1] / "vitamin_jax"


def one_line(error: pytest.ExceptionInfo) -> str:
    message = str(error.value)
    assert "\n" not in message
    return message


def test_rl_term_that_needs_a_stochastic_actor_on_a_deterministic_one():
    with pytest.raises(ConfigError) as error:
        Algorithm("bad", stochastic=False, supervised=obj.MSETerm(),
                  critic_target=obj.ClippedDoubleQTarget(0.99, "faithful", 0.2, 0.5), critic_loss=obj.SquaredTDLoss(),
                  rl_term=obj.SACTerm())
    assert "SACTerm needs a stochastic actor" in one_line(error) and "deterministic" in one_line(error)


def test_temperature_without_an_entropy():
    with pytest.raises(ConfigError) as error:
        Algorithm("bad", stochastic=False, supervised=obj.MSETerm(), learns_temperature=True)
    assert "temperature" in one_line(error) and "MSETerm" in one_line(error)


def test_rl_term_without_a_critic():
    with pytest.raises(ConfigError, match="needs a critic"):
        Algorithm("bad", stochastic=False, supervised=obj.MSETerm(), rl_term=obj.NegativeQTerm())


def test_unknown_name():
    config = load_config("configs/base.py")
    config.algo = "ppo"
    with pytest.raises(ConfigError) as error:
        build_algorithm(config)
    assert "config.algo='ppo'" in one_line(error) and "td3_odt" in one_line(error)


def test_interval_is_checked_not_replaced():
    config = load_config("configs/mujoco.py:hopper-medium")
    assert resolve_config(config).rl.actor_update_interval == 2  # TD3's own
    config.algo = "odt"
    assert resolve_config(config).rl.actor_update_interval == 1  # ODT's own
    config.rl.actor_update_interval = 2
    with pytest.raises(ConfigError) as error:
        resolve_config(config)
    assert "config.rl.actor_update_interval=2" in one_line(error) and "odt" in one_line(error)
    config.algo = "td3_odt"
    config.rl.actor_update_interval = 3  # TD3 rows take any interval
    assert resolve_config(config).rl.actor_update_interval == 3


@pytest.mark.parametrize("name", sorted(ALGORITHMS))
def test_every_row_builds_from_the_base_config_with_its_hyper_parameters(name):
    config = load_config("configs/adroit.py:pen-human")
    config.algo = name
    algo = build_algorithm(config)
    assert algo.name == name and algo.supervised is not None
    if name == "iql_odt":  # Adroit's IQL values are bound into the row, not stored on the learner
        assert (algo.critic_loss.expectile, algo.rl_term.beta) == (0.9, 10.0)
    if name in ("td3_odt", "td3"):
        assert (algo.critic_target.policy_noise, algo.critic_target.noise_clip) == (0.2, 0.5)
        assert algo.critic_target.twin_min and algo.critic_target.smoothing
    if name == "ddpg_odt":
        assert not algo.critic_target.twin_min and not algo.critic_target.smoothing


def test_agent_reads_no_algorithm_kinds_and_imports_no_data():
    source = (PACKAGE / "agent.py").read_text()
    assert not re.search(r"(critic|rl_term|kind) ?== ?['\"]", source)
    assert "vitamin_jax.data" not in source and "sharding" not in source


def test_iql_term_needs_the_expectile_value_loss():
    """IQLTerm reads the advantage only ExpectileValueLoss hands to the actor (for_actor['advantage'])."""
    with pytest.raises(ConfigError) as error:
        Algorithm("bad", stochastic=True, supervised=obj.LikelihoodTerm(entropy_reg=False),
                  critic_target=obj.SoftTarget(0.99, "faithful"), critic_loss=obj.SquaredTDLoss(),
                  rl_term=obj.IQLTerm(3.0, 100.0))
    assert "config.algo='bad'" in one_line(error) and "IQLTerm" in one_line(error)
    assert "advantage" in one_line(error) and "SquaredTDLoss" in one_line(error)


def test_value_target_needs_a_value_head():
    with pytest.raises(ConfigError) as error:
        Algorithm("bad", stochastic=True, supervised=obj.LikelihoodTerm(entropy_reg=False),
                  critic_target=obj.ValueTarget(0.99), critic_loss=obj.SquaredTDLoss(), rl_term=obj.SACTerm())
    assert "ValueTarget" in one_line(error) and "value head" in one_line(error)


def test_the_table_names_the_schemas_algorithms():
    assert tuple(ALGORITHMS) == ALGO_NAMES


def test_the_training_loop_asks_its_learners_row_and_never_rebuilds_it(monkeypatch):
    config = load_config("configs/mujoco.py:hopper-medium")
    expected = {(name, phase): phase_coefficients(_with_algo(config, name), phase)
                for name in ALGORITHMS for phase in PHASES}
    built = {name: Updates.build(Learner.from_config(_with_algo(config, name), 3, 2, critic_layer_norm=False), 4)
             for name in ALGORITHMS}
    monkeypatch.setattr(algorithms, "build_algorithm", lambda c: pytest.fail("row rebuilt"))
    for _ in range(2):
        for (name, phase), coeffs in expected.items():
            got = built[name].coefficients(_with_algo(config, name), phase)
            assert {k: float(v) for k, v in got.items()} == {k: float(v) for k, v in coeffs.items()}


def _with_algo(config, name):
    config = config.copy_and_resolve_references()
    config.algo = name
    return config
