"""`--config=FILE[:PRESET] --config.FIELD=VALUE ...` read into a ConfigDict, the one way every command line reads it.

Why: `python -m vitamin_jax.main` and `python -m vitamin_jax.sweep` take the same overrides, so
they go through the same parser, ml_collections' config_flags: a field's override is parsed by
the field's own type (a float field's `1` is 1.0, a string field's `123` is '123'), and a bad
or unknown override is refused with the same one line. Importing this module defines no flag:
main defines its `--config` on absl's global FLAGS (`define_config_flag`), and
`config_from_command_line` parses on a FlagValues of its own.
"""

from __future__ import annotations

from typing import Any, Optional, Sequence

import ml_collections
from absl import flags
from ml_collections import config_flags

from vitamin_jax.configuration import ensure_configs_importable, load_config
from vitamin_jax.errors import ConfigError
from vitamin_jax.schema import get_field

CONFIG_FLAG = "config"
OVERRIDE_PREFIX = f"--{CONFIG_FLAG}."


def define_config_flag(flag_values: flags.FlagValues, sys_argv: Optional[Sequence[str]] = None) -> flags.FlagHolder:
    """`--config=FILE[:PRESET]` on `flag_values`; config_flags finds the `--config.FIELD` overrides in
    `sys_argv` (sys.argv when None) and defines one typed flag per overridden field."""
    ensure_configs_importable()  # family config files do `from configs import base`
    return config_flags.DEFINE_config_file(CONFIG_FLAG, None, "Experiment config file[:preset].",
                                           flag_values=flag_values, lock_config=True,
                                           sys_argv=None if sys_argv is None else list(sys_argv))


def parse_command_line(flag_values: flags.FlagValues, argv: Sequence[str]) -> list[str]:
    """absl parsing of `argv` (program name first) with one-line ConfigErrors (config_flags embeds
    tracebacks in its messages); returns the arguments that are not flags."""
    try:
        return flag_values(list(argv))
    except flags.Error as e:
        lines = [line.strip() for line in str(e).splitlines() if line.strip()]
        if any(line.startswith("Traceback") for line in lines):
            lines = [lines[0].rstrip(":"), lines[-1]]
        raise ConfigError(" ".join(lines)) from None
    except OSError as e:  # config_flags raises IOError for a missing config file
        raise ConfigError(_one_line(e)) from None
    except (AttributeError, KeyError) as e:
        unknown = unknown_overrides(argv)
        raise ConfigError(f"unknown config field {', '.join(unknown)}" if unknown
                          else f"bad config override: {e}") from None


def parsed_config(holder: flags.FlagHolder) -> ml_collections.ConfigDict:
    """The parsed config; config_flags defers a config file's failure to load until the value is read."""
    try:
        config = holder.value
        config.env_name  # a config file that failed to load raises on first use
    except OSError as e:
        raise ConfigError(_one_line(e)) from None
    return config


def config_from_command_line(spec: str, overrides: Sequence[str]) -> ml_collections.ConfigDict:
    """The config `--config=spec` with `overrides` (`--config.FIELD=VALUE` arguments) gives the command line."""
    argv = ["vitamin_jax", f"--{CONFIG_FLAG}={spec}", *overrides]
    flag_values = flags.FlagValues()
    holder = define_config_flag(flag_values, sys_argv=argv)
    parse_command_line(flag_values, argv)
    return parsed_config(holder)


def override_values(spec: str, overrides: Sequence[str]) -> list[tuple[str, Any]]:
    """(field, value) per overridden field, as the command line parses `overrides` for `--config=spec`."""
    config = config_from_command_line(spec, overrides)
    fields = dict.fromkeys(arg.split("=", 1)[0][len(OVERRIDE_PREFIX):] for arg in overrides)  # the last one wins
    return [(field, get_field(config, field)) for field in fields]


def unknown_overrides(argv: Sequence[str]) -> list[str]:
    """The `--config.a.b=...` overrides whose field does not exist in the config file."""
    spec = next((a.split("=", 1)[1] for a in argv if a.startswith(f"--{CONFIG_FLAG}=")), None)
    if spec is None:
        return []
    config = load_config(spec)
    unknown = []
    for arg in argv:
        if arg.startswith(OVERRIDE_PREFIX):
            node = config
            for part in arg[len(OVERRIDE_PREFIX):].split("=", 1)[0].split("."):
                if not hasattr(node, "keys") or part not in node:
                    unknown.append(arg.split("=", 1)[0][2:])
                    break
                node = node[part]
    return unknown


def _one_line(error: BaseException) -> str:
    return " ".join(line.strip() for line in str(error).splitlines() if line.strip())
