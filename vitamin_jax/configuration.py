"""Load experiment configs by path, the way `config_flags` does for the command line.

`load_config("configs/adroit.py:pen-human")` imports the file and calls
`get_config("pen-human")` (or `get_config()` without a preset), for tests, benchmarks and
scripts that do not go through absl flags.
"""

from __future__ import annotations

import importlib.util
import os
import sys

import ml_collections

PROJECT_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def ensure_configs_importable() -> None:
    """Family config files do `from configs import base`: put the checkout root on sys.path."""
    if PROJECT_ROOT not in sys.path:
        sys.path.insert(0, PROJECT_ROOT)


def find_config_file(path: str) -> str:
    """`path` from the current directory, or else from the project root (`configs/...` from anywhere)."""
    if not os.path.exists(path) and os.path.exists(os.path.join(PROJECT_ROOT, path)):
        return os.path.join(PROJECT_ROOT, path)
    return path


def load_config(spec: str) -> ml_collections.ConfigDict:
    """Load `path[:preset]`; a relative path is tried from the cwd, then the project root."""
    ensure_configs_importable()
    path, _, preset = spec.partition(":")
    path = find_config_file(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"config file not found: {path}")
    module = config_module(path)
    return module.get_config(preset) if preset else module.get_config()


def config_module(path: str):
    """The config file at `path` as a module (its `get_config`, and `PRESETS` where it has presets)."""
    ensure_configs_importable()
    module_spec = importlib.util.spec_from_file_location(f"_vitamin_config_{abs(hash(path))}", path)
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    return module
