"""Every preset of Table 9 loads, resolves against the registry and builds its environment."""

import importlib
import pathlib
import re

import pytest

from vitamin_jax import envs
from vitamin_jax.config_validation import resolve_config
from vitamin_jax.configuration import ensure_configs_importable, load_config
from vitamin_jax.errors import ConfigError
from vitamin_jax.schema import ALGO_NAMES, ENUMS

ensure_configs_importable()
PROJECT_ROOT = pathlib.Path(__file__).resolve().parents[1]
FAMILIES = ("mujoco", "adroit", "antmaze", "maze2d")
PRESETS = [(family, preset) for family in FAMILIES
           for preset in importlib.import_module(f"configs.{family}").PRESETS]


def test_every_dataset_of_the_paper_has_a_preset():
    names = {preset for _, preset in PRESETS}
    for env in ("hopper", "halfcheetah", "walker2d", "ant"):
        assert {f"{env}-random", f"{env}-medium", f"{env}-medium-replay"} <= names
    for task in ("pen", "hammer", "door", "relocate"):
        assert {f"{task}-human", f"{task}-cloned", f"{task}-expert"} <= names
    assert {f"antmaze-{m}" for m in ("umaze", "umaze-diverse", "medium-play", "medium-diverse", "large-play",
                                     "large-diverse")} <= names
    assert {f"maze2d-{m}" for m in ("open", "umaze", "medium", "large")} <= names


@pytest.mark.parametrize("family, preset", PRESETS)
def test_preset_loads_and_builds_its_env(family, preset):
    config = resolve_config(load_config(f"configs/{family}.py:{preset}"))
    spec = envs.get_spec(config.env_name)
    assert config.critic.layer_norm == int(spec.critic_layer_norm)
    assert config.online.reward_scale == spec.reward_scale
    env = envs.make_env(config.env_name, seed=0)
    obs, _ = env.reset(seed=0)
    assert obs.shape == env.observation_space.shape
    env.close()


@pytest.mark.parametrize("spec, field, value", [
    ("configs/adroit.py:pen-human", "model.eval_context_length", 5),  # README: pen 5 (Table 9: 1)
    ("configs/adroit.py:hammer-human", "model.eval_context_length", 1),
    ("configs/adroit.py:door-human", "online.eval_rtg", 40.0),  # Table 9 / 100
    ("configs/adroit.py:pen-human", "critic.learning_rate", 2e-4),
    ("configs/adroit.py:door-cloned", "iql.expectile", 0.9),  # IQL's Adroit values
    ("configs/adroit.py:door-cloned", "iql.beta", 10.0),
    ("configs/mujoco.py:hopper-medium", "iql.expectile", 0.7),
    ("configs/antmaze.py:antmaze-large-play", "model.context_len", 5),
    ("configs/antmaze.py:antmaze-umaze", "rl.rl_from_start", True),
    ("configs/antmaze.py:antmaze-medium-play", "rl.gamma", 0.998),
    ("configs/antmaze.py:antmaze-umaze", "train.max_pretrain_iters", 40),
    ("configs/maze2d.py:maze2d-open", "train.replay_size", 10_000),
    ("configs/mujoco.py:walker2d-medium", "actor.learning_rate", 1e-3),
    ("configs/mujoco.py:walker2d-medium", "train.num_updates_per_pretrain_iter", 10_000),
    ("configs/mujoco.py:ant-medium", "online.eval_rtg", 5000.0),  # README, not Table 9's 6000
    ("configs/mujoco.py:hopper-random", "online.minimum_sapairs_per_iter", 1000),
    ("configs/mujoco.py:hopper-medium", "online.minimum_sapairs_per_iter", 0),
    ("configs/mujoco.py:hopper-medium", "rl.actor_update_interval", 2),
])
def test_preset_values_follow_the_readme_commands(spec, field, value):
    section, name = field.split(".")
    assert resolve_config(load_config(spec))[section][name] == value  # placeholders (-1) resolved


def test_bad_values_are_clear_errors():
    config = load_config("configs/mujoco.py:hopper-medium")
    config.model.eval_context_length = 50
    with pytest.raises(ConfigError, match="eval_context_length"):
        resolve_config(config)
    config = load_config("configs/mujoco.py:hopper-medium")
    config.env_name = "hoper-medium"
    with pytest.raises(envs.UnknownDatasetError, match="hopper-medium"):
        resolve_config(config)
    with pytest.raises(ValueError, match="unknown MuJoCo preset"):
        load_config("configs/mujoco.py:hopper-expertt")


def test_base_config_lists_every_algorithm():
    source = (PROJECT_ROOT / "configs" / "base.py").read_text()
    comment = source[source.index("ALGO_NAMES"):source.index("c.algo =")]  # the comment above the field
    assert all(name in comment for name in ALGO_NAMES)


@pytest.mark.parametrize("field", sorted(ENUMS))
def test_every_enumerated_field_refuses_a_value_outside_its_set(field):
    config = load_config("configs/mujoco.py:hopper-medium")
    section, name = field.split(".")
    config[section][name] = "bogus" if isinstance(ENUMS[field][0], str) else 7
    with pytest.raises(ConfigError, match=rf"config\.{field}=.* must be one of"):
        resolve_config(config)


@pytest.mark.parametrize("field, value, message", [
    ("model.ordering", 2, "config.model.ordering=2 must be one of 0, 1"),
    ("parallel.num_processes", -1, "config.parallel.num_processes=-1 must be an integer >= 0"),
    ("parallel.process_id", -2, "config.parallel.process_id=-2 must be an integer >= -1"),
])
def test_fields_added_to_the_schema_are_checked(field, value, message):
    config = load_config("configs/mujoco.py:hopper-medium")
    section, name = field.split(".")
    config[section][name] = value
    with pytest.raises(ConfigError, match=re.escape(message)):
        resolve_config(config)


@pytest.mark.parametrize("dims", [(), (256, 0), (256, "wide"), (256, True)])
def test_critic_hidden_dims_must_be_positive_integers(dims):
    config = load_config("configs/mujoco.py:hopper-medium")
    config.critic.hidden_dims = dims
    with pytest.raises(ConfigError, match=r"config\.critic\.hidden_dims=.* must be a non-empty tuple of positive"):
        resolve_config(config)
    config.critic.hidden_dims = (64, 32)
    assert resolve_config(config).critic.hidden_dims == (64, 32)
