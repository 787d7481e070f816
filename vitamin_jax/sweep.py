"""Run a grid of (preset, algo, seeds) cells as jobs, locally or on Slurm, through submitit.

  python -m vitamin_jax.sweep --config=configs/mujoco.py --presets=hopper-random,halfcheetah-random \\
      --algos=td3_odt,odt,td3 --seeds=0-4 --seeds-per-job=5 --out=DIR [--config.FIELD=VALUE ...]
      [--executor=local --max-parallel=2 | --executor=slurm --slurm.partition=gpu --slurm.time=600 ...]
      [--dry-run]

One job per cell, in its own workdir `DIR/<preset>/<algo>/seeds_<a>-<b>/`; a job with S
seeds runs them vmapped in one process (`config.num_seeds`). Without --presets the grid
has the config file's default preset (the default of its `get_config` argument, what
`--config=FILE` alone runs), or, for a file that takes no preset, one preset-less set of
cells `DIR/<algo>/seeds_<a>-<b>/`. Jobs are ordinary resumable
runs, so rerunning the same command skips finished cells and resumes the others from their
checkpoints, and a Slurm job that is preempted is requeued and resumes the same way. The
workdir's saved config decides what a cell is: a changed override reaches a cell only as a
refused resume (a failed cell), never as a mixed run. `DIR/sweep.json` records the grid,
the overrides, and each cell's job id and state (recomputed from the cell's workdir on every
run). One sweep at a time holds DIR (an OS lock on `DIR/.sweep.lock` with its pid); a second
exits at once naming it. The local executor prints a live table and
exits non-zero listing the failed cells with the last line of their logs; the Slurm executor
submits one job array and returns (rerun the command later to see the state).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import inspect
import json
import os
import sys
import time
from typing import Any, Optional, Sequence

import submitit
from rich.console import Console
from rich.live import Live
from rich.table import Table

from vitamin_jax import distributed, envs
from vitamin_jax.allocator import reexec_with_tcmalloc
from vitamin_jax.atomic import atomic_write
from vitamin_jax.config_validation import resolve_config
from vitamin_jax.configuration import config_module, find_config_file, load_config
from vitamin_jax.data.generate import generate_if_missing
from vitamin_jax.data.loading import first_line
from vitamin_jax.errors import EXPECTED_ERRORS, ConfigError, WorkdirError
from vitamin_jax.logger import read_metrics
from vitamin_jax.overrides import override_values
from vitamin_jax.train import train_and_evaluate
from vitamin_jax.workdir import WorkdirLock

MANIFEST = "sweep.json"
SUMMARY = "summary.json"  # written by a cell's job when its run reaches the budget (with the job's id)
LOCK_FILE = ".sweep.lock"  # held by the sweep that owns the directory
SLURM_OPTIONS = ("partition", "gpus-per-job", "cpus-per-job", "time", "mem", "nodes", "tasks-per-node")


class SweepError(ValueError):
    """A bad grid or option; printed as one line."""


@dataclasses.dataclass(frozen=True)
class Cell:
    """One job of the grid: a preset, an algo and consecutive seeds. Submitted jobs carry it pickled
    (by this name: a requeued Slurm job unpickles it), and its name is its workdir under --out."""

    preset: str
    algo: str
    seeds: tuple[int, ...]

    @property
    def name(self) -> str:
        """`<preset>/<algo>/seeds_<a>-<b>`; a preset-less cell (preset '') has no preset level."""
        seeds = f"{self.algo}/seeds_{self.seeds[0]}-{self.seeds[-1]}"
        return f"{self.preset}/{seeds}" if self.preset else seeds


# ---------------------------------------------------------------------------- the grid
def parse_seeds(text: str) -> list[int]:
    """'0-4' -> [0, 1, 2, 3, 4]; '0,2,7' -> [0, 2, 7]; consecutive groups of these make jobs."""
    seeds: list[int] = []
    try:
        for part in text.split(","):
            if "-" in part:
                first, last = (int(x) for x in part.split("-"))
                seeds += list(range(first, last + 1))
            else:
                seeds.append(int(part))
    except ValueError:
        raise SweepError(f"--seeds={text!r}: give a range like 0-4 or a list like 0,2,7") from None
    if not seeds or len(set(seeds)) != len(seeds) or min(seeds) < 0:
        raise SweepError(f"--seeds={text!r}: seeds must be distinct non-negative integers")
    return seeds


def make_cells(presets: Sequence[str], algos: Sequence[str], seeds: Sequence[int], per_job: int) -> list[Cell]:
    """One cell per (preset, algo, group of `per_job` consecutive seeds): a vmapped group needs consecutive seeds."""
    groups, current = [], []
    for seed in seeds:
        if current and (len(current) == per_job or seed != current[-1] + 1):
            groups.append(tuple(current))
            current = []
        current.append(seed)
    groups.append(tuple(current))
    return [Cell(p, a, g) for p in presets for a in algos for g in groups]


def choose_presets(config_file: str, given: Optional[str]) -> tuple[list[str], str]:
    """The presets to sweep and where they come from ('--presets', 'config default' or 'no presets').

    Without --presets: the default of `get_config`'s argument (what `--config=FILE` alone runs),
    named so that the cells' directories and sweep.json say which preset ran; a file whose
    `get_config` takes no preset (or defaults it to '') gets one preset-less set of cells ['']."""
    path = find_config_file(config_file)
    if not os.path.isfile(path):
        raise SweepError(f"--config={config_file}: config file not found (give a file; presets go in --presets)")
    try:
        get_config = config_module(path).get_config
        params = list(inspect.signature(get_config).parameters.values())
    except Exception as e:  # the user's file: any error in it is one line naming it
        raise SweepError(f"--config={config_file}: {type(e).__name__}: {first_line(e)}") from None
    takes_preset = bool(params) and params[0].kind in (inspect.Parameter.POSITIONAL_ONLY,
                                                       inspect.Parameter.POSITIONAL_OR_KEYWORD)
    if given is not None:
        presets = [x for x in given.split(",") if x]
        if not presets:
            raise SweepError(f"--presets={given!r} names no preset; leave it out for the config file's default")
        if not takes_preset:
            raise SweepError(f"--config={config_file} takes no preset; leave out --presets")
        return presets, "--presets"
    default = params[0].default if takes_preset else ""
    if default in ("", None):
        return [""], "no presets"
    if not isinstance(default, str):
        raise SweepError(f"--config={config_file} has no default preset; choose presets with --presets")
    return [default], "config default"


def describe_presets(config_file: str, presets: Sequence[str], source: str) -> str:
    """The presets line of the printed table: which presets ran, and why those."""
    if source == "no presets":
        return f"no preset ({config_file} takes none)"
    if source == "config default":
        return f"preset {presets[0]} (the default of {config_file}; choose others with --presets)"
    return f"presets {', '.join(presets)}"


def parse_overrides(config_file: str, preset: str, config_args: Sequence[str]) -> list[tuple[str, Any]]:
    """The `--config.FIELD=VALUE` arguments as (field, value), read as `python -m vitamin_jax.main` reads them
    (vitamin_jax/overrides.py: the field's own type, the same one-line errors) against `preset`'s config;
    the presets of one file share their fields, and cell_config checks each cell's."""
    if not config_args:
        return []
    try:
        return override_values(find_config_file(config_file) + (f":{preset}" if preset else ""), config_args)
    except ConfigError as e:
        raise SweepError(str(e)) from None


def cell_config(config_file: str, cell: Cell, overrides: Sequence[tuple[str, Any]]):
    """The config of one cell: the preset, the algo, its first seed and seed count, then the overrides
    ((field, value) pairs, as parse_overrides reads them)."""
    config = load_config(f"{config_file}:{cell.preset}")
    config.algo = cell.algo
    config.seed = cell.seeds[0]
    config.num_seeds = len(cell.seeds)
    for field, value in overrides:
        *parents, leaf = field.split(".")
        target = config
        for part in parents:
            if not hasattr(target, "keys") or part not in target:
                raise SweepError(f"--config.{field}: no such config field")
            target = target[part]
        if not hasattr(target, "keys") or leaf not in target:
            raise SweepError(f"--config.{field}: no such config field")
        try:
            target[leaf] = value
        except (TypeError, ValueError) as e:
            raise SweepError(f"--config.{field}={value!r}: {first_line(e)}") from None
    return config


# ---------------------------------------------------------------------------- one job
class CellJob(submitit.helpers.Checkpointable):
    """A cell's run; on preemption or timeout submitit requeues it with the same arguments (it resumes)."""

    def __call__(self, config_file: str, cell: Cell, overrides: list, workdir: str) -> dict:
        config = cell_config(config_file, cell, overrides)
        distributed.initialize_multi_host(config.parallel)  # a multi-task Slurm job: one process per task
        summary = train_and_evaluate(config, workdir)
        if not distributed.is_primary():
            return summary
        try:  # the job that finished the cell, for sweep.json (whatever a rerun finds there)
            job_id = str(submitit.JobEnvironment().job_id)
        except (RuntimeError, KeyError):
            job_id = None
        atomic_write(os.path.join(workdir, SUMMARY), json.dumps({**summary, "job_id": job_id}, indent=1))
        return summary


def finished_summary(workdir: str, budget: int) -> Optional[dict]:
    """The cell's summary.json if its run reached `budget`, else None (unfinished or unreadable)."""
    try:
        with open(os.path.join(workdir, SUMMARY)) as f:
            summary = json.load(f)
    except (OSError, ValueError):
        return None
    return summary if summary.get("online_transitions", -1) >= budget else None


def latest_score(workdir: str) -> Optional[float]:
    records = read_metrics(workdir)
    return records[-1]["normalized_score"] if records else None


def last_log_line(job: Any) -> str:
    for path in (job.paths.stderr, job.paths.stdout):
        try:
            lines = [line.strip() for line in open(path) if line.strip()]
        except OSError:
            continue
        if lines:
            return lines[-1]
    return "no log"


def prepare_datasets(configs: Sequence[Any]) -> None:
    """Generate missing random-policy datasets once, here, before jobs that would race to write them."""
    done = set()
    for config in configs:
        key = (config.env_name, config.dataset.minari_id, config.dataset.generate_num_steps)
        if key not in done:
            generate_if_missing(config, envs.get_spec(config.env_name))
            done.add(key)


# ---------------------------------------------------------------------------- the manifest
def load_manifest(out: str) -> dict:
    path = os.path.join(out, MANIFEST)
    if not os.path.exists(path):
        return {"cells": {}}
    try:
        with open(path) as f:
            manifest = json.load(f)
    except (OSError, ValueError) as e:
        raise SweepError(f"{path} is unreadable ({first_line(e)}); move it away to start its record anew") from None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("cells"), dict):
        raise SweepError(f"{path} is not a sweep's record; move it away to start its record anew")
    return manifest


