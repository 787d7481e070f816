"""Which terms each algorithm uses, and its loss coefficients per phase.

One table instead of code paths: the update step reads these flags. REFERENCE.md gives the
flag sets: ODT = stochastic actor + entropy regulariser, no RL term; TD3+ODT = deterministic
actor, MSE + alpha x (-Q); "TD3" = the same with the supervised term off online. The other
rows are the paper's ablations (ORIGINAL.md section 5): DDPG, SAC, IQL and AWAC gradients.
"""

from __future__ import annotations

import dataclasses

import jax.numpy as jnp
import ml_collections


@dataclasses.dataclass(frozen=True)
class AlgorithmSpec:
    name: str
    stochastic: bool  # tanh-Gaussian head (else deterministic tanh head)
    entropy_reg: bool  # ODT's entropy regulariser in the supervised loss
    learns_temperature: bool  # log-temperature trained towards entropy -act_dim
    critic: str  # 'none' | 'td3' | 'soft' (SAC/AWAC entropy-bonus target) | 'iql' (expectile V)
    rl_term: str  # 'none' | 'q' (-Q1 at the actor's action) | 'sac' | 'iql' | 'awac'
    supervised_online: bool = True  # actor loss includes the supervised term online
    twin_min: bool = True  # TD3 target: min over the twin target critics (else the first)
    target_smoothing: bool = True  # TD3 target policy smoothing noise
    single_interval: bool = False  # actor updated after every critic step (interval forced to 1)

    @property
    def trains_critic(self) -> bool:
        return self.critic != "none"


_A = AlgorithmSpec
ALGORITHMS = {
    "odt": _A("odt", stochastic=True, entropy_reg=True, learns_temperature=True, critic="none", rl_term="none",
              single_interval=True),
    "td3_odt": _A("td3_odt", stochastic=False, entropy_reg=False, learns_temperature=False, critic="td3",
                  rl_term="q"),
    "td3": _A("td3", stochastic=False, entropy_reg=False, learns_temperature=False, critic="td3", rl_term="q",
              supervised_online=False),
    "ddpg_odt": _A("ddpg_odt", stochastic=False, entropy_reg=False, learns_temperature=False, critic="td3",
                   rl_term="q", twin_min=False, target_smoothing=False, single_interval=True),
    "sac_odt": _A("sac_odt", stochastic=True, entropy_reg=False, learns_temperature=True, critic="soft",
                  rl_term="sac", single_interval=True),
    "iql_odt": _A("iql_odt", stochastic=True, entropy_reg=False, learns_temperature=False, critic="iql",
                  rl_term="iql", single_interval=True),
    "awac_odt": _A("awac_odt", stochastic=True, entropy_reg=False, learns_temperature=True, critic="soft",
                   rl_term="awac", single_interval=True),
}


def get_algorithm(name: str) -> AlgorithmSpec:
    if name not in ALGORITHMS:
        raise ValueError(f"unknown algo {name!r}; choose one of {', '.join(sorted(ALGORITHMS))}")
    return ALGORITHMS[name]


def phase_coefficients(config: ml_collections.ConfigDict, phase: str) -> dict[str, jnp.ndarray]:
    """(sup_coeff, rl_coeff) for 'pretrain' or 'online', as float32 arrays (no retracing).

    Pretraining is purely supervised unless `rl.rl_from_start` (AntMaze), in which case it
    uses the online coefficients, as the original.
    """
    if phase not in ("pretrain", "online"):
        raise ValueError(f"phase must be 'pretrain' or 'online', got {phase!r}")
    spec = get_algorithm(config.algo)
    sup = float(config.rl.sup_coeff) if spec.supervised_online else 0.0
    rl = float(config.rl.rl_coeff) if spec.rl_term != "none" else 0.0
    if phase == "pretrain" and not config.rl.rl_from_start:
        sup, rl = 1.0, 0.0
    return {"sup_coeff": jnp.float32(sup), "rl_coeff": jnp.float32(rl)}
