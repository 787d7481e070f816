"""The sweep tool: a grid of toy cells through submitit's local executor, killed and rerun; the Slurm
array from a dry run and from a submission to a fake `sbatch`."""

import json
import os
import signal
import stat
import subprocess
import sys
import time

import pytest

from vitamin_jax.configuration import PROJECT_ROOT
from vitamin_jax.logger import read_metrics
from vitamin_jax.sweep import make_cells, parse_seeds

TOY = ["--config=configs/toy.py", "--presets=toy", "--config.model.embed_dim=32", "--config.model.n_layer=1",
       "--config.train.num_updates_per_pretrain_iter=10", "--config.train.num_updates_per_online_iter=10",
       "--config.train.updates_per_dispatch=5", "--config.online.num_online_envs=16",
       "--config.online.num_eval_episodes=8", "--config.online.max_online_transitions=32",
       "--config.checkpoint.every_iters=1", "--config.log.progress_bar=False"]


def sweep(*args, env=None, **kwargs):
    return subprocess.Popen([sys.executable, "-m", "vitamin_jax.sweep", *args], cwd=PROJECT_ROOT, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={**os.environ, **(env or {})},
                            **kwargs)


def test_seed_groups_are_consecutive():
    assert parse_seeds("0-4") == [0, 1, 2, 3, 4] and parse_seeds("0,2,3") == [0, 2, 3]
    cells = make_cells(["a"], ["td3_odt", "odt"], [0, 1, 2, 3, 4], per_job=2)
    assert [c.name for c in cells[:3]] == ["a/td3_odt/seeds_0-1", "a/td3_odt/seeds_2-3", "a/td3_odt/seeds_4-4"]
    assert [c.seeds for c in make_cells(["a"], ["odt"], [0, 2, 3], per_job=5)] == [(0,), (2, 3)]


@pytest.mark.slow
def test_local_sweep_killed_mid_way_and_rerun_finishes_every_cell_once(tmp_path):
    out = tmp_path / "sweep"
    args = [*TOY, "--algos=td3_odt,odt", "--seeds=16", f"--out={out}", "--max-parallel=2", "--no-progress"]
    first = sweep(*args)
    victim = out / "toy" / "td3_odt" / "seeds_16-16"
    deadline = time.time() + 300
    while time.time() < deadline and len(read_metrics(str(victim))) < 2:
        time.sleep(0.2)
    pid = int(open(victim / ".lock").read())
    os.kill(pid, signal.SIGKILL)  # a real kill of one job's process
    _, err = first.communicate(timeout=600)
    assert first.returncode == 1 and "toy/td3_odt/seeds_16-16" in err and "1 of 2 cells failed" in err
    manifest = json.load(open(out / "sweep.json"))
    assert manifest["cells"]["toy/td3_odt/seeds_16-16"]["state"] == "failed"
    assert manifest["cells"]["toy/odt/seeds_16-16"]["state"] == "done"
    done_summary = (out / "toy" / "odt" / "seeds_16-16" / "summary.json").stat().st_mtime_ns
    done_job = manifest["cells"]["toy/odt/seeds_16-16"]["job_id"]

    second = sweep(*args)
    _, err = second.communicate(timeout=600)
    assert second.returncode == 0, err[-2000:]
    manifest = json.load(open(out / "sweep.json"))
    assert {c["state"] for c in manifest["cells"].values()} == {"done"}
    assert manifest["cells"]["toy/odt/seeds_16-16"]["job_id"] == done_job  # a finished cell is not run again
    assert (out / "toy" / "odt" / "seeds_16-16" / "summary.json").stat().st_mtime_ns == done_summary
    for cell in ("td3_odt", "odt"):
        records = read_metrics(str(out / "toy" / cell / "seeds_16-16"))
        assert [r["global_iteration"] for r in records] == [1, 2, 3]  # nothing run twice past a checkpoint
        assert records[-1]["online_transitions"] == 32
    assert manifest["seeds"] == [16] and manifest["algos"] == ["td3_odt", "odt"]


SLURM = ["--config=configs/mujoco.py", "--presets=hopper-random,halfcheetah-random", "--algos=td3_odt,odt",
         "--seeds=0-4", "--seeds-per-job=5", "--executor=slurm", "--max-parallel=2", "--slurm.partition=gpu",
         "--slurm.gpus-per-job=1", "--slurm.cpus-per-job=8", "--slurm.time=120", "--slurm.mem=32G"]
SBATCH_LINES = ["#SBATCH --array=0-3%2", "#SBATCH --partition=gpu", "#SBATCH --gpus-per-node=1",
                "#SBATCH --cpus-per-task=8", "#SBATCH --time=120", "#SBATCH --mem=32G"]


def test_slurm_dry_run_prints_the_array_and_its_options(tmp_path):
    run = sweep(*SLURM, f"--out={tmp_path / 's'}", "--dry-run")
    out, err = run.communicate(timeout=120)
    assert run.returncode == 0, err
    assert "4 of 4 cells to run with the slurm executor" in out
    assert "hopper-random/td3_odt/seeds_0-4: to run" in out
    for line in SBATCH_LINES:
        assert line in out
    assert not (tmp_path / "s").exists()  # a dry run writes nothing


def test_slurm_submission_reaches_sbatch_as_one_array(tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    record = tmp_path / "sbatch_calls"
    for name, body in (("sbatch", f'echo "$@" >> {record}\ncat "$1" >> {record}\necho "Submitted batch job 4242"'),
                       ("srun", "exit 0")):
        path = bin_dir / name
        path.write_text(f"#!/bin/sh\n{body}\n")
        path.chmod(path.stat().st_mode | stat.S_IEXEC)
    run = sweep(*SLURM, f"--out={tmp_path / 's'}", env={"PATH": f"{bin_dir}:{os.environ['PATH']}"})
    out, err = run.communicate(timeout=120)
    assert run.returncode == 0, err
    calls = record.read_text()
    assert calls.count("Submitted") == 0 and calls.count("#SBATCH --array") == 1  # one sbatch call: an array
    for line in SBATCH_LINES:
        assert line in calls
    manifest = json.load(open(tmp_path / "s" / "sweep.json"))
    assert sorted(c["job_id"] for c in manifest["cells"].values()) == ["4242_0", "4242_1", "4242_2", "4242_3"]
    assert {c["state"] for c in manifest["cells"].values()} == {"submitted"}


def test_slurm_multi_node_cell_asks_for_nodes_and_tasks(tmp_path):
    run = sweep(*SLURM, "--slurm.nodes=2", "--slurm.tasks-per-node=4", f"--out={tmp_path / 's'}", "--dry-run")
    out, err = run.communicate(timeout=120)
    assert run.returncode == 0, err
    for line in SBATCH_LINES + ["#SBATCH --nodes=2", "#SBATCH --ntasks-per-node=4"]:
        assert line in out
