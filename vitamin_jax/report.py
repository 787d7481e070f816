"""`python -m vitamin_jax.report DIR`: the paper-style table, rliable aggregates and learning curves of runs.

Why: a sweep (or any folder of runs, or one run) is judged the way the paper reports it,
`final(+increase)` per (dataset, algo) beside the paper's cell (docs/reference.md#reading-the-result-tables),
plus the aggregate metrics with stratified bootstrap CIs of Agarwal et al.'s rliable, which a
5-seed table alone cannot give. It reads each run's own config.json and metrics.jsonl (the
layout of vitamin_jax/logger.py and vitamin_jax/train.py), never a sweep's bookkeeping, so
it works on partial sweeps, hand-made folders and single runs alike.

Writes DIR/report.md, DIR/report.json and DIR/report_*.png, and prints the table.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import re
import sys
from typing import Iterator, Optional, Sequence

import numpy as np

from vitamin_jax.logger import METRICS_FILE, read_metrics
from vitamin_jax.paper_results import PAPER_COLUMN, PAPER_ROW, TABLES, PaperCell, paper_average, paper_cell

CONFIG_FILE = "config.json"  # written by vitamin_jax/workdir.py next to metrics.jsonl
REPORT_MD, REPORT_JSON = "report.md", "report.json"
PROFILE_PNG, AGGREGATES_PNG = "report_profile.png", "report_aggregates.png"
METRIC_NAMES = ("IQM", "Mean", "Median", "Optimality Gap")
FAMILY_TITLES = {"mujoco": "MuJoCo", "adroit": "Adroit", "antmaze": "AntMaze", "maze2d": "Maze2D", "toy": "Toy",
                 "other": "Other datasets"}
ALGO_ORDER = ("td3_odt", "odt", "td3", "ddpg_odt")  # the paper's method first, then its other columns
BASELINE = "td3_odt"  # probability of improvement: this algo over each other one
Z95 = 1.96  # learning-curve band: mean +- 1.96 standard errors over seeds
# Config fields that may differ between runs of one cell without making them different experiments.
_BOOKKEEPING = ("seed", "num_seeds", "log.", "parallel.", "checkpoint.", "dataset.path", "dataset.download",
                "dataset.generate_if_missing")


class ReportError(Exception):
    """Nothing to report on (no metrics.jsonl, no readable run); main prints it as one line."""


# ---------------------------------------------------------------------------- reading runs
@dataclasses.dataclass(frozen=True)
class SeedResult:
    """One seed of one run: its scores and its curve (x = online transitions, the last pretraining evaluation at 0)."""

    seed: int
    pretrain: float  # the last pretraining evaluation's score (the first record's if none)
    final: float  # the last online evaluation's score (the latest evaluation while a run is still pretraining)
    finished: bool  # its run reached config.online.max_online_transitions
    run: str  # the run dir, relative to the report dir
    xs: tuple
    ys: tuple

    @property
    def increase(self) -> float:
        return self.final - self.pretrain


@dataclasses.dataclass(frozen=True)
class Run:
    path: str  # relative to the report dir ('.' for a single run)
    dataset: str
    algo: str
    family: str
    seeds: tuple  # SeedResult per seed; empty before the first evaluation
    online_transitions: int  # the last record's (the minimum over seeds)
    budget: int  # config.online.max_online_transitions
    finished: bool
    evaluations: int
    time: dict  # time/* key -> mean seconds per iteration over the records that carry it
    config: dict  # flattened



def shown_path(root: str) -> str:
    """`root` relative to the current directory, or its name alone if it lies elsewhere:
    a committed report must not carry the absolute path of the machine it was made on."""
    rel = os.path.relpath(os.path.abspath(root))
    return os.path.basename(os.path.abspath(root)) if rel.startswith("..") else rel

def _flatten(config: dict, prefix: str = "") -> dict:
    out = {}
    for key, value in config.items():
        if isinstance(value, dict):
            out.update(_flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def _dataset(env_name: str) -> tuple[str, str]:
    """(canonical dataset name, registry family); names the registry lacks land in 'other'."""
    from vitamin_jax.envs.registry import get_spec
    from vitamin_jax.errors import UnknownDatasetError

    try:
        spec = get_spec(env_name)
    except UnknownDatasetError:
        return env_name, "other"
    return spec.name, spec.family


def _per_seed(record: dict, key: str, num_seeds: int) -> list:
    """A record's per-seed values of `key` (`key_per_seed` when the run vmapped S > 1 seeds)."""
    values = record.get(f"{key}_per_seed")
    return list(values) if values is not None else [record[key]] * num_seeds


