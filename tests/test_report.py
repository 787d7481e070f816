"""The report on synthetic run dirs with known scores: table cells, paper cells, rliable numbers,
running marks, figures and the command line (vitamin_jax/report/, vitamin_jax/paper_results.py)."""

import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest

from vitamin_jax.configuration import PROJECT_ROOT
from vitamin_jax.envs.registry import dataset_names
from vitamin_jax.paper_results import PAPER_COLUMN, PAPER_ROW, TABLES, paper_cell
from vitamin_jax.report.aggregates import METRIC_NAMES, rliable_estimates
from vitamin_jax.report.build import build_report
from vitamin_jax.report.cli import main, parse_args

REPS, SEED = 50, 7
BUDGET = 1000
HC, HMR, PEN = "halfcheetah-random", "hopper-medium-replay", "pen-human"
# (dataset, algo) -> per seed (pretrain score, final score); seeds 0, 1, 2, ...
SCORES = {
    (HC, "td3_odt"): [(2, 60), (3, 62), (4, 58)],
    (HMR, "td3_odt"): [(30, 95), (28, 90), (29, 100)],
    (PEN, "td3_odt"): [(90, 110), (95, 105), (100, 120)],
    (HC, "odt"): [(2, 3), (2.5, 1)],
    (HMR, "odt"): [(20, 80), (22, 85)],
    (PEN, "odt"): [(40, 30), (42, 25), (44, 50)],  # a third seed here: rliable truncates odt to 2
    (HC, "td3"): [(2, 70), (2, 66)],
    (HMR, "td3"): [(38, 92), (36, 96)],
    (PEN, "td3"): [(96, 40), (94, 36)],
}
PRESET = {HC: "mujoco", HMR: "mujoco", PEN: "adroit"}
TIMES = {"time/rollout": [0.5, 1.5], "time/update": [2.0, 4.0]}  # means 1.0 and 3.0


def write_run(run_dir, dataset, algo, seed, scores, transitions=(400, 800, BUDGET), times=None):
    """A run dir as vitamin_jax/train.py leaves it: two pretraining and len(transitions) online evaluations.

    scores: per seed (pretrain, final); several seeds make a vmapped run with *_per_seed lists,
    whose seed s collects s * 5 more transitions per evaluation than seed 0.
    """
    os.makedirs(run_dir)
    num_seeds = len(scores)
    config = {"env_name": dataset, "algo": algo, "seed": seed, "num_seeds": num_seeds,
              "online": {"max_online_transitions": BUDGET, "eval_interval": 10}, "log": {"tensorboard": False}}
    with open(os.path.join(run_dir, "config.json"), "w") as f:
        json.dump(config, f)
    pre = np.array([p for p, _ in scores], float)
    final = np.array([f for _, f in scores], float)
    rows = [("pretrain", 0, pre - 5.0), ("pretrain", 0, pre)]  # the last pretraining evaluation counts
    for i, t in enumerate(transitions):
        fraction = (i + 1) / len(transitions)
        rows.append(("online", t, pre + fraction * (final - pre)))
    records = []
    for g, (phase, t, score) in enumerate(rows):
        per_seed_t = [t + 5 * s * (phase == "online") for s in range(num_seeds)]
        record = {"phase": phase, "iteration": g, "global_iteration": g + 1, "online_transitions": min(per_seed_t),
                  "updates": 10 * g, "return_mean": 0.0, "normalized_score": float(score.mean()),
                  "normalized_score_std": 1.0, "length_mean": 100.0, "wall_time": float(g)}
        if num_seeds > 1:
            record["normalized_score_per_seed"] = score.tolist()
            record["online_transitions_per_seed"] = per_seed_t
        records.append(record)
    if times:
        for i, r in enumerate([r for r in records if r["phase"] == "online"][:2]):
            r.update({k: v[i] for k, v in times.items()})
    with open(os.path.join(run_dir, "metrics.jsonl"), "w") as f:
        f.write("".join(json.dumps(r) + "\n" for r in records))


