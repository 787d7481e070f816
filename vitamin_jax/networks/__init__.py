"""Flax networks: the Decision Transformer actor and the critic ensemble."""

from vitamin_jax.networks.critic import CriticEnsemble, MLPCritic
from vitamin_jax.networks.transformer import DecisionTransformer, PolicyOutput

__all__ = ["CriticEnsemble", "DecisionTransformer", "MLPCritic", "PolicyOutput"]
