"""The errors a user can cause and fix; the command line prints them as one line.

They live here, with no project imports, so that any layer can raise them and the command
lines can catch them all (`EXPECTED_ERRORS`) without importing the layers that raise them.
"""


class ConfigError(ValueError):
    """A config value is out of range or inconsistent; the message names the field."""


class UnknownDatasetError(ValueError):
    """The dataset name is not in the registry; the message suggests close names."""


class DatasetError(RuntimeError):
    """A dataset is missing, unreadable or malformed; the message says how to fix it."""


class WorkdirError(RuntimeError):
    """The workdir cannot hold this run (busy, not a directory, another run's config)."""


class TrainingError(RuntimeError):
    """A run cannot go on (e.g. non-finite losses); the last checkpoint is kept."""


class SavedRunError(RuntimeError):
    """A workdir or one of its checkpoints cannot be loaded as asked (evaluation, a saved policy)."""


EXPECTED_ERRORS = (ConfigError, DatasetError, UnknownDatasetError, TrainingError, WorkdirError, SavedRunError)