def write_sweep(root):
    """SCORES as a sweep: DIR/<preset>/<algo>/seeds_<a>-<b>/, td3_odt on HC as one vmapped 2-seed run plus
    a 1-seed run, time/* keys in one run, and a ddpg_odt run still at 400 of 1000 transitions."""
    for (dataset, algo), scores in SCORES.items():
        base = os.path.join(root, PRESET[dataset], algo)
        if (dataset, algo) == (HC, "td3_odt"):
            write_run(os.path.join(base, "seeds_0-1"), dataset, algo, 0, scores[:2])
            write_run(os.path.join(base, "seeds_2-2"), dataset, algo, 2, scores[2:])
            continue
        for seed, s in enumerate(scores):
            times = TIMES if (dataset, algo, seed) == (HMR, "td3", 0) else None
            write_run(os.path.join(base, f"seeds_{seed}-{seed}", dataset), dataset, algo, seed, [s], times=times)
    write_run(os.path.join(root, "mujoco", "ddpg_odt", "seeds_0-0"), HC, "ddpg_odt", 0, [(2.2, 10.0)],
              transitions=(400,))


@pytest.fixture(scope="module")
def sweep(tmp_path_factory):
    root = str(tmp_path_factory.mktemp("sweep"))
    write_sweep(root)
    return root, build_report(root, seed=SEED, reps=REPS)


def cell(report, dataset, algo):
    (c,) = [c for c in report["cells"] if c["dataset"] == dataset and c["algo"] == algo]
    return c


def matrix(algo, runs):
    """The score matrix rliable should get: runs x tasks (tasks sorted by name), final / 100, lowest seeds."""
    return np.array([[final / 100 for _, final in SCORES[(d, algo)][:runs]] for d in sorted([HC, HMR, PEN])]).T


# ---------------------------------------------------------------------------- the paper's data
def _docs_tables():
    text = open(os.path.join(PROJECT_ROOT, "docs", "reference.md")).read()
    out = {}
    for family, heading in (("mujoco", "## Table 1: MuJoCo"), ("adroit", "## Table 2: Adroit"),
                            ("antmaze", "## Table 3: AntMaze"), ("maze2d", "## Table 11: Maze2D")):
        section = text.split(heading, 1)[1]
        block = next(b for b in section.split("\n\n") if b.startswith("| Dataset"))
        lines = [[c.strip() for c in line.strip().strip("|").split("|")] for line in block.splitlines()]
        out[family] = {row[0]: dict(zip(lines[0][1:], row[1:])) for row in lines[2:]}
    return out


def test_paper_tables_match_docs_reference():
    docs = _docs_tables()
    for family, table in TABLES.items():
        shipped = {label: {col: str(c) for col, c in cells.items()} for label, cells in
                   {**table.rows, **table.averages}.items()}
        assert shipped == docs[family]
    assert str(paper_cell(HC, "td3_odt")) == "59.35(+57.1)"
    assert paper_cell(HC, "td3_odt").final == 59.35 and paper_cell(HC, "td3_odt").increase == 57.1
    assert paper_cell("antmaze-medium-diverse", "ddpg_odt").text == "29.14(-16.86)"
    assert paper_cell("maze2d-large", "odt").final == 20.37
    assert paper_cell("hopper-expert", "td3_odt") is None and paper_cell(HC, "iql_odt") is None


def test_every_paper_row_is_one_registry_dataset():
    assert set(PAPER_ROW) <= set(dataset_names())
    for family, table in TABLES.items():
        labels = sorted(label for f, label in PAPER_ROW.values() if f == family)
        assert labels == sorted(table.rows)
    assert PAPER_ROW[HMR] == ("mujoco", "Ho-MR-v2") and PAPER_ROW[PEN] == ("adroit", "P-H-v1")
    assert PAPER_ROW["antmaze-umaze-diverse"] == ("antmaze", "UD-v2") and PAPER_ROW["maze2d-umaze"][1] == "Umaze-v2"
    assert set(PAPER_COLUMN.values()) <= set(TABLES["mujoco"].rows["Ho-M-v2"])


