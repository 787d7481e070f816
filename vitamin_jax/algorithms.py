"""Which terms each algorithm uses, and its loss coefficients per phase.

One table instead of code paths: the update step reads these flags. REFERENCE.md gives the
flag sets: ODT = stochastic actor + entropy regulariser, no RL term; TD3+ODT = deterministic
actor, MSE + alpha x (-Q); "TD3" = the same with the supervised term off online.
"""

from __future__ import annotations

import dataclasses

import jax.numpy as jnp
import ml_collections


@dataclasses.dataclass(frozen=True)
class AlgorithmSpec:
    name: str
    stochastic: bool  # tanh-Gaussian head (else deterministic tanh head)
    entropy_reg: bool  # ODT's learned-temperature entropy regulariser
    trains_critic: bool  # twin critics trained with TD3 targets
    rl_term: bool  # actor loss includes alpha x (-Q)
    supervised_online: bool  # actor loss includes the supervised term online


ALGORITHMS = {
    "odt": AlgorithmSpec("odt", stochastic=True, entropy_reg=True, trains_critic=False, rl_term=False,
                         supervised_online=True),
    "td3_odt": AlgorithmSpec("td3_odt", stochastic=False, entropy_reg=False, trains_critic=True, rl_term=True,
                             supervised_online=True),
    "td3": AlgorithmSpec("td3", stochastic=False, entropy_reg=False, trains_critic=True, rl_term=True,
                         supervised_online=False),
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
    rl = float(config.rl.rl_coeff) if spec.rl_term else 0.0
    if phase == "pretrain" and not config.rl.rl_from_start:
        sup, rl = 1.0, 0.0
    return {"sup_coeff": jnp.float32(sup), "rl_coeff": jnp.float32(rl)}
