"""Optional Weights & Biases mirror of a run's scalars (`--config.log.wandb=True`, extra `vitamin_jax[wandb]`).

Offline by default (`log.wandb_mode='offline'`): no account and no network; the run is written to
`workdir/wandb/` and `wandb sync workdir/wandb/offline-run-*` uploads it later. tensorboard and
scalars.jsonl stay the run's record; wandb gets the same points.

Resume: wandb cannot delete points, and a kill leaves points past the restored checkpoint in the
old wandb run. So each start of a workdir opens a new wandb run (id `<run id>-<start>`, same
group) that first replays the kept points of scalars.jsonl, as tensorboard is rebuilt. The newest
wandb run of a group therefore holds exactly the points of an uninterrupted run.
"""

from __future__ import annotations

import json
import os
import sys
import uuid
from typing import Iterable, Mapping, Optional

from vitamin_jax.atomic import atomic_write
from vitamin_jax.errors import ConfigError

_ID_FILE = "wandb_run.json"  # this workdir's group id and how many wandb runs it has opened


class WandbMirror:
    """Sends every (tag, value) point to one wandb run, keyed by the iteration that produced it."""

    def __init__(self, workdir: str, *, project: str, mode: str, name: str, config: Mapping,
                 kept_points: Iterable[dict]):
        try:
            import wandb
        except ImportError:
            raise ConfigError("log.wandb=True needs wandb: pip install 'vitamin_jax[wandb]'") from None
        group, start = _next_start(workdir)
        self.run = wandb.init(project=project, dir=workdir, mode=mode, group=group, name=name,
                              id=f"{group}-{start}", config=dict(config), reinit="create_new",
                              settings=wandb.Settings(silent=True))
        self.run.define_metric("global_iteration")
        self.run.define_metric("*", step_metric="global_iteration")
        by_iteration: dict[int, dict] = {}
        for p in kept_points:
            by_iteration.setdefault(p["global_iteration"], {})[p["tag"]] = p["value"]
        for iteration in sorted(by_iteration):
            self.log(by_iteration[iteration], iteration)

    def log(self, points: Mapping[str, float], global_iteration: int) -> None:
        self.run.log({"global_iteration": int(global_iteration), **points})

    def close(self, exit_code: int = 0) -> None:
        """Finish the run and wait until its offline file holds every point.

        `run.finish()` returns once the exit record is handled, but the service writes the
        transaction log (`run-*.wandb`) through a buffer it closes only when the stream shuts
        down, later; a kill right after `finish` could leave just the file's header. Tearing
        the service down waits for that shutdown (the process owns its service: the CLI runs
        one wandb run at a time).
        """
        import wandb

        self.run.finish(exit_code=exit_code)
        try:
            wandb.teardown(exit_code=exit_code)
        except SystemExit as e:  # teardown exits the process when the service itself failed
            print(f"warning: the wandb service ended with status {e.code}; the wandb mirror in {self.run.dir} "
                  f"may be incomplete (scalars.jsonl holds every point)", file=sys.stderr)


def _next_start(workdir: str) -> tuple[str, int]:
    """(group id, index of this start): the group is drawn once per workdir, the index counts starts."""
    path = os.path.join(workdir, _ID_FILE)
    state = {"group": uuid.uuid4().hex[:8], "starts": 0}
    if os.path.exists(path):
        with open(path) as f:
            state = json.load(f)
    start = state["starts"]
    state["starts"] += 1
    atomic_write(path, json.dumps(state))
    return state["group"], start


def from_config(config, workdir: str, name: str, kept_points: Iterable[dict]) -> Optional[WandbMirror]:
    """The mirror the config asks for, or None (`log.wandb=False`)."""
    if not config.log.get("wandb", False):
        return None
    return WandbMirror(workdir, project=config.log.wandb_project, mode=config.log.wandb_mode, name=name,
                       config=config.to_dict(), kept_points=kept_points)