# ---------------------------------------------------------------------------- the table
def test_cells_are_hand_computed_means_beside_the_paper(sweep):
    root, report = sweep
    c = cell(report, HC, "td3_odt")  # seeds 0, 1 from the vmapped run, seed 2 from its own
    assert [s["seed"] for s in c["seeds"]] == [0, 1, 2]
    assert c["final_mean"] == pytest.approx(60.0) and c["increase_mean"] == pytest.approx(57.0)
    assert c["text"] == "60.00(+57.00) n=3 · paper 59.35(+57.1)"
    assert cell(report, PEN, "odt")["text"] == "35.00(-7.00) n=3 · paper 27.55(-13.91)"
    assert cell(report, HMR, "td3")["text"] == "94.00(+57.00) n=2 · paper 93.72(+55.66)"
    md = open(os.path.join(root, "report.md")).read()
    assert ("| halfcheetah-random (Ha-R-v2) | 60.00(+57.00) n=3 · paper 59.35(+57.1) | 2.00(-0.25) n=2 · paper "
            "2.15(-0.09) | 68.00(+66.00) n=2 · paper 68.55(+66.3) | 10.00(+7.80) n=1 **running** · paper "
            "34.56(+32.31) |") in md
    assert "### Adroit (paper Table 2, 1,000,000 online transitions)" in md
    # MuJoCo averages over its two datasets; the paper's average needs all 12 rows, so it is absent
    avg = report["averages"]["mujoco"]["td3_odt"]
    assert avg["final"] == pytest.approx((60.0 + 95.0) / 2) and avg["paper"] is None


def test_a_running_cell_is_marked_and_left_out_of_the_aggregates(sweep):
    root, report = sweep
    c = cell(report, HC, "ddpg_odt")
    assert c["running"] and c["text"] == "10.00(+7.80) n=1 **running** · paper 34.56(+32.31)"
    assert not cell(report, HC, "td3_odt")["running"]
    (run,) = [r for r in report["runs"] if r["algo"] == "ddpg_odt"]
    assert not run["finished"] and run["online_transitions"] == 400
    assert "ddpg_odt" not in report["aggregates"]["metrics"]
    assert any("ddpg_odt has no finished run" in n for n in report["notes"])
    assert not any("mixes runs" in n for n in report["notes"])  # num_seeds 2 vs 1 is bookkeeping


# ---------------------------------------------------------------------------- rliable
def test_aggregates_equal_a_direct_rliable_call(sweep):
    from rliable import library as rly
    from rliable import metrics

    _, report = sweep
    agg = report["aggregates"]
    assert agg["tasks"] == [HC, HMR, PEN] and agg["runs_per_task"] == {"td3_odt": 3, "odt": 2, "td3": 2}
    assert any("odt: seeds per dataset differ" in n and "truncated to the 2 lowest" in n for n in report["notes"])
    funcs = (metrics.aggregate_iqm, metrics.aggregate_mean, metrics.aggregate_median, metrics.aggregate_optimality_gap)
    for algo, runs in agg["runs_per_task"].items():
        scores = matrix(algo, runs)
        np.testing.assert_allclose(agg["scores"][algo], scores)
        np.random.seed(SEED)
        point, ci = rly.get_interval_estimates({algo: scores}, lambda x: np.array([f(x) for f in funcs]), reps=REPS)
        for i, name in enumerate(METRIC_NAMES):
            assert agg["metrics"][algo][name]["point"] == pytest.approx(point[algo][i])
            assert agg["metrics"][algo][name]["ci"] == pytest.approx(ci[algo][:, i].tolist())
        assert agg["metrics"][algo]["Mean"]["ci"][0] < agg["metrics"][algo]["Mean"]["ci"][1]
    assert agg["metrics"]["td3_odt"]["Mean"]["point"] == pytest.approx(800 / 900)
    gap = 1 - (0.70 + 0.66 + 0.92 + 0.96 + 0.4 + 0.36) / 6  # every td3 score is below 100
    assert agg["metrics"]["td3"]["Optimality Gap"]["point"] == pytest.approx(gap)


