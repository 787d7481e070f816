"""Multi-process runs with real processes: two `python -m vitamin_jax.main` processes on
localhost (jax.distributed, 127.0.0.1 coordinator, gloo CPU collectives), two host devices each.

They must equal one process with four devices, write one set of outputs (process 0), keep one
checkpoint that both resume from after `kill -9`, and stop within a bounded time when a peer dies.
One job is killed and restarted and then compared with one process: that covers the
uninterrupted job too, at half the cost of testing both (the toy preset's two-process job was
also equal to one process, digit for digit, before the tests were merged).
"""

import json
import os
import signal
import socket
import subprocess
import sys
import time

import numpy as np
import pytest

from vitamin_jax.configuration import PROJECT_ROOT
from vitamin_jax.logger import SCALARS_FILE, read_metrics
from vitamin_jax.train import train_and_evaluate

from conftest import FAST_COMPILE
from test_reliability import CLI_TOY

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("multiprocess")]

BUDGET = 32  # online transitions: pretraining + 2 online iterations of 16
HEARTBEAT_S = 5


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# A tiny MuJoCo run: hopper-random generated on first use (by process 0), short iterations.
HOPPER = {"num_seeds": 2, "dataset.generate_num_steps": 400, "model.embed_dim": 32, "model.n_layer": 1, "model.context_len": 5,
          "model.eval_context_length": 5, "train.batch_size": 16, "train.num_updates_per_pretrain_iter": 10,
          "train.num_updates_per_online_iter": 10, "train.updates_per_dispatch": 5, "online.num_online_envs": 4,
          "online.num_eval_episodes": 4, "online.minimum_sapairs_per_iter": 20, "online.max_online_transitions": 100,
          "online.eval_interval": 1, "checkpoint.every_iters": 1, "log.progress_bar": False}
HOPPER_CLI = ["--config=configs/mujoco.py:hopper-random", "--config.dataset.generate_if_missing=True",
              *(f"--config.{k}={v}" for k, v in HOPPER.items())]