def read_run(run_dir: str, root: str) -> Run:
    """One run dir -> Run; raises ValueError when its config.json or a metrics record is unreadable."""
    path = os.path.relpath(run_dir, root)
    try:
        with open(os.path.join(run_dir, CONFIG_FILE)) as f:
            config = _flatten(json.load(f))
    except (OSError, ValueError, AttributeError) as e:
        raise ValueError(f"{path}: no readable {CONFIG_FILE} ({e.__class__.__name__})") from None
    try:
        return _run_from_records(path, config, read_metrics(run_dir))
    except (KeyError, TypeError, IndexError) as e:
        raise ValueError(f"{path}: a {METRICS_FILE} record lacks a field of vitamin_jax/train.py's layout "
                         f"({e!r})") from None


def _run_from_records(path: str, config: dict, records: list) -> Run:
    dataset, family = _dataset(str(config.get("env_name", "?")))
    budget = int(config.get("online.max_online_transitions", 0))
    finished = bool(records) and records[-1]["online_transitions"] >= budget
    seeds = ()
    if records:
        num_seeds = len(records[0].get("normalized_score_per_seed", [None]))
        pre = [r for r in records if r["phase"] == "pretrain"]
        online = [r for r in records if r["phase"] == "online"]
        pretrain = _per_seed(pre[-1] if pre else records[0], "normalized_score", num_seeds)
        final = _per_seed((online or records)[-1], "normalized_score", num_seeds)
        curve_records = ([pre[-1]] if pre else []) + online
        xs = [[0] * num_seeds if r["phase"] == "pretrain" else _per_seed(r, "online_transitions", num_seeds)
              for r in curve_records]
        ys = [_per_seed(r, "normalized_score", num_seeds) for r in curve_records]
        first = int(config.get("seed", 0))
        seeds = tuple(SeedResult(first + s, float(pretrain[s]), float(final[s]), finished, path,
                                 tuple(float(x[s]) for x in xs), tuple(float(y[s]) for y in ys))
                      for s in range(num_seeds))
    time_keys = sorted({k for r in records for k in r if k.startswith("time/")})
    time = {k: float(np.mean([r[k] for r in records if k in r])) for k in time_keys}
    return Run(path, dataset, str(config.get("algo", "?")), family, seeds,
               int(records[-1]["online_transitions"]) if records else 0, budget, finished, len(records), time, config)


def find_runs(root: str) -> tuple[list[Run], list[str]]:
    """Every run dir under `root` (recursively, `root` itself included) and notes on the ones skipped."""
    if not os.path.isdir(root):
        raise ReportError(f"{root} is not a directory")
    run_dirs = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in ("checkpoints", "tensorboard"))
        if METRICS_FILE in filenames:
            run_dirs.append(dirpath)
    if not run_dirs:
        raise ReportError(f"no {METRICS_FILE} under {root}")
    runs, notes = [], []
    for run_dir in run_dirs:
        try:
            runs.append(read_run(run_dir, root))
        except ValueError as e:
            notes.append(f"skipped {e}")
    if not runs:
        raise ReportError(f"no run under {root} has a readable {CONFIG_FILE} next to its {METRICS_FILE}")
    return runs, notes


# ---------------------------------------------------------------------------- cells
@dataclasses.dataclass
class Cell:
    """All seeds of one (dataset, algo), from however many runs."""

    dataset: str
    algo: str
    family: str
    seeds: list  # SeedResult, sorted by seed, one per seed
    runs: list  # Run
    paper: Optional[PaperCell]

    @property
    def running(self) -> bool:
        return any(not r.finished for r in self.runs)

    def mean(self, field: str) -> Optional[float]:
        values = [getattr(s, field) for s in self.seeds]
        return float(np.mean(values)) if values else None


