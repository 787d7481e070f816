"""Runs grouped into (dataset, algo) cells, in the paper's row and column order."""

from __future__ import annotations

import dataclasses
from typing import Optional, Sequence

import numpy as np

from vitamin_jax.paper_results import PAPER_ROW, TABLES, PaperCell, paper_cell
from vitamin_jax.report.discovery import RunResult

FAMILY_TITLES = {"mujoco": "MuJoCo", "adroit": "Adroit", "antmaze": "AntMaze", "maze2d": "Maze2D", "toy": "Toy",
                 "other": "Other datasets"}
ALGO_ORDER = ("td3_odt", "odt", "td3", "ddpg_odt")  # the paper's method first, then its other columns
# Config fields that may differ between runs of one cell without making them different experiments.
_BOOKKEEPING = ("seed", "num_seeds", "log.", "parallel.", "checkpoint.", "dataset.path", "dataset.download",
                "dataset.generate_if_missing")


@dataclasses.dataclass
class ScoreCell:
    """All seeds of one (dataset, algo), from however many runs."""

    dataset: str
    algo: str
    family: str
    seeds: list  # SeedResult, sorted by seed, one per seed
    runs: list  # RunResult
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
    row, table = PAPER_ROW.get(dataset), TABLES.get(family)
    rows = list(table.rows) if table is not None else []
    return (rows.index(row[1]) if row and row[1] in rows else len(rows), dataset)


def build_cells(runs: Sequence[RunResult]) -> tuple[list[ScoreCell], list[str]]:
    """Group runs by (dataset, algo); a seed found in two runs is kept once, and mixed configs are noted."""
    cells, notes = {}, []
    for run in sorted(runs, key=lambda r: r.path):
        cell = cells.setdefault((run.dataset, run.algo), ScoreCell(run.dataset, run.algo, run.family, [], [],
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