def launch(workdir: str, *extra: str, base=None, num_processes: int = 2, env=None) -> list[subprocess.Popen]:
    """The job's processes (each sees 2 CPU devices), started together."""
    env = {**os.environ, **(env or {}), "JAX_PLATFORMS": "cpu",
           "XLA_FLAGS": f"--xla_force_host_platform_device_count=2 {FAST_COMPILE}"}
    port = free_port()
    base = base or [*CLI_TOY, f"--config.online.max_online_transitions={BUDGET}", "--config.checkpoint.every_iters=1"]
    processes = [subprocess.Popen(
        [sys.executable, "-m", "vitamin_jax.main", *base, f"--workdir={workdir}",
         f"--config.parallel.coordinator_address=127.0.0.1:{port}", f"--config.parallel.num_processes={num_processes}",
         f"--config.parallel.process_id={i}", f"--config.parallel.heartbeat_timeout_s={HEARTBEAT_S}", *extra],
        cwd=PROJECT_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for i in range(num_processes)]
    LAUNCHED.extend(processes)
    return processes


def finish(processes, timeout=300) -> list[tuple[int, str, str]]:
    """Each process's (exit code, stdout, stderr); a job still running after `timeout` is killed."""
    out = []
    try:
        for p in processes:
            stdout, stderr = p.communicate(timeout=timeout)
            out.append((p.returncode, stdout, stderr))
    finally:
        for p in processes:
            if p.poll() is None:
                p.kill()
    return out


@pytest.fixture(autouse=True)
def no_stray_processes():
    """Kill whatever a failing test left running (a job of 100000 transitions would run for hours)."""
    yield
    for p in LAUNCHED:
        if p.poll() is None:
            p.kill()
            p.wait()
    LAUNCHED.clear()


LAUNCHED: list = []


def wait_for_checkpoint(processes, checkpoints: str, step: int, timeout=300) -> None:
    """Until checkpoint `step` exists; on a timeout or an early exit, kill the job and fail with its output."""
    deadline = time.time() + timeout
    while not (os.path.isdir(checkpoints) and str(step) in os.listdir(checkpoints)):
        if time.time() > deadline or any(p.poll() is not None for p in processes):
            for p in processes:
                p.kill()
            pytest.fail(f"no checkpoint {step}: {[err[-1500:] for _, _, err in finish(processes)]}")
        time.sleep(0.2)


def scalars(workdir):
    """scalars.jsonl without the time/* sections (clock readings differ between runs)."""
    with open(os.path.join(workdir, SCALARS_FILE)) as f:
        return [p for p in map(json.loads, f) if not p["tag"].startswith("time/")]


def assert_same_run(two: str, one: str, rtol=1e-5, atol=1e-5) -> None:
    """Two workdirs hold the same run: evaluations and every scalar, once each, up to float tolerance."""
    a, b = read_metrics(two), read_metrics(one)
    assert [r["global_iteration"] for r in a] == [r["global_iteration"] for r in b]  # each record once, in order
    assert len({r["global_iteration"] for r in a}) == len(a) >= 3
    for x, y in zip(a, b):
        assert (x["online_transitions"], x["updates"]) == (y["online_transitions"], y["updates"])
        for key in ("normalized_score", "return_mean", "length_mean"):
            np.testing.assert_allclose(x.get(f"{key}_per_seed", x[key]), y.get(f"{key}_per_seed", y[key]),
                                       rtol=rtol, atol=atol)
    points_a, points_b = scalars(two), scalars(one)
    assert [(p["tag"], p["step"]) for p in points_a] == [(p["tag"], p["step"]) for p in points_b]
    np.testing.assert_allclose([p["value"] for p in points_a], [p["value"] for p in points_b], rtol=1e-4, atol=atol)
    assert sorted(os.listdir(os.path.join(two, "checkpoints"))) == sorted(os.listdir(os.path.join(one, "checkpoints")))


def single_process(config, workdir: str) -> str:
    """The same run in this process (conftest gives it 4 CPU devices), data-parallel over all 4."""
    import jax

    if jax.device_count() < 4:
        pytest.skip("needs XLA_FLAGS=--xla_force_host_platform_device_count=4")
    config.parallel.data_parallel, config.parallel.num_devices = True, 4
    train_and_evaluate(config, workdir)
    return workdir


def test_killed_and_restarted_job_equals_one_process_on_a_tiny_mujoco_run(tmp_path, monkeypatch):
    """Hopper, 2 vmapped seeds, dataset generated by process 0; kill -9 of both processes after the
    first online checkpoint, then a restart of both: outputs written once, the run of one process."""
    from vitamin_jax.configuration import load_config

    datasets = str(tmp_path / "datasets")
    workdir = str(tmp_path / "two")
    env = {"MINARI_DATASETS_PATH": datasets}
    processes = launch(workdir, base=HOPPER_CLI, env=env)
    wait_for_checkpoint(processes, os.path.join(workdir, "checkpoints"), 2, timeout=600)  # after online iteration 1
    for p in processes:
        p.send_signal(signal.SIGKILL)
    finish(processes)
    assert len(read_metrics(workdir)) < 3  # really interrupted
    assert os.path.isdir(os.path.join(datasets, "vitamin", "hopper", "random-v0"))  # generated once, by process 0
    results = finish(launch(workdir, base=HOPPER_CLI, env=env), timeout=600)
    for code, _, stderr in results:
        assert code == 0, stderr[-2000:]
    assert "Resumed from" in results[0][1]
    assert "final_score" in results[0][1] and "final_score" not in results[1][1]  # only process 0 reports
    assert len(os.listdir(os.path.join(workdir, "tensorboard"))) == 1
    monkeypatch.setenv("MINARI_DATASETS_PATH", datasets)
    config = load_config("configs/mujoco.py:hopper-random")
    for key, value in HOPPER.items():
        *path, field = key.split(".")
        (config[path[0]] if path else config)[field] = value
    assert_same_run(workdir, single_process(config, str(tmp_path / "one")), rtol=1e-4, atol=1e-4)


def test_a_dead_peer_stops_the_job_within_a_bounded_time(tmp_path):
    workdir = str(tmp_path / "run")
    processes = launch(workdir, "--config.online.max_online_transitions=100000")
    deadline = time.time() + 120
    while not os.path.exists(os.path.join(workdir, "config.json")):  # both have started: process 0 claimed
        assert time.time() < deadline and all(p.poll() is None for p in processes), finish(processes, timeout=5)
        time.sleep(0.1)
    time.sleep(2)  # now loading data or compiling, with collectives ahead
    processes[1].send_signal(signal.SIGKILL)
    killed_at = time.time()
    try:
        processes[0].wait(timeout=HEARTBEAT_S * 6)
    except subprocess.TimeoutExpired:
        processes[0].kill()
        pytest.fail("process 0 still runs after its peer died")
    assert processes[0].returncode != 0
    assert time.time() - killed_at < HEARTBEAT_S * 6
    finish(processes)
