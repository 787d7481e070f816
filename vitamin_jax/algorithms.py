"""The algorithms as rows of terms (docs/design.md#algorithms-as-rows).

A row says which actor head the algorithm uses and holds its math as functions from
`vitamin_jax.objectives`: the critic target and loss, the actor's RL term and its supervised
term. `build_algorithm(config)` binds the hyper-parameters from the config and checks that
the terms fit together, so a bad combination is a one-line `ConfigError` before any
training. The rows (docs/reference.md#algorithms): ODT = stochastic actor + entropy
regulariser, no RL term; TD3+ODT = deterministic actor, MSE + alpha x (-Q); TD3 = the same
with the supervised term off online; DDPG, SAC, IQL and AWAC gradients are the paper's
ablations (docs/faithfulness.md#ablation-gradients).
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, Optional

import jax.numpy as jnp
import ml_collections

from vitamin_jax import objectives as obj
from vitamin_jax.errors import ConfigError
from vitamin_jax.schema import ALGO_NAMES, PHASES

TD3_ACTOR_UPDATE_INTERVAL = 2  # Table 9: the actor is updated after every 2nd critic step
DEFAULT_INTERVAL = -1  # config.rl.actor_update_interval placeholder: the algorithm's own


@dataclasses.dataclass(frozen=True)
class Algorithm:
    """One row: the actor head and the four terms; `None` terms are absent (no critic, no RL term).

    `actor_update_interval` is the interval the algorithm requires (None: any, from the
    config, TD3's 2 by default).
    """

    name: str
    stochastic: bool  # tanh-Gaussian head (else deterministic tanh head)
    supervised: Any  # supervised term
    critic_target: Optional[Any] = None
    critic_loss: Optional[Any] = None
    rl_term: Optional[Any] = None
    learns_temperature: bool = False  # log-temperature trained towards entropy -act_dim
    supervised_online: bool = True  # actor loss includes the supervised term online
    actor_update_interval: Optional[int] = 1

    def __post_init__(self):
        fail = lambda why: _raise(f"config.algo={self.name!r}: {why}")
        head = "stochastic" if self.stochastic else "deterministic"
        for kind, term in (("supervised term", self.supervised), ("critic target", self.critic_target),
                           ("RL term", self.rl_term)):
            if term is not None and term.needs_stochastic and not self.stochastic:
                fail(f"the {kind} {type(term).__name__} needs a stochastic actor, but the row's actor is {head}")
        if self.learns_temperature and not self.supervised.provides_entropy:
            fail(f"a learned temperature needs an entropy estimate, and {type(self.supervised).__name__} gives none")
        if (self.critic_target is None) != (self.critic_loss is None):
            fail("a critic needs both a target and a loss")
        if self.rl_term is not None and self.critic_target is None:
            fail(f"the RL term {type(self.rl_term).__name__} needs a critic")
        self._check_critic_outputs(fail)

    def _check_critic_outputs(self, fail: Callable[[str], None]) -> None:
        """The critic loss gives what the target and the RL term read from it (IQL: a value head, the advantage)."""
        if self.critic_loss is None:
            return
        loss = type(self.critic_loss).__name__
        if self.critic_target.needs_value_head and not self.critic_loss.value_head:
            fail(f"the critic target {type(self.critic_target).__name__} reads a state-value head, "
                 f"and the critic loss {loss} trains none")
        needs = self.rl_term.needs_for_actor if self.rl_term is not None else ()
        missing = [key for key in needs if key not in self.critic_loss.for_actor_keys]
        if missing:
            fail(f"the RL term {type(self.rl_term).__name__} needs the critic loss's {', '.join(missing)}, "
                 f"and {loss} gives none (ExpectileValueLoss, with its value head, gives the advantage)")

    @property
    def trains_critic(self) -> bool:
        return self.critic_target is not None

    @property
    def value_head(self) -> bool:
        """The critic ensemble carries a state-value head (IQL)."""
        return bool(self.critic_loss is not None and self.critic_loss.value_head)

    def resolve_interval(self, configured: int) -> int:
        """The actor-update interval: the config's value, checked against what the row requires."""
        if configured == DEFAULT_INTERVAL:
            return self.actor_update_interval or TD3_ACTOR_UPDATE_INTERVAL
        if self.actor_update_interval is not None and configured != self.actor_update_interval:
            _raise(f"config.rl.actor_update_interval={configured}, but {self.name} updates the actor every "
                   f"{self.actor_update_interval} critic step(s); leave it at {DEFAULT_INTERVAL} (the algorithm's "
                   f"own) or set {self.actor_update_interval}")
        return int(configured)

    def coefficients(self, config: ml_collections.ConfigDict, phase: str) -> dict[str, jnp.ndarray]:
        """(sup_coeff, rl_coeff) of this row for 'pretrain' or 'online', as float32 arrays (no retracing).

        Pretraining is purely supervised unless `rl.rl_from_start` (AntMaze), in which case it
        uses the online coefficients, as the original.
        """
        if phase not in PHASES:
            raise ValueError(f"phase must be 'pretrain' or 'online', got {phase!r}")
        sup = float(config.rl.sup_coeff) if self.supervised_online else 0.0
        rl = float(config.rl.rl_coeff) if self.rl_term is not None else 0.0
        if phase == "pretrain" and not config.rl.rl_from_start:
            sup, rl = 1.0, 0.0
        return {"sup_coeff": jnp.float32(sup), "rl_coeff": jnp.float32(rl)}


def _raise(message: str) -> None:
    raise ConfigError(message)


# -------------------------------------------------------------------------- the table
def _td3_target(c: ml_collections.ConfigDict, **kw) -> obj.ClippedDoubleQTarget:
    return obj.ClippedDoubleQTarget(c.rl.gamma, c.rl.target_masking, c.rl.policy_noise, c.rl.noise_clip, **kw)


def _td3_row(name: str, supervised_online: bool) -> Callable[[ml_collections.ConfigDict], Algorithm]:
    return lambda c: Algorithm(name, stochastic=False, supervised=obj.MSETerm(), critic_target=_td3_target(c),
                               critic_loss=obj.SquaredTDLoss(), rl_term=obj.NegativeQTerm(),
                               supervised_online=supervised_online, actor_update_interval=None)


ALGORITHMS: dict[str, Callable[[ml_collections.ConfigDict], Algorithm]] = {
    "odt": lambda c: Algorithm("odt", stochastic=True, supervised=obj.LikelihoodTerm(entropy_reg=True),
                               learns_temperature=True),
    "td3_odt": _td3_row("td3_odt", supervised_online=True),
    "td3": _td3_row("td3", supervised_online=False),
    "ddpg_odt": lambda c: Algorithm(
        "ddpg_odt", stochastic=False, supervised=obj.MSETerm(),
        critic_target=_td3_target(c, twin_min=False, smoothing=False), critic_loss=obj.SquaredTDLoss(),
        rl_term=obj.NegativeQTerm()),
    "sac_odt": lambda c: Algorithm(
        "sac_odt", stochastic=True, supervised=obj.LikelihoodTerm(entropy_reg=False),
        critic_target=obj.SoftTarget(c.rl.gamma, c.rl.target_masking), critic_loss=obj.SquaredTDLoss(),
        rl_term=obj.SACTerm(), learns_temperature=True),
    "iql_odt": lambda c: Algorithm(
        "iql_odt", stochastic=True, supervised=obj.LikelihoodTerm(entropy_reg=False),
        critic_target=obj.ValueTarget(c.rl.gamma), critic_loss=obj.ExpectileValueLoss(c.iql.expectile),
        rl_term=obj.IQLTerm(c.iql.beta, c.iql.weight_clip)),
    "awac_odt": lambda c: Algorithm(
        "awac_odt", stochastic=True, supervised=obj.LikelihoodTerm(entropy_reg=False),
        critic_target=obj.SoftTarget(c.rl.gamma, c.rl.target_masking, entropy_bonus=bool(c.awac.soft_target)),
        critic_loss=obj.SquaredTDLoss(),
        rl_term=obj.AWACTerm(c.awac.beta, c.awac.weight_clip, bool(c.awac.normalize_adv)),
        learns_temperature=True),
}


assert tuple(ALGORITHMS) == ALGO_NAMES, (
    f"vitamin_jax/algorithms.py ALGORITHMS {tuple(ALGORITHMS)} and vitamin_jax/schema.py ALGO_NAMES {ALGO_NAMES} "
    f"must name the same rows in the same order")


def build_algorithm(config: ml_collections.ConfigDict) -> Algorithm:
    """The row named by `config.algo`, its hyper-parameters bound from the config (ConfigError if unknown)."""
    if config.algo not in ALGORITHMS:
        _raise(f"config.algo={config.algo!r} is not one of {', '.join(sorted(ALGORITHMS))} (unknown algo)")
    return ALGORITHMS[config.algo](config)


def phase_coefficients(config: ml_collections.ConfigDict, phase: str) -> dict[str, jnp.ndarray]:
    """`Algorithm.coefficients` of the row `config.algo` names. It builds the row: a caller that
    holds one (the training loop, `Learner.algo`) asks the row instead."""
    return build_algorithm(config).coefficients(config, phase)
