"""Command line: `python -m vitamin_jax.main --config=configs/adroit.py:pen-human --workdir=runs/pen`.

Any config field can be overridden (`--config.seed=3`, `--config.algo=odt`). Starting with
an existing workdir resumes the run from its last checkpoint. Expected failures (unknown
dataset, missing data, bad value, unwritable workdir, diverged losses) print one line and
exit with status 2.
"""

from __future__ import annotations

import glob
import os
import sys

from absl import app, flags, logging

from vitamin_jax.allocator import reexec_with_tcmalloc
from vitamin_jax.configuration import PROJECT_ROOT, config_module
from vitamin_jax.errors import EXPECTED_ERRORS, ConfigError
from vitamin_jax.overrides import define_config_flag, parse_command_line, parsed_config

_CONFIG = define_config_flag(flags.FLAGS)
_WORKDIR = flags.DEFINE_string("workdir", None, "Run directory (outputs, checkpoints); reused to resume.")


def format_summary(summary: dict) -> str:
    rows = [(k, "n/a" if v is None else (f"{v:.2f}" if isinstance(v, float) else str(v))) for k, v in summary.items()]
    width = max(len(k) for k, _ in rows)
    return "\n".join(f"{k:<{width}}  {v}" for k, v in rows)


def main(argv) -> None:
    if len(argv) > 1:  # one line like every other bad input, not absl's usage page
        _fail(f"unexpected arguments: {' '.join(argv[1:])}")
    logging.set_verbosity(logging.WARNING)  # orbax logs every checkpoint step at INFO
    # lazy, both: they load jax (seconds), which must wait until run() re-executed under the allocator
    from vitamin_jax.distributed import initialize_multi_host, is_primary  # loads jax: see above
    from vitamin_jax.train import train_and_evaluate  # loads jax: see above

    try:
        config = parsed_config(_CONFIG)
    except ConfigError as e:
        _fail(str(e))
    initialize_multi_host(config.parallel)
    workdir = _WORKDIR.value or f"runs/{config.env_name}-{config.algo}-seed{config.seed}"
    try:
        summary = train_and_evaluate(config, workdir)
    except EXPECTED_ERRORS as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)
    if is_primary():
        print(format_summary(summary))
        print(f"outputs in {workdir} (metrics.jsonl, curve.png, tensorboard/, checkpoints/)")


def _fail(message: str) -> None:
    print(f"error: {message}", file=sys.stderr)
    sys.exit(2)


COMMON_FIELDS = (
    ("algo", "td3_odt | odt | td3 | ddpg_odt | sac_odt | iql_odt | awac_odt"),
    ("seed", "the run's seed (every random stream derives from it)"),
    ("num_seeds", "S > 1 trains seeds seed .. seed + S - 1 vmapped in one process"),
    ("online.max_online_transitions", "the online budget (may be raised when resuming a finished run)"),
    ("rl.rl_coeff", "alpha, the weight of the RL term"),
    ("train.batch_size", "windows per batch"),
    ("train.num_updates_per_online_iter", "updates after each collection"),
    ("model.embed_dim / model.n_layer / model.context_len", "transformer size and context K"),
    ("dataset.path / dataset.minari_id", "a D4RL .hdf5 file, or a Minari id, instead of the registry's"),
    ("parallel.data_parallel", "shard every batch over all local devices"),
    ("log.progress_bar / log.tensorboard", "presentation only"),
)


def help_text() -> str:
    """The config files with their presets, and the fields most runs override."""
    lines = [__doc__.splitlines()[0], "", "usage: python -m vitamin_jax.main --config=FILE[:PRESET] "
             "[--workdir=DIR] [--config.FIELD=VALUE ...]", "", "config files and their presets:"]
    for path in sorted(glob.glob(os.path.join(PROJECT_ROOT, "configs", "*.py"))):
        name = os.path.relpath(path, PROJECT_ROOT)
        if os.path.basename(path).startswith("_"):
            continue
        presets = getattr(config_module(path), "PRESETS", None)
        lines.append(f"  {name}: " + (", ".join(presets) if presets else "(no preset)"))
    lines += ["", "most used fields (any field of configs/base.py can be overridden):"]
    lines += [f"  --config.{field}: {what}" for field, what in COMMON_FIELDS]
    lines += ["", "An existing --workdir resumes its run; docs/design.md explains the loop."]
    return "\n".join(lines)


def parse_flags(argv: list[str]) -> list[str]:
    """--help, else absl parsing; a bad flag or override is one line and exit status 2 (vitamin_jax/overrides.py)."""
    if any(arg in ("-h", "--help", "--helpshort", "--helpfull", "-?") for arg in argv[1:]):
        print(help_text())
        sys.exit(0)
    try:
        return parse_command_line(flags.FLAGS, argv)
    except ConfigError as e:
        _fail(str(e))


def run() -> None:
    reexec_with_tcmalloc("vitamin_jax.main")
    flags.mark_flags_as_required(["config"])
    app.run(main, flags_parser=parse_flags)


if __name__ == "__main__":
    run()