def save_manifest(out: str, manifest: dict) -> None:
    atomic_write(os.path.join(out, MANIFEST), json.dumps(manifest, indent=1))


def lock_sweep(out: str):
    """Create `out` and hold `out/.sweep.lock`: two sweeps on one directory would run (and fail) each
    other's cells and overwrite each other's sweep.json. The workdirs' lock, so the kernel frees it."""
    try:
        os.makedirs(out, exist_ok=True)
        return WorkdirLock(out, LOCK_FILE, busy="sweep directory {dir} is in use by another sweep (pid {pid}); "
                                                "wait for it to finish, or use another --out")
    except WorkdirError as e:
        raise SweepError(str(e)) from None
    except OSError as e:
        raise SweepError(f"--out={out}: {e.strerror or e}") from None


def update_cell_entries(manifest: dict, out: str, cells: Sequence[Cell], finished: dict) -> None:
    """Each cell's entry from its workdir, not from earlier runs: a finished cell is done by the job that
    wrote its summary; any other is pending, its earlier job id (failed, or another sweep's) dropped."""
    for cell in cells:
        entry = manifest["cells"].setdefault(cell.name, {})
        entry.update(preset=cell.preset, algo=cell.algo, seeds=list(cell.seeds), workdir=os.path.join(out, cell.name))
        if cell.name in finished:
            job_id = finished[cell.name].get("job_id")
            if job_id:
                entry["job_id"] = job_id
            elif entry.get("state") != "done":  # a summary from before job ids: the recorded job did not finish it
                entry.pop("job_id", None)
            entry["state"] = "done"
        else:
            entry.pop("job_id", None)
            entry["state"] = "pending"


