"""Nothing lost, nothing mixed: one run per workdir, refused config changes, event files that
match an uninterrupted run after kill -9, data validated at load, checkpoint fallback."""

import json
import os
import signal
import subprocess
import sys
import time

import h5py
import numpy as np
import pytest
from test_train import strip_times, toy_config

from vitamin_jax.config_validation import resolve_config
from vitamin_jax.configuration import PROJECT_ROOT, load_config
from vitamin_jax.errors import ConfigError, DatasetError, TrainingError, WorkdirError
from vitamin_jax.logger import read_metrics
from vitamin_jax.train import train_and_evaluate
from vitamin_jax.workdir import WorkdirLock

SIX_ITERATIONS = 16 * 6  # online transitions: pretraining + 6 online iterations
CLI_TOY = ["--config=configs/toy.py", "--config.model.embed_dim=32", "--config.model.n_layer=1",
           "--config.train.num_updates_per_pretrain_iter=10", "--config.train.num_updates_per_online_iter=10",
           "--config.train.updates_per_dispatch=5", "--config.online.num_online_envs=16",
           "--config.online.num_eval_episodes=8", "--config.log.progress_bar=False"]


def cli(*args, **kwargs):
    return subprocess.Popen([sys.executable, "-m", "vitamin_jax.main", *args], cwd=PROJECT_ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kwargs)