def test_probability_of_improvement_equals_rliable(sweep):
    from rliable import library as rly
    from rliable import metrics

    _, report = sweep
    poi = report["aggregates"]["probability_of_improvement"]
    assert [(p["x"], p["y"]) for p in poi] == [("td3_odt", "odt"), ("td3_odt", "td3")]
    for p in poi:
        x, y = matrix("td3_odt", 3), matrix(p["y"], 2)
        assert p["point"] == pytest.approx(metrics.probability_of_improvement(x, y))
        np.random.seed(SEED)
        _, ci = rly.get_interval_estimates({"pair": [x, y]},
                                           lambda a, b: np.array([metrics.probability_of_improvement(a, b)]), reps=REPS)
        assert p["ci"] == pytest.approx(ci["pair"][:, 0].tolist())
    # td3_odt beats odt on every run pair of every task; against td3 it loses every HC pair, wins 3 of 6 on HMR
    # (95 > 92, 100 > 92, 100 > 96) and every PEN pair
    assert poi[0]["point"] == pytest.approx(1.0)
    assert poi[1]["point"] == pytest.approx((0.0 + 0.5 + 1.0) / 3)


def test_performance_profile_equals_rliable(sweep):
    from rliable import library as rly

    _, report = sweep
    profile = report["aggregates"]["performance_profile"]
    taus = np.asarray(profile["taus"])
    assert taus[0] == 0.0 and taus[-1] == pytest.approx(1.2)  # the top score / 100
    scores = matrix("odt", 2)
    np.random.seed(SEED)
    direct, cis = rly.create_performance_profile({"odt": scores}, taus, reps=REPS)
    np.testing.assert_allclose(profile["odt"]["profile"], direct["odt"])
    np.testing.assert_allclose(profile["odt"]["ci"], cis["odt"])


def test_rliable_estimates_on_tied_random_scores_equal_rliable():
    """Continuous scores (rounded, so run pairs tie) make every interval depend on the bootstrap seed."""
    from rliable import library as rly
    from rliable import metrics

    rng = np.random.default_rng(0)
    matrices = {"td3_odt": rng.uniform(0, 1.3, (5, 4)).round(1), "odt": rng.uniform(0, 1, (4, 4)).round(1)}
    got = rliable_estimates(matrices, seed=SEED, reps=REPS)
    (poi,) = got["probability_of_improvement"]
    x, y = matrices["td3_odt"], matrices["odt"]
    np.random.seed(SEED)
    _, ci = rly.get_interval_estimates({"pair": [x, y]},
                                       lambda a, b: np.array([metrics.probability_of_improvement(a, b)]), reps=REPS)
    assert poi["point"] == pytest.approx(metrics.probability_of_improvement(x, y))
    assert poi["ci"] == pytest.approx(ci["pair"][:, 0].tolist())
    np.random.seed(SEED + 1)
    _, other = rly.get_interval_estimates({"pair": [x, y]},
                                          lambda a, b: np.array([metrics.probability_of_improvement(a, b)]), reps=REPS)
    assert poi["ci"] != pytest.approx(other["pair"][:, 0].tolist())  # so the comparison above can fail
    for algo, scores in matrices.items():
        np.random.seed(SEED)
        profile, cis = rly.create_performance_profile({algo: scores}, got["taus"], reps=REPS)
        np.testing.assert_allclose(got["profiles"][algo][0], profile[algo])
        np.testing.assert_allclose(got["profiles"][algo][1], cis[algo])
    state = np.random.get_state()[1].copy()
    rliable_estimates(matrices, seed=SEED, reps=5)
    assert (np.random.get_state()[1] == state).all()  # the caller's global RNG is left as it was


# ---------------------------------------------------------------------------- curves, figures, timing
def test_learning_curves_average_seeds_on_their_transitions(sweep):
    _, report = sweep
    curve = report["curves"][HC]["td3_odt"]
    assert curve["x"][:3] == [0.0, 400.0, 405.0] and curve["x"][-1] == 1005.0  # seed 1 of the vmapped run: +5
    assert curve["mean"][0] == pytest.approx(3.0) and curve["n"][0] == 3
    assert curve["se"][0] == pytest.approx(1.0 / np.sqrt(3))  # std of (2, 3, 4) / sqrt(3)
    # every seed finished: seeds 0 and 2 (final at 1000) hold their final score to seed 1's last point,
    # so the curve ends at the mean final score of the tables, not at seed 1's alone
    assert curve["n"][-1] == 3 and curve["mean"][-1] == pytest.approx(60.0)
    assert curve["se"][-1] == pytest.approx(2.0 / np.sqrt(3))  # std of (60, 62, 58) / sqrt(3)
    running = report["curves"][HC]["ddpg_odt"]  # a running run's curve stops where it is
    assert running["x"][-1] == 400.0 and running["n"] == [1, 1]


