"""rliable's aggregate metrics, probability of improvement and performance profiles, with bootstrap CIs."""

from __future__ import annotations

import contextlib
from typing import Iterator, Sequence

import numpy as np

from vitamin_jax.report.cells import ScoreCell, algo_order

METRIC_NAMES = ("IQM", "Mean", "Median", "Optimality Gap")
BASELINE = "td3_odt"  # probability of improvement: this algo over each other one


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


def score_matrices(cells: Sequence[ScoreCell]) -> dict:
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
