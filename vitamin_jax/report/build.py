"""Every file of a report: report.md, report.json and the PNGs, from the runs under one folder."""

from __future__ import annotations

import json
import os
import re

import numpy as np

from vitamin_jax.paper_results import PAPER_COLUMN, PAPER_ROW
from vitamin_jax.report.aggregates import rliable_estimates, score_matrices
from vitamin_jax.report.cells import algo_order, build_cells
from vitamin_jax.report.discovery import find_runs, shown_path
from vitamin_jax.report.markdown import render_markdown, time_breakdown
from vitamin_jax.report.plots import algo_colors, learning_curve, plot_curves, plot_rliable
from vitamin_jax.report.tables import format_cell, results_tables

REPORT_MD, REPORT_JSON = "report.md", "report.json"


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
    colors = algo_colors(all_algos)
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