def event_points(workdir):
    """Every (tag, step, value) of the run's event files but the time/* sections, duplicates kept (no purging)."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(os.path.join(workdir, "tensorboard"), size_guidance={"scalars": 0},
                           purge_orphaned_data=False)
    acc.Reload()
    return sorted((tag, e.step, e.value) for tag in acc.Tags()["scalars"] for e in acc.Scalars(tag)
                  if not tag.startswith("time/"))  # clock readings differ between runs


@pytest.fixture(scope="session")  # built once: both users run on one xdist worker
def uninterrupted(tmp_path_factory):
    """A six-iteration toy run, checkpoints every 2 iterations, run straight through."""
    workdir = str(tmp_path_factory.mktemp("uninterrupted") / "run")
    train_and_evaluate(toy_config(**{"online.max_online_transitions": SIX_ITERATIONS,
                                     "checkpoint.every_iters": 2}), workdir)
    return workdir


# ------------------------------------------------------------------ 1. one run per workdir
@pytest.mark.slow
def test_a_second_process_on_a_busy_workdir_exits_at_once(tmp_path):
    workdir = str(tmp_path / "run")
    first = cli(*CLI_TOY, f"--workdir={workdir}", "--config.online.max_online_transitions=1000000")
    try:
        lock = os.path.join(workdir, ".lock")
        deadline = time.time() + 120
        while time.time() < deadline and not (os.path.exists(lock) and open(lock).read().strip() == str(first.pid)):
            time.sleep(0.2)
        assert open(lock).read().strip() == str(first.pid)
        second = cli(*CLI_TOY, f"--workdir={workdir}")
        _, err = second.communicate(timeout=120)
        assert second.returncode != 0 and "Traceback" not in err
        assert f"workdir {workdir} is in use by another run (pid {first.pid})" in err
        assert first.poll() is None  # the first run is untouched
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait()
    records = read_metrics(workdir)
    assert len({r["global_iteration"] for r in records}) == len(records)  # no interleaved duplicates
    WorkdirLock(workdir).release()  # kill -9 left no stale lock


# ------------------------------------------------------------------ 2. a resume keeps the run's config
def test_resume_with_another_config_is_refused_before_anything_is_written(tmp_path):
    workdir = str(tmp_path / "run")
    base = {"online.max_online_transitions": 32}
    train_and_evaluate(toy_config(**base), workdir, stop_after_iterations=2)
    saved = open(os.path.join(workdir, "config.json")).read()
    metrics = open(os.path.join(workdir, "metrics.jsonl")).read()
    changed = toy_config(**base, **{"train.batch_size": 16})
    changed.seed = 3
    with pytest.raises(WorkdirError) as error:
        train_and_evaluate(changed, workdir)
    message = str(error.value)
    assert "\n" not in message and "seed: 16 -> 3, train.batch_size: 32 -> 16" in message
    assert "another --workdir" in message
    assert open(os.path.join(workdir, "config.json")).read() == saved
    assert open(os.path.join(workdir, "metrics.jsonl")).read() == metrics
    # presentation fields may change, and a raised budget continues the run
    extended = toy_config(**{"online.max_online_transitions": 48, "log.tensorboard": False, "checkpoint.keep": 3})
    summary = train_and_evaluate(extended, workdir)
    records = read_metrics(workdir)
    assert summary["online_transitions"] == 48 and [r["online_transitions"] for r in records] == [0, 16, 32, 48]
    assert json.load(open(os.path.join(workdir, "config.json")))["online"]["max_online_transitions"] == 48


# ------------------------------------------------------------------ 3. event files after kill -9
@pytest.mark.slow
@pytest.mark.xdist_group("uninterrupted")  # one worker builds the shared fixture run
def test_event_files_after_kill_and_resume_equal_an_uninterrupted_run(tmp_path, uninterrupted):
    workdir = str(tmp_path / "run")
    args = [*CLI_TOY, f"--workdir={workdir}", f"--config.online.max_online_transitions={SIX_ITERATIONS}",
            "--config.checkpoint.every_iters=2"]
    run = cli(*args)
    deadline = time.time() + 240
    while time.time() < deadline and len(read_metrics(workdir)) < 4 and run.poll() is None:
        time.sleep(0.1)
    run.send_signal(signal.SIGKILL)  # between checkpoints 2 and 4, or inside a write: either must work
    run.wait()
    assert len(read_metrics(workdir)) < 7
    resumed = cli(*args)
    _, err = resumed.communicate(timeout=300)
    assert resumed.returncode == 0, err[-2000:]
    assert strip_times(read_metrics(workdir)) == strip_times(read_metrics(uninterrupted))
    points = event_points(workdir)
    assert points == event_points(uninterrupted)
    tags = {tag for tag, _, _ in points}
    assert {"evaluation/normalized_score", "pretrain/actor_loss", "online/critic_loss"} <= tags
    assert ("evaluation/normalized_score", 0) in {(tag, step) for tag, step, _ in points}


# ------------------------------------------------------------------ 4, 5. data validated at load
def write_hopper_hdf5(path, obs_dim=11, nan_in_episode=None):
    rng = np.random.default_rng(0)
    n = 30
    rewards = rng.normal(size=n).astype(np.float32)
    terminals = np.zeros(n, bool)
    terminals[[9, 19, 29]] = True
    if nan_in_episode is not None:
        rewards[10 * nan_in_episode + 3] = np.nan
    with h5py.File(path, "w") as f:
        f["observations"] = rng.normal(size=(n, obs_dim)).astype(np.float32)
        f["next_observations"] = rng.normal(size=(n, obs_dim)).astype(np.float32)
        f["actions"] = rng.uniform(-1, 1, size=(n, 3)).astype(np.float32)
        f["rewards"] = rewards
        f["terminals"] = terminals
        f["timeouts"] = np.zeros(n, bool)


def hopper_config(path):
    config = load_config("configs/mujoco.py:hopper-medium")
    config.dataset.path = path
    return config


def test_non_finite_dataset_values_are_refused_at_load_and_in_summary(tmp_path):
    from vitamin_jax.data import offline_data

    path = str(tmp_path / "nan.hdf5")
    write_hopper_hdf5(path, nan_in_episode=1)
    with pytest.raises(DatasetError) as error:
        offline_data(hopper_config(path))
    assert "rewards of episode 1 (step 3) hold NaN" in str(error.value) and "\n" not in str(error.value)
    result = subprocess.run([sys.executable, "-m", "vitamin_jax.data", "summary", path], capture_output=True,
                            text=True, cwd=PROJECT_ROOT, timeout=120)
    assert result.returncode == 2 and "rewards of episode 1 (step 3) hold NaN" in result.stderr


def test_dataset_that_does_not_fit_the_environment_is_refused_with_both_shapes(tmp_path):
    from vitamin_jax.data import offline_data

    path = str(tmp_path / "five.hdf5")
    write_hopper_hdf5(path, obs_dim=5)
    with pytest.raises(DatasetError) as error:
        offline_data(hopper_config(path))
    message = str(error.value)
    assert "Hopper-v5" in message and "observations 5-dim" in message and "11 and 3 in the environment" in message


# ------------------------------------------------------------------ 6. divergence message
# tests/test_train.py::test_non_finite_losses_stop_with_a_clear_error checks "no checkpoint was written yet".


# ------------------------------------------------------------------ 7. checkpoint fallback
def corrupt(step_dir):
    """Truncate every array file of a checkpoint step (as a disk-full or a cut copy would)."""
    for root, _, files in os.walk(os.path.join(step_dir, "agent")):
        for name in files:
            with open(os.path.join(root, name), "r+b") as f:
                f.truncate(max(os.path.getsize(f.name) // 3, 1))


@pytest.mark.xdist_group("uninterrupted")
def test_corrupt_latest_checkpoint_falls_back_to_the_previous_one(tmp_path, uninterrupted, capfd):
    workdir = str(tmp_path / "run")
    config = toy_config(**{"online.max_online_transitions": SIX_ITERATIONS, "checkpoint.every_iters": 2})
    train_and_evaluate(config, workdir, stop_after_iterations=4)  # checkpoints 2 and 4
    corrupt(os.path.join(workdir, "checkpoints", "4"))
    capfd.readouterr()
    train_and_evaluate(config, workdir)
    err = capfd.readouterr().err
    assert "warning: checkpoint 4" in err and "does not restore" in err
    assert strip_times(read_metrics(workdir)) == strip_times(read_metrics(uninterrupted))
    assert os.listdir(os.path.join(workdir, "corrupt_checkpoints")) == ["4"]


def test_no_restorable_checkpoint_is_refused_not_restarted(tmp_path):
    workdir = str(tmp_path / "run")
    config = toy_config(**{"online.max_online_transitions": 32})
    train_and_evaluate(config, workdir, stop_after_iterations=2)
    metrics = open(os.path.join(workdir, "metrics.jsonl")).read()
    for step in os.listdir(os.path.join(workdir, "checkpoints")):
        if step.isdigit():
            corrupt(os.path.join(workdir, "checkpoints", step))
    with pytest.raises(TrainingError) as error:
        train_and_evaluate(config, workdir)
    assert f"no checkpoint in {os.path.join(workdir, 'checkpoints')} restores" in str(error.value)
    assert open(os.path.join(workdir, "metrics.jsonl")).read() == metrics  # nothing thrown away


# ------------------------------------------------------------------ 8. odd workdir contents
@pytest.mark.parametrize("name, make", [("checkpoints", "file"), ("metrics.jsonl", "dir")])
def test_workdir_with_a_file_or_directory_in_the_wrong_place(tmp_path, name, make):
    workdir = tmp_path / "run"
    workdir.mkdir()
    (workdir / name).mkdir() if make == "dir" else (workdir / name).write_text("x")
    with pytest.raises(WorkdirError) as error:
        train_and_evaluate(toy_config(), str(workdir))
    assert str(workdir / name) in str(error.value) and "\n" not in str(error.value)


def test_workdir_that_is_a_file(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(WorkdirError, match="is a file, not a directory"):
        train_and_evaluate(toy_config(), str(blocker))


# ------------------------------------------------------------------ 9, 10. config ranges and presets
@pytest.mark.parametrize("field, value, expected", [
    ("critic.num_qs", 0, "config.critic.num_qs=0 must be an integer >= 1"),
    ("model.dropout", 1.5, "config.model.dropout=1.5 must be in [0, 1)"),
    ("actor.learning_rate", 0.0, "config.actor.learning_rate=0.0 must be > 0"),
    ("rl.gamma", 1.5, "config.rl.gamma=1.5 must be in (0, 1]"),
    ("train.replay_size", 0, "config.train.replay_size=0 must be an integer >= 1"),
    ("online.expl_noise", -0.1, "config.online.expl_noise=-0.1 must be >= 0"),
])
def test_numeric_fields_are_range_checked(field, value, expected):
    config = load_config("configs/toy.py")
    section, name = field.split(".")
    config[section][name] = value
    with pytest.raises(ConfigError, match=expected.replace("(", r"\(").replace(")", r"\)")
                       .replace("[", r"\[").replace("]", r"\]")):
        resolve_config(config)


@pytest.mark.parametrize("spec", ["configs/demo.py:anything", "configs/base.py:hopper", "configs/toy.py:toyy"])
def test_every_config_file_refuses_unknown_presets(spec):
    with pytest.raises(ValueError, match="preset"):
        load_config(spec)


# ------------------------------------------------------------------ 11, 12. help and MuJoCo noise
def test_help_exits_zero_and_lists_config_files_presets_and_fields():
    result = subprocess.run([sys.executable, "-m", "vitamin_jax.main", "--help"], capture_output=True, text=True,
                            cwd=PROJECT_ROOT, timeout=120)
    assert result.returncode == 0
    for expected in ("configs/mujoco.py: hopper-random", "pen-human", "antmaze-umaze-diverse", "configs/toy.py: toy",
                     "--config.algo", "--config.online.max_online_transitions"):
        assert expected in result.stdout


def test_mujoco_settotalmass_deprecation_is_not_printed():
    code = "from vitamin_jax import envs; envs.make_env('halfcheetah-random').reset(seed=0)"
    result = subprocess.run([sys.executable, "-W", "default", "-c", code], capture_output=True, text=True,
                            cwd=PROJECT_ROOT, timeout=120)
    assert result.returncode == 0 and "settotalmass" not in result.stderr


# ------------------------------------------------------------------ 13. wording
def test_dataset_path_that_is_a_directory(tmp_path):
    from vitamin_jax.data.loading import load_hdf5

    with pytest.raises(DatasetError, match="is a directory, not a D4RL .hdf5 file"):
        load_hdf5(str(tmp_path))


def test_summary_of_a_missing_generated_id_suggests_generation(tmp_path):
    result = subprocess.run([sys.executable, "-m", "vitamin_jax.data", "summary", "vitamin/hopper/random-v0"],
                            capture_output=True, text=True, cwd=PROJECT_ROOT, timeout=120,
                            env={**os.environ, "MINARI_DATASETS_PATH": str(tmp_path)})
    assert result.returncode == 2 and "python -m vitamin_jax.data generate" in result.stderr
    assert "minari download" not in result.stderr


def test_corrupt_dataset_hint_says_to_delete_it_first(tmp_path, monkeypatch):
    from vitamin_jax.data.loading import load_minari

    monkeypatch.setenv("MINARI_DATASETS_PATH", str(tmp_path))
    broken = tmp_path / "vitamin" / "hopper" / "random-v0" / "data"
    broken.mkdir(parents=True)
    (broken / "main_data.hdf5").write_text("not hdf5")
    from vitamin_jax import envs

    with pytest.raises(DatasetError) as error:
        load_minari("vitamin/hopper/random-v0", spec=envs.get_spec("hopper-random"))
    assert f"rm -r {tmp_path / 'vitamin' / 'hopper' / 'random-v0'}" in str(error.value)