# ---------------------------------------------------------------------------- executors
def slurm_parameters(options: dict, max_parallel: int) -> dict:
    """submitit SlurmExecutor parameters from --slurm.* options (time in minutes, as sbatch)."""
    params = {"array_parallelism": max_parallel, "job_name": "vitamin_jax"}
    mapping = {"partition": "partition", "gpus-per-job": "gpus_per_node", "cpus-per-job": "cpus_per_task",
               "time": "time", "mem": "mem", "nodes": "nodes", "tasks-per-node": "ntasks_per_node"}
    for key, value in options.items():
        params[mapping[key]] = int(value) if key in ("gpus-per-job", "cpus-per-job", "time", "nodes",
                                                     "tasks-per-node") else value
    params.setdefault("time", 24 * 60)
    return params


def sbatch_lines(params: dict, array_size: int) -> list[str]:
    """The sbatch options a submission uses, as sbatch spells them."""
    flags = {"gpus_per_node": "gpus-per-node", "cpus_per_task": "cpus-per-task", "ntasks_per_node": "ntasks-per-node",
             "job_name": "job-name"}
    lines = [f"#SBATCH --array=0-{array_size - 1}%{params['array_parallelism']}"]
    lines += [f"#SBATCH --{flags.get(k, k)}={v}" for k, v in sorted(params.items()) if k != "array_parallelism"]
    return lines