def _algo_key(algo: str) -> tuple:
    return (ALGO_ORDER.index(algo) if algo in ALGO_ORDER else len(ALGO_ORDER), algo)


def algo_order(algos) -> list[str]:
    """The paper's method first, then its other columns, then the rest alphabetically."""
    return sorted(set(algos), key=_algo_key)


def _dataset_order(dataset: str, family: str) -> tuple:
    """The paper's row order within a family, then the rest alphabetically."""
    row = PAPER_ROW.get(dataset)
    rows = list(TABLES[family].rows) if family in TABLES else []
    return (rows.index(row[1]) if row and row[1] in rows else len(rows), dataset)


def build_cells(runs: Sequence[Run]) -> tuple[list[Cell], list[str]]:
    """Group runs by (dataset, algo); a seed found in two runs is kept once, and mixed configs are noted."""
    cells, notes = {}, []
    for run in sorted(runs, key=lambda r: r.path):
        cell = cells.setdefault((run.dataset, run.algo), Cell(run.dataset, run.algo, run.family, [], [],
                                                              paper_cell(run.dataset, run.algo)))
        cell.runs.append(run)
        have = {s.seed: s for s in cell.seeds}
        for s in run.seeds:
            if s.seed in have:
                notes.append(f"{run.dataset}/{run.algo}: seed {s.seed} is in both {have[s.seed].run} and {run.path}; "
                             f"kept {have[s.seed].run}")
            else:
                cell.seeds.append(s)
        cell.seeds.sort(key=lambda s: s.seed)
    for cell in cells.values():
        differing = sorted({k for r in cell.runs for k in set(r.config) | set(cell.runs[0].config)
                            if not k.startswith(_BOOKKEEPING) and r.config.get(k) != cell.runs[0].config.get(k)})
        if differing:
            notes.append(f"{cell.dataset}/{cell.algo} mixes runs whose configs differ in: {', '.join(differing)}")
    ordered = sorted(cells.values(), key=lambda c: (list(FAMILY_TITLES).index(c.family),
                                                    _dataset_order(c.dataset, c.family), _algo_key(c.algo)))
    return ordered, notes


# ---------------------------------------------------------------------------- rliable aggregates
@contextlib.contextmanager
def seeded(seed: int) -> Iterator[None]:
    """Seed NumPy's global RNG for one bootstrap, then put the caller's state back.

    rliable 1.2's StratifiedBootstrap draws its resampling indices with np.random.choice,
    so its `random_state` argument does not make the CIs reproducible; the global seed does.
    """
    state = np.random.get_state()
    np.random.seed(seed)
    try:
        yield
    finally:
        np.random.set_state(state)


def aggregate_metrics(scores: np.ndarray) -> np.ndarray:
    """IQM, mean, median and optimality gap of a (runs x tasks) matrix of scores / 100 (METRIC_NAMES order)."""
    from rliable import metrics

    return np.array([metrics.aggregate_iqm(scores), metrics.aggregate_mean(scores),
                     metrics.aggregate_median(scores), metrics.aggregate_optimality_gap(scores)])


