"""experiments/accelerator: the GPU benchmark's CPU smoke run, end to end through run.sh.

The GPU comes rarely and briefly, so the one command must work the first time: these tests
run the same script on CPU at tiny sizes, check every part's numbers and the projection
against its formula, and check that a part over its budget costs only itself.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HERE = os.path.join(ROOT, "experiments", "accelerator")
RUN = os.path.join(HERE, "run.sh")
ENV = {**os.environ, "PYTHON": sys.executable, "VITAMIN_JAX_TCMALLOC": "0", "JAX_PLATFORMS": "cpu"}
PARTS = ("environment", "update", "iteration", "seeds", "rollout", "scan")
HEADINGS = ("## Compiled update", "## Scan vs dispatch", "## Vmapped seeds", "## Rollout", "## One online iteration",
            "## Projected 500K-transition cell")


def run_smoke(out, *args, timeout=1500) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", RUN, "--cpu-smoke", str(out), *args], cwd=ROOT, env=ENV, capture_output=True,
                          text=True, timeout=timeout)


def read_json(path) -> dict:
    def no_nan(name):
        raise AssertionError(f"{path} holds {name}, not standard JSON")

    with open(path) as f:
        return json.load(f, parse_constant=no_nan)


def positive(value) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value) and value > 0


@pytest.fixture(scope="session")  # one smoke run, not one per xdist module switch
def smoke(tmp_path_factory):
    out = tmp_path_factory.mktemp("accelerator")
    result = run_smoke(out)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    md = (out / "accelerator.md").read_text()
    assert md.strip() in result.stdout  # the markdown is printed at the end
    return read_json(out / "accelerator.json"), md


@pytest.mark.slow
@pytest.mark.xdist_group("accelerator")
def test_smoke_run_finishes_every_part_with_positive_timings(smoke):
    doc, _ = smoke
    parts = doc["parts"]
    assert set(parts) == set(PARTS)
    for name, part in parts.items():
        assert part["status"] == "ok", (name, part.get("reason"))
        assert 0 < part["seconds"] < part["budget_s"]
    env = parts["environment"]
    assert env["backend"] == "cpu" and env["peak"] is None

    assert len(parts["update"]["rows"]) == 3
    for row in parts["update"]["rows"]:
        assert all(positive(row[k]) for k in ("compile_s", "ms_median", "updates_per_s", "gflop_per_update",
                                              "tflop_per_s")), row
        assert row["fraction_of_peak"] is None  # no peak for a CPU
    assert {r["compute_dtype"] for r in parts["update"]["rows"]} == {"float32", "bfloat16"}
    for row in parts["scan"]["rows"]:
        assert all(positive(row[k]) for k in ("ms_per_update_dispatch", "ms_per_update_scan", "speedup")), row
    (seeds,) = parts["seeds"]["rows"]
    assert seeds["num_seeds"] == 5
    assert all(positive(seeds[k]) for k in ("separate_updates_per_s", "vmapped_updates_per_s", "ratio"))
    rows = parts["rollout"]["rows"]
    assert sorted((r["algo"], r["num_envs"]) for r in rows) == sorted(
        (a, n) for a in ("td3_odt", "odt") for n in (1, 10, 50))
    for row in rows:
        assert all(positive(row[k]) for k in ("env_steps_per_s", "act_ms_per_step", "env_ms_per_step")), row
        assert row["compiles_second"] == 0 and row["compiles_eval2"] == 0  # the rollout step compiles once

    iterations = parts["iteration"]["iterations"]
    assert [r["phase"] for r in iterations] == ["pretrain", "online", "online"]
    first, steady = iterations[1:]
    assert all(positive(r["transitions"]) for r in (first, steady))
    assert all(positive(steady["sections"][s]) for s in ("rollout_env", "rollout_act", "updates", "evaluation",
                                                         "checkpoint"))
    assert "evaluation" not in first["sections"]  # only the second online iteration evaluates
    assert positive(doc["projection"]["one_seed"]["total_s"])
    assert positive(doc["projection"]["vmapped_seeds"]["total_s"])


@pytest.mark.slow
@pytest.mark.xdist_group("accelerator")
def test_smoke_projection_is_its_formula_applied_to_the_json(smoke):
    doc, _ = smoke
    parts, proj = doc["parts"], doc["projection"]
    it = parts["iteration"]
    cell = it["cell"]
    assert cell == {"online_transitions": 500_000, "pretrain_updates": 5000, "online_updates": 300,
                    "eval_interval": 10, "checkpoint_every_iters": 10}  # the hopper-random preset's, not the smoke's
    steady = it["iterations"][-1]
    s = steady["sections"]
    per_update = s["updates"] / it["config"]["online_updates"]
    iterations = 500_000 / steady["transitions"]
    periodic = s["evaluation"] / 10 + s["checkpoint"] / 10
    rest = sum(v for k, v in s.items() if k not in ("rollout_act", "updates", "evaluation", "checkpoint"))
    assert rest == pytest.approx(s["rollout_env"] + s["replay_transfer"] + s["logging"])
    one = (iterations * (rest + s["rollout_act"] + periodic + 300 * per_update) + 5000 * per_update
           + s["evaluation"])
    assert proj["one_seed"]["total_s"] == pytest.approx(one, rel=1e-9)
    assert proj["one_seed"]["total_h"] == pytest.approx(one / 3600, rel=1e-9)

    (seeds,) = parts["seeds"]["rows"]
    act = {r["num_envs"]: r["act_ms_per_step"] for r in parts["rollout"]["rows"] if r["algo"] == "td3_odt"}
    act_scale, update_scale = act[10] / act[1], 5 / seeds["ratio"]  # 10: the fewest measured envs >= 5 seeds
    group = (iterations * (5 * (rest + periodic)
                           + act_scale * s["rollout_act"] + update_scale * 300 * per_update)
             + update_scale * 5000 * per_update + 5 * s["evaluation"])
    assert proj["vmapped_seeds"]["total_s"] == pytest.approx(group, rel=1e-9)
    assert proj["vmapped_seeds"]["separate_runs_total_s"] == pytest.approx(5 * one, rel=1e-9)


@pytest.mark.slow
@pytest.mark.xdist_group("accelerator")
def test_smoke_markdown_has_every_table(smoke):
    doc, md = smoke
    for heading in HEADINGS:
        assert heading in md
    assert "| algo | size | batch | compute | compile s | ms/update |" in md
    assert "| iteration | phase | transitions | rollout_env |" in md
    assert "| run | iterations | s per iteration | pretraining s | total h |" in md
    assert "No peak is known for `cpu`" in md
    assert "Skipped" not in md


def test_a_part_over_its_budget_is_skipped_and_the_files_still_written(tmp_path):
    result = run_smoke(tmp_path, "--parts", "environment,update", "--budget", "update=0.5", timeout=600)
    assert result.returncode == 1, result.stderr
    assert "5 of 6 parts skipped" in result.stderr.splitlines()[-1]
    doc = read_json(tmp_path / "accelerator.json")
    parts = doc["parts"]
    assert parts["environment"]["status"] == "ok"
    assert parts["update"]["status"] == "skipped"
    assert parts["update"]["reason"].startswith("over its 0.5 s budget (killed after")
    assert parts["iteration"] == {"status": "skipped", "reason": "not selected (--parts)"}
    assert doc["projection"] == {"status": "skipped", "reason": "the iteration part did not finish"}
    md = (tmp_path / "accelerator.md").read_text()
    assert "_Skipped: over its 0.5 s budget" in md
    for heading in HEADINGS:
        assert heading in md


def test_bad_arguments_fail_in_one_line(tmp_path):
    result = run_smoke(tmp_path, "--budget", "nope=3", timeout=600)
    assert result.returncode != 0
    assert result.stderr.strip().splitlines()[-1].startswith("bench.py: error: --budget takes PART=SECONDS")
    assert not (tmp_path / "accelerator.json").exists()


def test_peaks_by_device_kind():
    sys.path.insert(0, HERE)
    try:
        import peaks
    finally:
        sys.path.remove(HERE)
    assert peaks.lookup("NVIDIA H200")["bf16"] == 989.0
    assert peaks.lookup("NVIDIA H100 PCIe")["tf32"] == 378.0
    assert peaks.lookup("cpu") is None
    assert peaks.fraction(peaks.lookup("NVIDIA H200"), "float32", 49.4) == {
        "peak_kind": "tf32", "peak_tflop_per_s": 494.0, "fraction_of_peak": pytest.approx(0.1)}
    assert peaks.fraction(None, "bfloat16", 1.0)["fraction_of_peak"] is None