def _table(rows: list[tuple[str, str, str]], title: str = "sweep") -> Table:
    table = Table(title=title)
    for column in ("cell", "state", "score"):
        table.add_column(column)
    for row in rows:
        table.add_row(*row)
    counts = {s: sum(r[1] == s for r in rows) for s in ("done", "running", "pending", "failed")}
    table.caption = ", ".join(f"{n} {s}" for s, n in counts.items())
    return table


def run_local(out: str, config_file: str, todo: list[Cell], overrides: list, manifest: dict, max_parallel: int,
              timeout_min: int, progress: bool, title: str = "sweep") -> list[tuple[Cell, str]]:
    """Run `todo` with submitit's local executor, at most `max_parallel` at a time; [(cell, log line)] of failures."""
    executor = submitit.LocalExecutor(folder=os.path.join(out, "logs"))
    executor.update_parameters(timeout_min=timeout_min)
    pending, running, failed = list(todo), {}, []
    states = {c.name: "pending" for c in todo}
    console = Console(file=sys.stdout if progress else open(os.devnull, "w"))
    with Live(console=console, refresh_per_second=1, transient=False) as live:
        while pending or running:
            while pending and len(running) < max_parallel:
                cell = pending.pop(0)
                job = executor.submit(CellJob(), config_file, cell, overrides, os.path.join(out, cell.name))
                running[cell.name] = (cell, job)
                states[cell.name] = "running"
                manifest["cells"][cell.name].update(job_id=str(job.job_id), state="running")
                save_manifest(out, manifest)
            for name, (cell, job) in list(running.items()):
                if job.done():
                    del running[name]
                    ok = job.state in ("FINISHED", "DONE", "COMPLETED") and job.exception() is None
                    states[name] = "done" if ok else "failed"
                    if not ok:
                        failed.append((cell, last_log_line(job)))
                    manifest["cells"][name]["state"] = states[name]
                    save_manifest(out, manifest)
            rows = [(n, s, _fmt(latest_score(os.path.join(out, n)))) for n, s in states.items()]
            live.update(_table(rows, title))
            if pending or running:
                time.sleep(1.0)
    return failed


def _fmt(score: Optional[float]) -> str:
    return "-" if score is None else f"{score:.2f}"