def _probability_of_improvement(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """rliable's metrics.probability_of_improvement, vectorised for the bootstrap.

    Per task P(X > Y) + P(X = Y) / 2 over all run pairs is the Mann-Whitney U / (n_x n_y) it
    computes (and 0.5 for equal samples), averaged over tasks; scipy's per-task call took
    about 20 s per pair for 2000 resamples of 5 tasks on this project's 2-core machine.
    """
    pairs = x[:, None, :] - y[None, :, :]
    return np.array([np.mean((pairs > 0).mean(axis=(0, 1)) + 0.5 * (pairs == 0).mean(axis=(0, 1)))])


def _score_fraction_above(scores: np.ndarray, taus: np.ndarray) -> np.ndarray:
    """rliable's run-score distribution (mean of scores > tau per tau), vectorised over tau."""
    return (scores.reshape(-1, 1) > taus[None, :]).mean(axis=0)


def score_matrices(cells: Sequence[Cell]) -> dict:
    """The rliable inputs: finished seeds' final scores / 100, (runs x tasks) per algo, and what was left out.

    Tasks are the datasets on which every algo with a finished run has one, sorted by name,
    so every algo is measured on the same tasks. rliable needs one run count per task within
    an algo: each algo keeps its lowest seeds, as many as its task with the fewest has.
    """
    finished = {(c.dataset, c.algo): [s for s in c.seeds if s.finished] for c in cells}
    algos = algo_order(a for (_, a), seeds in finished.items() if seeds)
    notes = [f"{a} has no finished run and is left out of the aggregates"
             for a in algo_order(c.algo for c in cells) if a not in algos]
    datasets = sorted({c.dataset for c in cells})
    tasks = [d for d in datasets if all(finished.get((d, a)) for a in algos)]
    for d in datasets:
        missing = [a for a in algos if not finished.get((d, a))]
        if missing:
            notes.append(f"{d} is left out of the aggregates: no finished run of {', '.join(missing)}")
    matrices, runs_per_task = {}, {}
    for a in algos:
        if not tasks:
            break
        counts = {d: len(finished[(d, a)]) for d in tasks}
        n = min(counts.values())
        if len(set(counts.values())) > 1:
            notes.append(f"{a}: seeds per dataset differ ({', '.join(f'{d} {k}' for d, k in counts.items())}); "
                         f"truncated to the {n} lowest seeds of each, as rliable needs equal runs per task")
        runs_per_task[a] = n
        matrices[a] = np.array([[s.final / 100.0 for s in finished[(d, a)][:n]] for d in tasks]).T
    return {"algos": list(matrices), "tasks": tasks if matrices else [], "matrices": matrices,
            "runs_per_task": runs_per_task, "notes": notes}


def rliable_estimates(matrices: dict, seed: int, reps: int) -> dict:
    """Point estimates and 95% stratified-bootstrap CIs; each bootstrap starts from `seed`.

    Every algo (and every pair) is bootstrapped on its own from the same seed, so adding an
    algo to a folder does not change the others' intervals.
    """
    from rliable import library as rly
    from rliable import metrics

    out = {"metrics": {}, "probability_of_improvement": [], "profiles": {}}
    for algo, scores in matrices.items():
        with seeded(seed):
            point, ci = rly.get_interval_estimates({algo: scores}, aggregate_metrics, reps=reps)
        out["metrics"][algo] = {name: {"point": float(point[algo][i]),
                                       "ci": [float(ci[algo][0, i]), float(ci[algo][1, i])]}
                                for i, name in enumerate(METRIC_NAMES)}
    if BASELINE in matrices:
        for other in matrices:
            if other == BASELINE:
                continue
            x, y = matrices[BASELINE], matrices[other]
            key = f"{BASELINE},{other}"
            with seeded(seed):
                _, ci = rly.get_interval_estimates({key: [x, y]}, _probability_of_improvement, reps=reps)
            out["probability_of_improvement"].append({
                "x": BASELINE, "y": other, "point": float(metrics.probability_of_improvement(x, y)),
                "ci": [float(ci[key][0, 0]), float(ci[key][1, 0])]})
    if matrices:
        top = max(1.0, max(float(m.max()) for m in matrices.values()))
        taus = np.linspace(0.0, top, 101)
        out["taus"] = taus
        for algo, scores in matrices.items():
            with seeded(seed):
                profile, ci = rly.create_performance_profile({algo: scores}, taus, reps=reps,
                                                             custom_profile_func=_score_fraction_above)
            out["profiles"][algo] = (profile[algo], ci[algo])
    return out


# ---------------------------------------------------------------------------- learning curves
def learning_curve(seeds: Sequence[SeedResult]) -> dict:
    """Mean and standard error over seeds on the union of their evaluation points.

    Each seed is linearly interpolated onto the union; a point averages the seeds whose
    curve reaches it (a running seed stops where its run is), so n can fall along x. A
    finished seed's final score holds to the end of the finished seeds' curves: seeds stop
    a few hundred transitions apart (whole episodes), and the curve must end at the mean of
    the final scores the tables show, not at the seeds that happened to overshoot most.
    """
    seeds = [s for s in seeds if s.xs]
    if not seeds:
        return {"x": [], "mean": [], "se": [], "n": []}
    grid = np.unique(np.concatenate([s.xs for s in seeds]))
    finished_end = max((s.xs[-1] for s in seeds if s.finished), default=-np.inf)
    values = np.full((len(seeds), len(grid)), np.nan)
    for i, s in enumerate(seeds):
        end = max(s.xs[-1], finished_end) if s.finished else s.xs[-1]
        inside = (grid >= s.xs[0]) & (grid <= end)
        values[i, inside] = np.interp(grid[inside], s.xs, s.ys)  # constant past the last point
    n = (~np.isnan(values)).sum(axis=0)
    mean = np.nanmean(values, axis=0)
    std = np.array([np.nanstd(values[:, j], ddof=1) if n[j] > 1 else 0.0 for j in range(len(grid))])
    return {"x": grid.tolist(), "mean": mean.tolist(), "se": (std / np.sqrt(n)).tolist(), "n": n.tolist()}


def _colors(algos: Sequence[str]) -> dict:
    import matplotlib

    cmap = matplotlib.colormaps["tab10"]
    return {a: cmap(i % 10) for i, a in enumerate(algos)}


def plot_curves(dataset: str, curves: dict, colors: dict, path: str) -> None:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for algo, c in curves.items():
        x, mean, se = (np.asarray(c[k]) for k in ("x", "mean", "se"))
        ax.plot(x, mean, color=colors[algo], marker="o", markersize=3, label=f"{algo} (n={max(c['n'])})")
        ax.fill_between(x, mean - Z95 * se, mean + Z95 * se, color=colors[algo], alpha=0.2)
    ax.set_xlabel("online transitions")
    ax.set_ylabel("D4RL normalised score")
    ax.set_title(f"{dataset}: mean ± 1.96 SE over seeds")
    ax.grid(alpha=0.3)
    ax.legend(loc="best")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot_rliable(estimates: dict, colors: dict, out_dir: str) -> list[str]:
    """The performance profile and the interval-estimate plot; returns the files written."""
    import matplotlib.pyplot as plt
    from rliable import plot_utils

    if not estimates["profiles"]:
        return []
    algos = list(estimates["profiles"])
    fig, ax = plt.subplots(figsize=(7, 4.5))
    profiles = estimates["profiles"]
    plot_utils.plot_performance_profiles({a: p for a, (p, _) in profiles.items()}, estimates["taus"],
                                         performance_profile_cis={a: ci for a, (_, ci) in profiles.items()},
                                         colors=colors, ax=ax, xlabel=r"normalised score / 100 ($\tau$)",
                                         ylabel=r"fraction of runs with score $> \tau$", legend=True)
    fig.tight_layout()
    fig.savefig(os.path.join(out_dir, PROFILE_PNG), dpi=100)
    plt.close(fig)
    m = estimates["metrics"]
    points = {a: np.array([m[a][k]["point"] for k in METRIC_NAMES]) for a in algos}
    cis = {a: np.array([[m[a][k]["ci"][0] for k in METRIC_NAMES], [m[a][k]["ci"][1] for k in METRIC_NAMES]])
           for a in algos}
    row_height = max(0.6, 2.4 / len(algos))  # rliable's 0.37 in per algo crowds its axis label into the ticks
    height = row_height * len(algos)
    fig, _ = plot_utils.plot_interval_estimates(points, cis, METRIC_NAMES, algorithms=algos, colors=colors,
                                                xlabel="normalised score / 100", row_height=row_height,
                                                xlabel_y_coordinate=0.11 - 0.75 / height, wspace=0.25)
    fig.savefig(os.path.join(out_dir, AGGREGATES_PNG), dpi=100, bbox_inches="tight")
    plt.close(fig)
    return [PROFILE_PNG, AGGREGATES_PNG]


# ---------------------------------------------------------------------------- markdown
def format_cell(cell: Cell) -> str:
    """`final(+increase) n=S`, ' running' while a run of it is unfinished, then ' · paper <its cell>'."""
    if not cell.seeds:
        text = "no evaluation yet"
    else:
        text = f"{cell.mean('final'):.2f}({cell.mean('increase'):+.2f}) n={len(cell.seeds)}"
    if cell.running:
        text += " **running**"
    if cell.paper is not None:
        text += f" · paper {cell.paper}"
    return text


def results_tables(cells: Sequence[Cell]) -> tuple[str, dict]:
    """One markdown table per family (rows datasets, columns algos) and the per-family averages."""
    lines, averages = [], {}
    for family in FAMILY_TITLES:
        family_cells = [c for c in cells if c.family == family]
        if not family_cells:
            continue
        algos = algo_order(c.algo for c in family_cells)
        datasets = list(dict.fromkeys(c.dataset for c in family_cells))
        by_key = {(c.dataset, c.algo): c for c in family_cells}
        table = TABLES.get(family)
        title = FAMILY_TITLES[family]
        if table is not None:
            title += f" (paper {table.title.split(':')[0]}, {table.online_transitions:,} online transitions)"
        lines += [f"### {title}", "", "| Dataset | " + " | ".join(algos) + " |", "|---" * (len(algos) + 1) + "|"]
        for d in datasets:
            row = PAPER_ROW.get(d)
            label = f"{d} ({row[1]})" if row else d
            lines.append(f"| {label} | " + " | ".join(format_cell(by_key[(d, a)]) if (d, a) in by_key else ""
                                                     for a in algos) + " |")
        average_cells = []
        for a in algos:
            done = [by_key[(d, a)] for d in datasets if (d, a) in by_key and by_key[(d, a)].seeds]
            if not done:
                average_cells.append("")
                continue
            final = float(np.mean([c.mean("final") for c in done]))
            increase = float(np.mean([c.mean("increase") for c in done]))
            labels = {PAPER_ROW.get(c.dataset, (None, None))[1] for c in done}
            covers_paper = table is not None and labels == set(table.rows)
            paper = paper_average(family, a) if covers_paper else None
            averages.setdefault(family, {})[a] = {"final": final, "increase": increase, "datasets": len(done),
                                                  "paper": None if paper is None else paper._asdict()}
            text = f"{final:.2f}({increase:+.2f}) over {len(done)}"
            average_cells.append(text + (f" · paper {paper}" if paper is not None else ""))
        if len(datasets) > 1:
            lines.append("| Average | " + " | ".join(average_cells) + " |")
        lines.append("")
    return "\n".join(lines), averages


def _fmt_ci(entry: dict) -> str:
    return f"{entry['point']:.3f} [{entry['ci'][0]:.3f}, {entry['ci'][1]:.3f}]"


def time_breakdown(runs: Sequence[Run]) -> str:
    """Mean seconds per iteration of each time/* key, per run; '' when no record carries one."""
    timed = [r for r in runs if r.time]
    if not timed:
        return ""
    keys = sorted({k for r in timed for k in r.time})
    lines = ["| run | " + " | ".join(keys) + " |", "|---" * (len(keys) + 1) + "|"]
    lines += [f"| {r.path} | " + " | ".join(f"{r.time[k]:.3f}" if k in r.time else "" for k in keys) + " |"
              for r in timed]
    return "\n".join(lines)


def render_markdown(root: str, runs, cells, tables: str, matrices: dict, estimates: dict, curve_files: dict,
                    notes: list, seed: int, reps: int) -> str:
    running = [r for r in runs if not r.finished]
    out = [f"# Report on {shown_path(root)}", "",
           f"{len(runs)} runs ({len(running)} running), {sum(len(c.seeds) for c in cells)} seeds in "
           f"{len(cells)} (dataset, algo) cells. Generated by `python -m vitamin_jax.report` "
           f"(bootstrap seed {seed}, {reps} reps).", "",
           "## Results", "",
           "A cell reads `final(+increase)`: the mean over seeds of the D4RL-normalised score at the last "
           "online evaluation and its change from the last pretraining evaluation "
           "(docs/reference.md#reading-the-result-tables); n = seeds. **running**: a run of the cell has not "
           "reached its config's online.max_online_transitions, and its latest evaluation is shown. "
           "`paper` is the paper's cell (Yan, Schwing, Wang, NeurIPS 2024, arXiv 2410.24108; "
           "docs/reference.md), for " + ", ".join(f"`{a}` = {c}" for a, c in PAPER_COLUMN.items()) + ". "
           "Average: the mean over the datasets listed, with the paper's average only when they are all of its rows.",
           "", tables]
    out += ["## Aggregate metrics (rliable)", ""]
    if not matrices["matrices"]:
        out += ["No dataset has a finished run of every algo; no aggregates.", ""]
    else:
        out += [f"Final normalised scores / 100 of finished runs on {len(matrices['tasks'])} datasets "
                f"({', '.join(matrices['tasks'])}); runs per dataset: "
                + ", ".join(f"{a} {n}" for a, n in matrices["runs_per_task"].items())
                + f". Point estimate [95% stratified bootstrap CI over runs, {reps} reps, seed {seed}] "
                "(rliable.library.get_interval_estimates). Lower is better for the optimality gap.", "",
                "| algo | " + " | ".join(METRIC_NAMES) + " |", "|---" * (len(METRIC_NAMES) + 1) + "|"]
        out += [f"| {a} | " + " | ".join(_fmt_ci(m[k]) for k in METRIC_NAMES) + " |"
                for a, m in estimates["metrics"].items()]
        out.append("")
        if estimates["probability_of_improvement"]:
            out += ["Probability of improvement (rliable.metrics.probability_of_improvement), with its 95% CI:", "",
                    "| X | Y | P(X > Y) |", "|---|---|---|"]
            out += [f"| {p['x']} | {p['y']} | {_fmt_ci(p)} |" for p in estimates["probability_of_improvement"]]
            out.append("")
        out += [f"![aggregate metrics]({AGGREGATES_PNG})", "",
                f"![performance profile]({PROFILE_PNG})", "",
                "Performance profile: the fraction of runs (all datasets) whose score / 100 exceeds tau, "
                "with 95% stratified bootstrap bands (rliable.library.create_performance_profile).", ""]
    out += ["## Learning curves", "",
            "Normalised score against online transitions (the last pretraining evaluation at 0), one line per "
            "algo: the mean over seeds, and a band of mean ± 1.96 standard errors over seeds. Seeds are "
            "interpolated onto the union of their evaluation points; a point averages the seeds that reached it, a "
            "finished seed's final score counting to the end of its cell's finished seeds.", ""]
    out += [f"![{d}]({f})" for d, f in curve_files.items()] + [""]
    out += ["## Runs", "", "| run | dataset | algo | seeds | evaluations | online transitions | status |",
            "|---|---|---|---|---|---|---|"]
    for r in runs:
        seeds = ",".join(str(s.seed) for s in r.seeds) or "-"
        out.append(f"| {r.path} | {r.dataset} | {r.algo} | {seeds} | {r.evaluations} | "
                   f"{r.online_transitions:,} / {r.budget:,} | {'finished' if r.finished else 'running'} |")
    out.append("")
    breakdown = time_breakdown(runs)
    if breakdown:
        out += ["## Time breakdown", "", "Mean seconds per iteration of each `time/` key over a run's records.", "",
                breakdown, ""]
    if notes:
        out += ["## Notes", ""] + [f"- {n}" for n in notes] + [""]
    return "\n".join(out)


# ---------------------------------------------------------------------------- the report
def _jsonable(estimates: dict) -> dict:
    return {"metrics": estimates["metrics"], "probability_of_improvement": estimates["probability_of_improvement"],
            "performance_profile": {"taus": np.asarray(estimates.get("taus", [])).tolist(),
                                    **{a: {"profile": p.tolist(), "ci": ci.tolist()}
                                       for a, (p, ci) in estimates["profiles"].items()}}}


def build_report(root: str, seed: int = 0, reps: int = 2000) -> dict:
    """Read every run under `root`, write report.md, report.json and the PNGs there; returns report.json's content."""
    import matplotlib

    matplotlib.use("Agg")
    runs, notes = find_runs(root)
    cells, cell_notes = build_cells(runs)
    matrices = score_matrices(cells)
    notes = notes + cell_notes + matrices["notes"]
    estimates = rliable_estimates(matrices["matrices"], seed, reps)
    all_algos = algo_order(c.algo for c in cells)
    colors = _colors(all_algos)
    figures = plot_rliable(estimates, colors, root)
    curves, curve_files = {}, {}
    for dataset in dict.fromkeys(c.dataset for c in cells):
        curves[dataset] = {c.algo: learning_curve(c.seeds) for c in cells if c.dataset == dataset and c.seeds}
        if curves[dataset]:
            curve_files[dataset] = f"report_curves_{re.sub(r'[^A-Za-z0-9_.-]', '_', dataset)}.png"
            plot_curves(dataset, curves[dataset], colors, os.path.join(root, curve_files[dataset]))
    figures += list(curve_files.values())
    tables, averages = results_tables(cells)
    markdown = render_markdown(root, runs, cells, tables, matrices, estimates, curve_files, notes, seed, reps)
    report = {
        "dir": shown_path(root), "seed": seed, "reps": reps,
        "runs": [{"path": r.path, "dataset": r.dataset, "algo": r.algo, "seeds": [s.seed for s in r.seeds],
                  "finished": r.finished, "evaluations": r.evaluations, "online_transitions": r.online_transitions,
                  "max_online_transitions": r.budget, "time": r.time} for r in runs],
        "cells": [{"dataset": c.dataset, "algo": c.algo, "family": c.family, "running": c.running,
                   "n_seeds": len(c.seeds), "final_mean": c.mean("final"), "increase_mean": c.mean("increase"),
                   "pretrain_mean": c.mean("pretrain"), "text": format_cell(c),
                   "paper_row": PAPER_ROW.get(c.dataset, (None, None))[1], "paper_column": PAPER_COLUMN.get(c.algo),
                   "paper": None if c.paper is None else c.paper._asdict(),
                   "seeds": [{"seed": s.seed, "pretrain": s.pretrain, "final": s.final, "increase": s.increase,
                              "finished": s.finished, "run": s.run} for s in c.seeds]} for c in cells],
        "averages": averages,
        "aggregates": {"tasks": matrices["tasks"], "runs_per_task": matrices["runs_per_task"],
                       "scores": {a: m.tolist() for a, m in matrices["matrices"].items()}, **_jsonable(estimates)},
        "curves": curves, "figures": figures, "notes": notes, "tables_markdown": tables,
        "time_breakdown_markdown": time_breakdown(runs),
    }
    with open(os.path.join(root, REPORT_MD), "w") as f:
        f.write(markdown)
    with open(os.path.join(root, REPORT_JSON), "w") as f:
        json.dump(_finite(report), f, indent=1, allow_nan=False)
    return report


def _finite(value):
    """NaN -> None, so report.json stays standard JSON (a run may log a NaN score)."""
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m vitamin_jax.report", description=__doc__.splitlines()[0])
    parser.add_argument("dir", help="a sweep, any folder of runs, or one run dir")
    parser.add_argument("--seed", type=int, default=0, help="seed of every bootstrap (default 0)")
    parser.add_argument("--reps", type=int, default=2000, help="bootstrap resamples (default 2000)")
    return parser.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    if args.reps < 1:
        print("report: error: --reps must be positive", file=sys.stderr)
        return 2
    try:
        report = build_report(args.dir, seed=args.seed, reps=args.reps)
    except ReportError as e:
        print(f"report: error: {e}", file=sys.stderr)
        return 1
    print(report["tables_markdown"])
    if report["time_breakdown_markdown"]:
        print("Time breakdown (mean seconds per iteration):\n" + report["time_breakdown_markdown"] + "\n")
    print(f"wrote {os.path.join(args.dir, REPORT_MD)}, {REPORT_JSON} and {len(report['figures'])} PNGs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
