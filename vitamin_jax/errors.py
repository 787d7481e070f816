"""The errors a user can cause and fix; the command line prints them as one line."""

from vitamin_jax.config_validation import ConfigError
from vitamin_jax.data import DatasetError
from vitamin_jax.envs import UnknownDatasetError
from vitamin_jax.train import TrainingError

EXPECTED_ERRORS = (ConfigError, DatasetError, UnknownDatasetError, TrainingError)