def submit_slurm(out: str, config_file: str, todo: list[Cell], overrides: list, manifest: dict,
                 params: dict) -> None:
    executor = submitit.SlurmExecutor(folder=os.path.join(out, "logs"))
    executor.update_parameters(**params)
    with executor.batch():
        jobs = [executor.submit(CellJob(), config_file, cell, overrides, os.path.join(out, cell.name))
                for cell in todo]
    for cell, job in zip(todo, jobs):
        manifest["cells"][cell.name].update(job_id=str(job.job_id), state="submitted")
    save_manifest(out, manifest)
    print(f"submitted {len(jobs)} cells as Slurm array {jobs[0].job_id.split('_')[0] if jobs else '-'}; "
          f"rerun this command to see which finished")


# ---------------------------------------------------------------------------- command line
def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m vitamin_jax.sweep", description=__doc__.splitlines()[0])
    p.add_argument("--config", required=True, help="a config file with presets, e.g. configs/mujoco.py")
    p.add_argument("--presets", help="comma-separated presets of that file (default: the file's default preset)")
    p.add_argument("--algos", required=True, help="comma-separated algorithms (td3_odt,odt,td3,...)")
    p.add_argument("--seeds", default="0-4", help="0-4 or 0,2,7")
    p.add_argument("--seeds-per-job", type=int, default=1, help="consecutive seeds vmapped in one job")
    p.add_argument("--out", required=True, help="sweep directory (one workdir per cell, sweep.json)")
    p.add_argument("--executor", choices=("local", "slurm"), default="local")
    p.add_argument("--max-parallel", type=int, default=1, help="jobs at a time (local) / array parallelism (slurm)")
    p.add_argument("--timeout-min", type=int, default=24 * 60, help="local: a job's time limit")
    p.add_argument("--dry-run", action="store_true", help="print the cells and the sbatch options; submit nothing")
    p.add_argument("--no-progress", action="store_true", help="no live table")
    return p


