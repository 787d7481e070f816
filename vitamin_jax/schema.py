"""Every enumeration and numeric range a config may hold, and the checks that read them.

Boolean fields need no entry: ml_collections refuses to set a bool field to anything but a bool.

No imports beyond the standard library and `vitamin_jax.errors`, so any layer (data,
envs, logging, the config resolver) can read the allowed values without importing the others;
`vitamin_jax.config_validation.resolve_config` runs the checks.
"""

from __future__ import annotations

import math

from vitamin_jax.errors import ConfigError

# How a maze's dict observation becomes one state vector (docs/faithfulness.md#maze2d-environments):
# 'd4rl': D4RL's layout, no goal (maze2d: x, y, vx, vy; antmaze: x, y, then the rest of qpos, then
# qvel); 'goal': concat(observation, achieved_goal, desired_goal).
MAZE_LAYOUTS = ("d4rl", "goal")
# config.algo: the rows of vitamin_jax/algorithms.py's ALGORITHMS, in its order (docs/reference.md#algorithms);
# the last four are the paper's ablation gradients (docs/faithfulness.md#ablation-gradients).
ALGO_NAMES = ("odt", "td3_odt", "td3", "ddpg_odt", "sac_odt", "iql_odt", "awac_odt")
ADROIT_REWARDS = ("d4rl", "stored")  # config.dataset.adroit_rewards (vitamin_jax/data/adroit_rewards.py)
WANDB_MODES = ("offline", "online", "disabled")  # config.log.wandb_mode (vitamin_jax/wandb_logging.py)
PHASES = ("pretrain", "online")  # a run's two phases: offline pretraining, online finetuning

# field: (kind, low, high, closed_low, closed_high); kind 'int' also requires an integer.
_POSITIVE_INT = ("int", 1, math.inf, True, False)
_NON_NEGATIVE_INT = ("int", 0, math.inf, True, False)
_POSITIVE = ("float", 0.0, math.inf, False, False)
_NON_NEGATIVE = ("float", 0.0, math.inf, True, False)
_UNIT_OPEN_HIGH = ("float", 0.0, 1.0, True, False)  # probabilities: [0, 1)
_UNIT_OPEN_LOW = ("float", 0.0, 1.0, False, True)  # (0, 1]
RANGES = {
    "seed": _NON_NEGATIVE_INT,
    "num_seeds": _POSITIVE_INT,
    "dataset.generate_num_steps": _POSITIVE_INT,
    "dataset.delayed_reward": _NON_NEGATIVE_INT,
    "model.embed_dim": _POSITIVE_INT,
    "model.n_layer": _POSITIVE_INT,
    "model.n_head": _POSITIVE_INT,
    "model.dropout": _UNIT_OPEN_HIGH,
    "model.context_len": _POSITIVE_INT,
    "model.eval_context_length": _POSITIVE_INT,
    "critic.num_qs": _POSITIVE_INT,
    "critic.learning_rate": _POSITIVE,
    "critic.weight_decay": _NON_NEGATIVE,
    "actor.learning_rate": _POSITIVE,
    "actor.weight_decay": _NON_NEGATIVE,
    "actor.warmup_steps": _POSITIVE_INT,
    "actor.grad_clip": _POSITIVE,
    "actor.eps": _POSITIVE,
    "temperature.init": _POSITIVE,
    "temperature.learning_rate": _NON_NEGATIVE,
    "rl.gamma": _UNIT_OPEN_LOW,
    "rl.tau": _UNIT_OPEN_LOW,
    "rl.policy_noise": _NON_NEGATIVE,
    "rl.noise_clip": _NON_NEGATIVE,
    "rl.actor_update_interval": _POSITIVE_INT,
    "rl.rl_coeff": _NON_NEGATIVE,
    "rl.sup_coeff": _NON_NEGATIVE,
    "iql.expectile": ("float", 0.0, 1.0, False, False),
    "iql.beta": _POSITIVE,
    "iql.weight_clip": _POSITIVE,
    "awac.beta": _POSITIVE,
    "awac.weight_clip": _POSITIVE,
    "train.batch_size": _POSITIVE_INT,
    "train.max_pretrain_iters": _NON_NEGATIVE_INT,
    "train.num_updates_per_pretrain_iter": _POSITIVE_INT,
    "train.num_updates_per_online_iter": _POSITIVE_INT,
    "train.replay_size": _POSITIVE_INT,
    "train.updates_per_dispatch": _POSITIVE_INT,
    "online.reward_scale": _POSITIVE,
    "online.num_online_envs": _POSITIVE_INT,
    "online.num_eval_episodes": _POSITIVE_INT,
    "online.minimum_sapairs_per_iter": _NON_NEGATIVE_INT,
    "online.expl_noise": _NON_NEGATIVE,
    "online.max_online_transitions": _NON_NEGATIVE_INT,
    "online.eval_interval": _POSITIVE_INT,
    "parallel.num_devices": _NON_NEGATIVE_INT,
    "parallel.num_processes": _NON_NEGATIVE_INT,  # 0: from the environment
    "parallel.process_id": ("int", -1, math.inf, True, False),  # -1: from the environment
    "parallel.heartbeat_timeout_s": _POSITIVE_INT,
    "checkpoint.every_iters": _POSITIVE_INT,
    "checkpoint.keep": _POSITIVE_INT,
}
ENUMS = {
    "dataset.observation_layout": MAZE_LAYOUTS,
    "dataset.adroit_rewards": ADROIT_REWARDS,
    "model.ordering": (0, 1),  # 1: a learned absolute-timestep embedding
    "model.compute_dtype": ("float32", "bfloat16"),
    "critic.layer_norm": (0, 1),
    "rl.target_masking": ("faithful", "fixed"),
    "train.sampler": ("device", "host"),
    "online.truncation": ("terminal", "bootstrap"),
    "log.wandb_mode": WANDB_MODES,
}


def check(condition: bool, message: str) -> None:
    """Raise ConfigError(message) unless `condition`."""
    if not condition:
        raise ConfigError(message)


def get_field(config, path: str):
    """The value at dotted `path` ('model.embed_dim') of a nested config."""
    node = config
    for part in path.split("."):
        node = node[part]
    return node


def _describe(kind: str, low: float, high: float, closed_low: bool, closed_high: bool) -> str:
    if kind == "int":
        return f"an integer >= {low}"
    if high == math.inf:
        return f"{'>=' if closed_low else '>'} {low:g}"
    return f"in {'[' if closed_low else '('}{low:g}, {high:g}{']' if closed_high else ')'}"


def check_enums(config, paths=tuple(ENUMS)) -> None:
    """Each of `paths` (fields of `ENUMS`) holds one of its allowed values; absent fields are skipped."""
    for path in paths:
        section, field = path.split(".")
        if section in config and field in config[section]:
            value, allowed = config[section][field], ENUMS[path]
            check(value in allowed, f"config.{path}={value!r} must be one of {', '.join(map(repr, allowed))}")


def check_ranges(config) -> None:
    """Every field of `RANGES` inside its range (bools are not numbers here)."""
    for path, (kind, low, high, closed_low, closed_high) in RANGES.items():
        value = get_field(config, path)
        number = isinstance(value, (int, float)) and not isinstance(value, bool)
        ok = number and (kind != "int" or isinstance(value, int)) and math.isfinite(value)
        ok = ok and (value >= low if closed_low else value > low) and (value <= high if closed_high else value < high)
        check(ok, f"config.{path}={value!r} must be {_describe(kind, low, high, closed_low, closed_high)}")