def test_figures_exist_and_are_not_blank(sweep):
    import matplotlib.image

    root, report = sweep
    expected = {"report_profile.png", "report_aggregates.png", f"report_curves_{HC}.png", f"report_curves_{HMR}.png",
                f"report_curves_{PEN}.png"}
    assert set(report["figures"]) == expected
    for name in expected:
        path = os.path.join(root, name)
        assert os.path.getsize(path) > 5000
        image = matplotlib.image.imread(path)
        assert min(image.shape[:2]) > 100 and image[..., :3].std() > 0.05
    md = open(os.path.join(root, "report.md")).read()
    assert f"![{HC}](report_curves_{HC}.png)" in md and "mean ± 1.96 standard errors over seeds" in md


def test_time_breakdown_lists_only_runs_with_time_keys(sweep):
    root, report = sweep
    timed = {r["path"]: r["time"] for r in report["runs"] if r["time"]}
    assert timed == {os.path.join("mujoco", "td3", "seeds_0-0", HMR): {"time/rollout": 1.0, "time/update": 3.0}}
    md = open(os.path.join(root, "report.md")).read()
    assert f"| {os.path.join('mujoco', 'td3', 'seeds_0-0', HMR)} | 1.000 | 3.000 |" in md


def test_a_single_run_dir(tmp_path):
    run = str(tmp_path / "run")
    write_run(run, PEN, "td3_odt", 4, [(90, 110), (95, 105)])
    report = build_report(run, seed=0, reps=10)
    (c,) = report["cells"]
    assert c["text"] == "107.50(+15.00) n=2 · paper 107.1(+11.87)" and [s["seed"] for s in c["seeds"]] == [4, 5]
    assert report["aggregates"]["tasks"] == [PEN] and report["aggregates"]["probability_of_improvement"] == []
    assert report["runs"][0]["path"] == "." and report["time_breakdown_markdown"] == ""
    assert "Time breakdown" not in open(tmp_path / "run" / "report.md").read()


# ---------------------------------------------------------------------------- the command line
def test_command_line_writes_the_report_and_prints_the_table(tmp_path):
    assert (parse_args(["x"]).seed, parse_args(["x"]).reps) == (0, 2000)
    write_sweep(str(tmp_path))
    done = subprocess.run([sys.executable, "-m", "vitamin_jax.report", str(tmp_path), "--reps", "20", "--seed", "3"],
                          cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "| halfcheetah-random (Ha-R-v2) | 60.00(+57.00) n=3 · paper 59.35(+57.1) |" in done.stdout
    assert "10.00(+7.80) n=1 **running**" in done.stdout and "time/rollout" in done.stdout
    report = json.load(open(tmp_path / "report.json"))
    assert (report["seed"], report["reps"]) == (3, 20)
    # IQM of td3_odt's 9 scores / 100: the middle five of the sorted nine, (0.62 + 0.9 + 0.95 + 1.0 + 1.05) / 5
    assert re.search(r"\| td3_odt \| 0\.904 \[", open(tmp_path / "report.md").read())


def test_no_metrics_is_a_one_line_error(tmp_path, capsys):
    (tmp_path / "empty" / "sub").mkdir(parents=True)
    done = subprocess.run([sys.executable, "-m", "vitamin_jax.report", str(tmp_path / "empty")],
                          cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode != 0 and "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines() == [f"report: error: no metrics.jsonl under {tmp_path / 'empty'}"]
    assert main([str(tmp_path / "missing")]) == 1
    assert capsys.readouterr().err.strip() == f"report: error: {tmp_path / 'missing'} is not a directory"
    orphan = tmp_path / "orphan"
    orphan.mkdir()
    (orphan / "metrics.jsonl").write_text("")
    assert main([str(orphan)]) == 1
    assert capsys.readouterr().err.strip() == (f"report: error: no run under {orphan} has a readable config.json "
                                               "next to its metrics.jsonl")
