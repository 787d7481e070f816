"""The errors a user can cause and fix; the command line prints them as one line."""

from vitamin_jax.config_validation import ConfigError
from vitamin_jax.data import DatasetError
from vitamin_jax.envs import UnknownDatasetError
from vitamin_jax.train import TrainingError
from vitamin_jax.workdir import WorkdirError

EXPECTED_ERRORS = (ConfigError, DatasetError, UnknownDatasetError, TrainingError, WorkdirError)
