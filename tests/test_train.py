"""The main loop end to end on the toy MDP: outputs, resume equality, command-line errors."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from vitamin_jax.configuration import PROJECT_ROOT, load_config
from vitamin_jax.logger import read_metrics
from vitamin_jax.train import train_and_evaluate


def toy_config(**overrides):
    c = load_config("configs/toy.py")
    c.model.embed_dim, c.model.n_layer = 32, 1
    c.train.num_updates_per_pretrain_iter = 10
    c.train.num_updates_per_online_iter = 10
    c.train.updates_per_dispatch = 5
    c.online.num_online_envs = 16
    c.online.num_eval_episodes = 8
    c.online.max_online_transitions = 16 * 4
    c.checkpoint.every_iters = 1
    c.log.progress_bar = False
    for key, value in overrides.items():
        section, field = key.split(".")
        c[section][field] = value
    return c


def strip_times(records):
    """Records without their clock readings (wall_time, time/* sections), which differ between runs."""
    return [{k: v for k, v in r.items() if k != "wall_time" and not k.startswith("time/")} for r in records]


@pytest.mark.parametrize("sampler", ["device", "host"])
def test_toy_run_writes_all_outputs(tmp_path, sampler):
    workdir = str(tmp_path / "run")
    summary = train_and_evaluate(toy_config(**{"train.sampler": sampler}), workdir)
    records = read_metrics(workdir)
    assert [r["phase"] for r in records] == ["pretrain"] + ["online"] * 4
    assert [r["online_transitions"] for r in records] == [0, 16, 32, 48, 64]
    assert records[-1]["updates"] == 10 + 4 * 10
    for key in ("iteration", "online_transitions", "return_mean", "return_std", "normalized_score", "wall_time"):
        assert key in records[0]
    assert "total_transitions" not in records[0]  # it always equalled online_transitions
    assert summary["online_transitions"] == 64 and summary["final_score"] == records[-1]["normalized_score"]
    config = json.load(open(os.path.join(workdir, "config.json")))
    assert config["env_name"] == "toy" and config["online"]["reward_scale"] == 1.0
    assert os.path.getsize(os.path.join(workdir, "curve.png")) > 0
    assert any(f.startswith("events.out.tfevents") for f in os.listdir(os.path.join(workdir, "tensorboard")))
    assert sorted(os.listdir(os.path.join(workdir, "checkpoints")))  # orbax step directories
    # where the time went: evaluation records carry the sections before them, scalars every section
    online = records[1]
    for section in ("rollout_env", "rollout_act", "replay_transfer", "updates", "evaluation"):
        assert 0 < online[f"time/{section}"] < online["wall_time"]
    assert "time/rollout_env" not in records[0] and records[0]["time/updates"] > 0  # pretraining: no rollouts
    with open(os.path.join(workdir, "scalars.jsonl")) as f:
        points = [json.loads(line) for line in f]
    timed = {(p["global_iteration"], p["tag"]) for p in points if p["tag"].startswith("time/")}
    for iteration in range(1, 6):  # toy_config checkpoints every iteration
        for section in ("updates", "evaluation", "checkpoint", "logging"):
            assert (iteration, f"time/{section}") in timed
    assert not any(p["tag"].startswith("evaluation/time") for p in points)


def test_resume_after_stop_equals_uninterrupted_run(tmp_path):
    uninterrupted = str(tmp_path / "a")
    train_and_evaluate(toy_config(), uninterrupted)

    resumed = str(tmp_path / "b")
    train_and_evaluate(toy_config(), resumed, stop_after_iterations=3)  # pretraining + 2 online iterations, "killed"
    assert len(read_metrics(resumed)) == 3
    train_and_evaluate(toy_config(), resumed)  # same workdir: resumes from the last checkpoint
    a, b = read_metrics(uninterrupted), read_metrics(resumed)
    assert strip_times(a) == strip_times(b)


def test_non_finite_losses_stop_with_a_clear_error(tmp_path):
    from vitamin_jax.errors import TrainingError

    config = toy_config(**{"actor.learning_rate": 1e30, "critic.learning_rate": 1e30})  # diverges
    with pytest.raises(TrainingError, match="non-finite") as error:
        train_and_evaluate(config, str(tmp_path / "nan"))
    assert "no checkpoint was written yet" in str(error.value)  # it diverges in pretraining


def run_cli(*args, env=None):
    return subprocess.run([sys.executable, "-m", "vitamin_jax.main", *args], capture_output=True, text=True,
                          cwd=PROJECT_ROOT, env={**os.environ, **(env or {})}, timeout=300)


def test_cli_runs_toy_config(tmp_path):
    result = run_cli("--config=configs/toy.py", f"--workdir={tmp_path / 'cli'}", "--config.model.embed_dim=32",
                     "--config.model.n_layer=1", "--config.online.max_online_transitions=64",
                     "--config.log.progress_bar=False")
    assert result.returncode == 0, result.stderr[-2000:]
    assert "final_score" in result.stdout


@pytest.mark.parametrize("args, expected", [
    (["--config=configs/adroit.py:pen-humn"], "unknown Adroit preset"),
    (["--config=configs/toy.py", "--config.model.no_such_field=3"], "no_such_field"),
    (["--config=configs/toy.py", "--config.model.embed_dim=abc"], "embed_dim"),
    (["--config=configs/toy.py", "--config.algo=ppo"], "config.algo='ppo'"),
])
def test_cli_bad_input_is_one_clear_line(tmp_path, args, expected):
    result = run_cli(*args, f"--workdir={tmp_path / 'w'}")
    assert result.returncode != 0
    assert expected in result.stderr
    assert "Traceback" not in result.stderr


def test_cli_missing_dataset_names_the_fix(tmp_path):
    result = run_cli("--config=configs/adroit.py", f"--workdir={tmp_path / 'w'}",
                     env={"MINARI_DATASETS_PATH": str(tmp_path / "empty_minari")})
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "D4RL/pen/human-v2" in result.stderr and "minari download" in result.stderr


def test_cli_unwritable_workdir(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    result = run_cli("--config=configs/toy.py", f"--workdir={blocker / 'run'}")
    assert result.returncode == 2 and "not writable" in result.stderr and "Traceback" not in result.stderr


def test_cli_missing_config_file(tmp_path):
    result = run_cli("--config=configs/nope.py", f"--workdir={tmp_path / 'w'}")
    assert result.returncode == 2 and "configs/nope.py" in result.stderr and "Traceback" not in result.stderr


def test_seed_s_of_a_vmapped_run_equals_a_single_run(tmp_path):
    group = toy_config(**{"train.num_updates_per_online_iter": 6, "online.max_online_transitions": 32})
    group.num_seeds = 2
    summary = train_and_evaluate(group, str(tmp_path / "group"))
    assert len(summary["final_score_per_seed"]) == 2
    group_records = read_metrics(str(tmp_path / "group"))
    for s in range(2):
        single = toy_config(**{"train.num_updates_per_online_iter": 6, "online.max_online_transitions": 32})
        single.seed = group.seed + s
        train_and_evaluate(single, str(tmp_path / f"single{s}"))
        for g, r in zip(group_records, read_metrics(str(tmp_path / f"single{s}"))):
            np.testing.assert_allclose(g["normalized_score_per_seed"][s], r["normalized_score"], rtol=1e-4, atol=1e-4)
            np.testing.assert_allclose(g["return_mean_per_seed"][s], r["return_mean"], rtol=1e-4, atol=1e-4)
    assert np.std(group_records[-1]["normalized_score_per_seed"]) > 0  # the seeds really differ


@pytest.mark.parametrize("sampler", ["device"])  # the host path is covered by test_distributed.py
def test_data_parallel_run_matches_one_device(tmp_path, sampler):
    import jax

    if jax.device_count() < 4:
        pytest.skip("needs XLA_FLAGS=--xla_force_host_platform_device_count=4")
    overrides = {"train.sampler": sampler, "online.max_online_transitions": 32}
    train_and_evaluate(toy_config(**overrides), str(tmp_path / "one"))
    parallel = toy_config(**overrides, **{"parallel.data_parallel": True, "parallel.num_devices": 4})
    train_and_evaluate(parallel, str(tmp_path / "four"))
    for a, b in zip(read_metrics(str(tmp_path / "one")), read_metrics(str(tmp_path / "four"))):
        np.testing.assert_allclose(a["normalized_score"], b["normalized_score"], rtol=1e-4, atol=1e-4)
        np.testing.assert_allclose(a["return_mean"], b["return_mean"], rtol=1e-4, atol=1e-4)


def test_saved_actor_loads_as_a_policy(tmp_path):
    from vitamin_jax import envs
    from vitamin_jax.policy import load_policy

    workdir = str(tmp_path / "run")
    train_and_evaluate(toy_config(**{"online.max_online_transitions": 16}), workdir)
    policy = load_policy(workdir)
    env = envs.make_env("toy", raw=True)
    obs, _ = env.reset(seed=0)
    first = policy.act(obs)
    assert first.shape == (1,) and np.all(np.abs(first) < 1)
    policy.observe(float(env.step(first)[1]))
    policy.reset()
    np.testing.assert_array_equal(policy.act(obs), first)  # noise 0: deterministic per episode start
    noisy = load_policy(os.path.join(workdir, "checkpoints"), noise=0.5, seed=1)
    assert np.abs(noisy.act(obs) - first).max() > 1e-4
