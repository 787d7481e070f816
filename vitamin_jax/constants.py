"""Numbers the whole pipeline must agree on, defined once (docs/design.md#constants).

The original clips actions to +-(1 - 1e-6) (so atanh stays finite in the squashed-Gaussian
log-likelihood), caps timesteps at MAX_EPISODE_LEN - 1, and sizes the timestep embedding
with MAX_EPISODE_LEN.
"""

ACTION_LIMIT = 1.0 - 1e-6
MAX_EPISODE_LEN = 1000
MAX_TIMESTEP = MAX_EPISODE_LEN - 1
