"""The sweep tool: a grid of toy cells through submitit's local executor, killed and rerun; the Slurm
array from a dry run and from a submission to a fake `sbatch`; the default preset; one sweep per directory."""

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
from vitamin_jax.sweep import SweepError, cell_config, choose_presets, main, make_cells, parse_seeds

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
    assert json.load(open(out / "toy" / "odt" / "seeds_16-16" / "summary.json"))["job_id"] == done_job

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


def test_default_preset_reaches_the_cell_configs(tmp_path):
    presets, source = choose_presets("configs/demo.py", None)
    assert (presets, source) == (["halfcheetah-random"], "config default")
    (cell,) = make_cells(presets, ["odt"], [3], per_job=1)
    assert cell.name == "halfcheetah-random/odt/seeds_3-3"
    config = cell_config("configs/demo.py", cell, [])
    assert (config.env_name, config.algo, config.seed) == ("halfcheetah-random", "odt", 3)
    assert config.dataset.generate_num_steps == 100_000  # demo's schedule, not mujoco's
    assert choose_presets("configs/demo.py", "hopper-random,") == (["hopper-random"], "--presets")

    bare = tmp_path / "bare.py"  # a file that takes no preset: one preset-less set of cells
    bare.write_text("from configs import toy\n\n\ndef get_config():\n    c = toy.get_config()\n"
                    "    c.train.batch_size = 8\n    return c\n")
    presets, source = choose_presets(str(bare), None)
    assert (presets, source) == ([""], "no presets")
    (cell,) = make_cells(presets, ["td3_odt"], [5], per_job=1)
    assert cell.name == "td3_odt/seeds_5-5"
    config = cell_config(str(bare), cell, [("online.max_online_transitions", 32)])
    assert (config.env_name, config.train.batch_size, config.seed, config.online.max_online_transitions) == (
        "toy", 8, 5, 32)
    with pytest.raises(SweepError, match="takes no preset; leave out --presets"):
        choose_presets(str(bare), "toy")

    required = tmp_path / "required.py"
    required.write_text("def get_config(preset):\n    return None\n")
    with pytest.raises(SweepError, match="has no default preset; choose presets with --presets"):
        choose_presets(str(required), None)
    with pytest.raises(SweepError, match="config file not found"):
        choose_presets("configs/demo.py:hopper-random", None)


def finish_cell(out, name, job_id=None, transitions=32):
    """A cell's workdir as its job leaves it at the budget (TOY's 32 transitions)."""
    workdir = out / name
    workdir.mkdir(parents=True)
    summary = {"online_transitions": transitions, **({"job_id": job_id} if job_id else {})}
    (workdir / "summary.json").write_text(json.dumps(summary))


def test_rerun_without_presets_records_the_default_preset_and_drops_stale_job_ids(tmp_path, capsys):
    out = tmp_path / "sweep"
    finish_cell(out, "toy/td3_odt/seeds_0-0", job_id="777")  # finished by job 777
    finish_cell(out, "toy/odt/seeds_0-0")  # finished, by a job that recorded no id
    stale = {"cells": {"toy/td3_odt/seeds_0-0": {"state": "failed", "job_id": "123"},  # another sweep's failures
                       "toy/odt/seeds_0-0": {"state": "failed", "job_id": "124"}}}
    (out / "sweep.json").write_text(json.dumps(stale))
    args = [a for a in TOY if not a.startswith("--presets")]
    assert main([*args, "--algos=td3_odt,odt", "--seeds=0", f"--out={out}", "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert "sweep: preset toy (the default of configs/toy.py; choose others with --presets)" in printed
    assert "all 2 cells finished" in printed
    manifest = json.load(open(out / "sweep.json"))
    assert (manifest["presets"], manifest["presets_from"]) == (["toy"], "config default")
    cells = manifest["cells"]
    assert cells["toy/td3_odt/seeds_0-0"]["state"] == "done" and cells["toy/td3_odt/seeds_0-0"]["job_id"] == "777"
    assert cells["toy/odt/seeds_0-0"]["state"] == "done" and "job_id" not in cells["toy/odt/seeds_0-0"]
    assert {c["preset"] for c in cells.values()} == {"toy"}
    assert sorted(os.listdir(out)) == [".sweep.lock", "sweep.json", "toy"]  # the lock is released, not removed


HOLD = "import sys; from vitamin_jax.sweep import lock_sweep; lock_sweep(sys.argv[1]); print('held', flush=True); " \
       "sys.stdin.read()"


def test_second_sweep_on_a_held_directory_exits_2_naming_the_holder(tmp_path):
    out = tmp_path / "sweep"
    out.mkdir()
    (out / "sweep.json").write_text(json.dumps({"cells": {"toy/td3_odt/seeds_0-0": {"state": "running"}}}))
    before = ((out / "sweep.json").read_bytes(), (out / "sweep.json").stat().st_mtime_ns)
    # the holder takes the lock the way a sweep does, says so on its stdout, and holds it until its stdin closes
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(out)], cwd=PROJECT_ROOT, text=True,
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        assert holder.stdout.readline() == "held\n"
        assert int((out / ".sweep.lock").read_text()) == holder.pid
        second = sweep(*TOY, "--algos=td3_odt", "--seeds=0", f"--out={out}", "--no-progress")
        _, err = second.communicate(timeout=300)
        assert second.returncode == 2
        assert err.splitlines() == [f"error: sweep directory {out} is in use by another sweep (pid {holder.pid}); "
                                    f"wait for it to finish, or use another --out"]
        assert ((out / "sweep.json").read_bytes(), (out / "sweep.json").stat().st_mtime_ns) == before
        assert sorted(os.listdir(out)) == [".sweep.lock", "sweep.json"]  # no cell started, no log written
    finally:
        holder.stdin.close()
        holder.wait(timeout=60)
    assert holder.returncode == 0
    finish_cell(out, "toy/td3_odt/seeds_0-0", job_id="9")  # once the holder is gone the directory is free
    assert main([*TOY, "--algos=td3_odt", "--seeds=0", f"--out={out}", "--no-progress"]) == 0
    assert json.load(open(out / "sweep.json"))["cells"]["toy/td3_odt/seeds_0-0"]["state"] == "done"
