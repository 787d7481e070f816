"""`python -m vitamin_jax.evaluate`: a finished run's checkpoint scores what the run's last
evaluation scored (same episodes, same action keys), per vmapped seed; videos hold every frame of
their episode; bad input is one line and exit 2."""

import ctypes.util
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from vitamin_jax.evaluate import format_table
from vitamin_jax.logger import read_metrics
from vitamin_jax.train import train_and_evaluate

from test_train import toy_config

PROJECT_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ENV = {**os.environ, "JAX_PLATFORMS": "cpu", "VITAMIN_JAX_TCMALLOC": "0"}
pytestmark = pytest.mark.xdist_group("evaluate")  # one worker builds each module fixture once


def evaluate(*args, env=None):
    return subprocess.run([sys.executable, "-m", "vitamin_jax.evaluate", *map(str, args)], capture_output=True,
                          text=True, cwd=PROJECT_ROOT, env=env or ENV, timeout=600)


@pytest.fixture(scope="session")  # not rebuilt when xdist interleaves other modules
def toy_run(tmp_path_factory):
    """A finished two-seed toy run (seeds 16 and 17 vmapped), checkpoint every iteration."""
    workdir = str(tmp_path_factory.mktemp("evaluate") / "toy")
    config = toy_config()
    config.num_seeds = 2
    train_and_evaluate(config, workdir)
    return workdir


def test_the_final_checkpoint_scores_what_the_last_evaluation_scored(toy_run, tmp_path):
    out = tmp_path / "scores.json"
    result = evaluate(toy_run, "--json", out)
    assert result.returncode == 0, result.stderr
    summary = json.loads(out.read_text())
    last = read_metrics(toy_run)[-1]
    assert summary["global_iteration"] == last["global_iteration"] == 5  # pretraining + 4 online iterations
    assert [s["seed"] for s in summary["seeds"]] == [16, 17]
    assert all(s["episodes"] == 8 for s in summary["seeds"])  # the run's online.num_eval_episodes
    # the same episodes and action keys as the loop's evaluation after iteration 5: equal, not close
    np.testing.assert_allclose([s["normalized_score"]["mean"] for s in summary["seeds"]],
                               last["normalized_score_per_seed"], rtol=1e-6)
    assert summary["mean"]["normalized_score"]["mean"] == pytest.approx(last["normalized_score"], rel=1e-6)
    assert summary["mean"]["return"]["mean"] == pytest.approx(last["raw_return_mean"], rel=1e-6)
    # the printed table is the JSON's numbers: one row per seed and the mean
    table = [line for line in result.stdout.splitlines() if line.startswith("| ")]
    assert [row.split(" | ")[0] for row in table] == ["| seed", "| 16", "| 17", "| mean"]
    assert table[-1] == format_table(summary).splitlines()[-1]
    assert f"{summary['mean']['normalized_score']['mean']:.2f}" in table[-1]


def test_an_earlier_step_and_other_episodes(toy_run, tmp_path):
    out = tmp_path / "scores.json"
    result = evaluate(toy_run, "--step", 4, "--episodes", 3, "--seed", 100, "--target-return", 2.0, "--json", out)
    assert result.returncode == 0, result.stderr
    summary = json.loads(out.read_text())
    assert summary["global_iteration"] == 4 and summary["target_return"] == 2.0
    assert [s["seed"] for s in summary["seeds"]] == [16, 17]  # the trained agents
    assert [s["episode_seed"] for s in summary["seeds"]] == [100, 101] and summary["seeds"][0]["episodes"] == 3
    for seed in summary["seeds"]:
        for column in ("return", "normalized_score", "length"):
            stats = seed[column]
            assert stats["min"] <= stats["mean"] <= stats["max"] and stats["std"] >= 0


def one_error_line(result):
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode == 2 and len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ") and "Traceback" not in result.stderr
    return lines[0]


def test_bad_input_is_one_line_and_exit_2(toy_run, tmp_path):
    assert "is not a directory" in one_error_line(evaluate(tmp_path / "nowhere"))
    empty = tmp_path / "empty"
    empty.mkdir()
    assert "holds no config.json" in one_error_line(evaluate(empty))
    fresh = tmp_path / "fresh"  # a run that claimed its workdir but saved nothing yet
    fresh.mkdir()
    (fresh / "config.json").write_text(open(os.path.join(toy_run, "config.json")).read())
    assert "has no checkpoint yet" in one_error_line(evaluate(fresh))
    line = one_error_line(evaluate(toy_run, "--step", 99))
    assert "has no checkpoint 99" in line and "it has 4, 5" in line
    assert "--episodes=0" in one_error_line(evaluate(toy_run, "--episodes", 0))
    assert "unrecognized arguments: --frobnicate" in one_error_line(evaluate(toy_run, "--frobnicate"))
    assert "nothing to render" in one_error_line(evaluate(toy_run, "--video", tmp_path / "videos"))
    assert not (tmp_path / "videos").exists()


# ---------------------------------------------------------------------------- a MuJoCo run, watched
@pytest.fixture(scope="session")  # not rebuilt when xdist interleaves other modules
def hopper_run(tmp_path_factory):
    """The demo's hopper-random preset shrunk to one pretraining iteration on 1000 generated steps."""
    from vitamin_jax.configuration import load_config

    root = tmp_path_factory.mktemp("evaluate-hopper")
    c = load_config("configs/demo.py:hopper-random")
    c.dataset.generate_num_steps = 1000
    c.model.embed_dim, c.model.n_layer, c.model.n_head = 16, 1, 1
    c.train.batch_size = 8
    c.train.num_updates_per_pretrain_iter = 4
    c.train.updates_per_dispatch = 4
    c.online.max_online_transitions = 0
    c.online.num_eval_episodes = 2
    c.log.progress_bar = False
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MINARI_DATASETS_PATH", str(root / "minari"))
        train_and_evaluate(c, str(root / "hopper"))
    return str(root / "hopper")


def test_videos_hold_every_frame_of_their_episode(hopper_run, tmp_path):
    import imageio

    videos, out = tmp_path / "videos", tmp_path / "scores.json"
    result = evaluate(hopper_run, "--video", videos, "--json", out, env={**ENV, "MUJOCO_GL": "egl"})
    if result.returncode == 2 and "cannot render here" in result.stderr:
        pytest.skip(f"no OpenGL backend on this machine: {result.stderr.strip()}")
    assert result.returncode == 0, result.stderr
    summary = json.loads(out.read_text())
    last = read_metrics(hopper_run)[-1]
    assert summary["mean"]["normalized_score"]["mean"] == pytest.approx(last["normalized_score"], rel=1e-6)
    assert sorted(os.listdir(videos)) == ["seed-16-episode-0.mp4", "seed-16-episode-1.mp4"]
    lengths = [imageio.get_reader(videos / f"seed-16-episode-{j}.mp4", "ffmpeg").count_frames() for j in range(2)]
    seed = summary["seeds"][0]
    # RecordVideo writes the reset frame and one frame per step
    assert min(lengths) == seed["length"]["min"] + 1 and max(lengths) == seed["length"]["max"] + 1


@pytest.mark.skipif(ctypes.util.find_library("OSMesa") is not None, reason="OSMesa is installed: it would render")
def test_no_gl_backend_is_one_line_naming_what_to_install(hopper_run, tmp_path):
    result = evaluate(hopper_run, "--video", tmp_path / "videos", env={**ENV, "MUJOCO_GL": "osmesa"})
    line = one_error_line(result)
    assert "cannot render here" in line and "apt-get install" in line and "MUJOCO_GL=egl" in line