def main(argv: Optional[Sequence[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    config_args = [a for a in argv if a.startswith("--config.")]
    slurm_args = [a for a in argv if a.startswith("--slurm.")]
    args = _parser().parse_args([a for a in argv if a not in config_args and a not in slurm_args])
    try:
        return _run(args, config_args, slurm_args)
    except SweepError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


@dataclasses.dataclass(frozen=True)
class Grid:
    """The cells one sweep command asks for, each with its resolved config, and where they come from."""

    cells: list  # Cell
    configs: dict  # cell name -> its resolved config
    overrides: list  # (field, value), as parse_overrides reads the --config.* arguments
    presets: list
    presets_from: str  # choose_presets' source
    algos: list
    seeds: list
    title: str  # of the printed table


def parse_slurm_options(slurm_args: Sequence[str]) -> dict:
    """--slurm.KEY=VALUE arguments -> {KEY: VALUE}, KEY one of SLURM_OPTIONS."""
    slurm = {}
    for a in slurm_args:
        key, _, value = a[len("--slurm."):].partition("=")
        if key not in SLURM_OPTIONS or not value:
            raise SweepError(f"{a}: Slurm options are --slurm.{{{','.join(SLURM_OPTIONS)}}}=VALUE")
        slurm[key] = value
    return slurm


def plan_grid(args: argparse.Namespace, config_args: Sequence[str]) -> Grid:
    """The grid of the command line; every cell's config must resolve before anything runs."""
    if args.seeds_per_job < 1 or args.max_parallel < 1:
        raise SweepError("--seeds-per-job and --max-parallel must be >= 1")
    seeds = parse_seeds(args.seeds)
    algos = [x for x in args.algos.split(",") if x]
    if not algos:
        raise SweepError(f"--algos={args.algos!r} names no algorithm; give e.g. --algos=td3_odt,odt")
    presets, source = choose_presets(args.config, args.presets)
    overrides = parse_overrides(args.config, presets[0], config_args)
    cells = make_cells(presets, algos, seeds, args.seeds_per_job)
    configs = {}
    for cell in cells:
        try:
            configs[cell.name] = resolve_config(cell_config(args.config, cell, overrides))
        except EXPECTED_ERRORS + (ValueError, FileNotFoundError) as e:
            raise SweepError(f"cell {cell.name}: {first_line(e) or type(e).__name__}") from None
    return Grid(cells, configs, overrides, presets, source, algos, seeds,
                title=f"sweep: {describe_presets(args.config, presets, source)}")


def finished_cells(grid: Grid, out: str) -> dict:
    """Cell name -> summary of each cell whose workdir under `out` reached its config's budget."""
    budgets = {c.name: int(grid.configs[c.name].online.max_online_transitions) for c in grid.cells}
    summaries = {c.name: finished_summary(os.path.join(out, c.name), budgets[c.name]) for c in grid.cells}
    return {name: summary for name, summary in summaries.items() if summary is not None}


def dry_run(grid: Grid, out: str, executor: str, params: dict) -> int:
    """Print which cells would run, and the sbatch options of a Slurm array; write nothing."""
    finished = finished_cells(grid, out)
    todo = [c for c in grid.cells if c.name not in finished]
    print(grid.title)
    for cell in grid.cells:
        print(f"{cell.name}: {'finished' if cell.name in finished else 'to run'}")
    print(f"{len(todo)} of {len(grid.cells)} cells to run with the {executor} executor")
    if executor == "slurm" and todo:
        print("\n".join(sbatch_lines(params, len(todo))))
    return 0


def _run(args, config_args: list[str], slurm_args: list[str]) -> int:
    slurm = parse_slurm_options(slurm_args)
    grid = plan_grid(args, config_args)
    out = os.path.abspath(args.out)
    params = slurm_parameters(slurm, args.max_parallel) if args.executor == "slurm" else {}
    if args.dry_run:
        return dry_run(grid, out, args.executor, params)
    created = not os.path.exists(out)
    lock = lock_sweep(out)  # before anything is read or written: only the holder's view of the cells is true
    try:
        todo, manifest = start_sweep(args, grid, out, lock, created)
        if not todo:
            print(f"all {len(grid.cells)} cells finished; report: python -m vitamin_jax.report {out}")
            return 0
        if args.executor == "slurm":
            submit_slurm(out, args.config, todo, grid.overrides, manifest, params)
            return 0
        failed = run_local(out, args.config, todo, grid.overrides, manifest, args.max_parallel, args.timeout_min,
                           not args.no_progress, grid.title)
    finally:
        lock.release()
    print()
    if failed:
        print(f"{len(failed)} of {len(grid.cells)} cells failed:", file=sys.stderr)
        for cell, line in failed:
            print(f"  {cell.name}: {line}", file=sys.stderr)
        return 1
    print(f"all {len(grid.cells)} cells finished; report: python -m vitamin_jax.report {out}")
    return 0


def start_sweep(args: argparse.Namespace, grid: Grid, out: str, lock: WorkdirLock,
                created: bool) -> tuple[list[Cell], dict]:
    """With `out` held: the cells left to run, their datasets made, the title printed and sweep.json written."""
    finished = finished_cells(grid, out)
    todo = [c for c in grid.cells if c.name not in finished]
    try:
        prepare_datasets([grid.configs[c.name] for c in todo])
    except EXPECTED_ERRORS as e:
        if created:  # leave no directory behind for a sweep that never started
            with contextlib.suppress(OSError):
                os.remove(lock.path)
                os.rmdir(out)
        raise SweepError(first_line(e) or type(e).__name__) from None
    print(grid.title)
    manifest = load_manifest(out)
    manifest.update(config=args.config, presets=[p for p in grid.presets if p], presets_from=grid.presets_from,
                    algos=grid.algos, seeds=grid.seeds, seeds_per_job=args.seeds_per_job,
                    overrides=[f"{f}={v!r}" for f, v in grid.overrides], executor=args.executor)
    update_cell_entries(manifest, out, grid.cells, finished)
    save_manifest(out, manifest)
    return todo, manifest


if __name__ == "__main__":
    reexec_with_tcmalloc("vitamin_jax.sweep")  # its local cells inherit the allocator
    sys.exit(main())
