"""The optional wandb mirror: the same points as scalars.jsonl, a replay of the kept points on
resume (a new wandb run of the same group), and a one-line error when wandb is missing."""

import glob
import json
import os
import sys
import types

import pytest

from vitamin_jax import wandb_logging
from vitamin_jax.configuration import ConfigError, load_config
from vitamin_jax.logger import RunLogger


def wandb_config(mode="offline"):
    config = load_config("configs/toy.py")
    config.log.wandb = True
    config.log.wandb_mode = mode
    return config


def make_logger(config, workdir, keep_until_iteration=None):
    return RunLogger(workdir, tensorboard=False, title="toy", keep_until_iteration=keep_until_iteration,
                     mirror_factory=lambda kept: wandb_logging.from_config(config, workdir, "toy", kept))


class FakeWandb(types.ModuleType):
    """Records what the mirror asks of wandb."""

    def __init__(self):
        super().__init__("wandb")
        self.runs = []
        self.Settings = lambda **kwargs: kwargs

    def init(self, **kwargs):
        run = types.SimpleNamespace(kwargs=kwargs, logged=[], finished=False)
        run.define_metric = lambda *args, **kwargs: None
        run.log = run.logged.append
        run.finish = lambda: setattr(run, "finished", True)
        self.runs.append(run)
        return run


def test_points_are_mirrored_and_a_resume_replays_only_the_kept_ones(tmp_path, monkeypatch):
    fake = FakeWandb()
    monkeypatch.setitem(sys.modules, "wandb", fake)
    config, workdir = wandb_config(), str(tmp_path)
    logger = make_logger(config, workdir)
    for iteration in (1, 2, 3):
        logger.log_scalars("train", {"loss": 0.5 * iteration, "q": [1.0, 3.0]}, step=10 * iteration,
                           global_iteration=iteration)
    logger.close()
    first = fake.runs[0]
    assert first.finished and first.kwargs["mode"] == "offline" and first.kwargs["dir"] == workdir
    assert first.kwargs["config"]["algo"] == config.algo
    assert first.logged[1] == {"global_iteration": 2, "train/loss": 1.0, "train/q/seed0": 1.0,
                               "train/q/seed1": 3.0, "train/q/mean": 2.0}

    # resume from iteration 2's checkpoint: a new run of the same group replays iterations 1 and 2
    logger = make_logger(config, workdir, keep_until_iteration=2)
    logger.log_scalars("train", {"loss": 9.0}, step=30, global_iteration=3)
    logger.close()
    second = fake.runs[1]
    group = first.kwargs["group"]
    assert (second.kwargs["group"], first.kwargs["id"], second.kwargs["id"]) == (group, f"{group}-0", f"{group}-1")
    assert [r["global_iteration"] for r in second.logged] == [1, 2, 3]
    assert second.logged[:2] == first.logged[:2]
    assert second.logged[2] == {"global_iteration": 3, "train/loss": 9.0}


def test_offline_run_is_written_under_the_workdir(tmp_path):
    pytest.importorskip("wandb")
    workdir = str(tmp_path)
    logger = make_logger(wandb_config(), workdir)
    logger.log_scalars("evaluation", {"normalized_score": 12.375}, step=100, global_iteration=1)
    logger.close()
    with open(os.path.join(workdir, "wandb_run.json")) as f:
        group = json.load(f)["group"]
    files = glob.glob(os.path.join(workdir, "wandb", f"offline-run-*-{group}-0", f"run-{group}-0.wandb"))
    assert len(files) == 1
    with open(files[0], "rb") as f:
        record = f.read()
    assert b"evaluation/normalized_score" in record and b"12.375" in record  # the point, as wandb will sync it


def test_missing_wandb_is_a_one_line_config_error(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "wandb", None)  # import wandb raises ImportError
    with pytest.raises(ConfigError, match=r"pip install 'vitamin_jax\[wandb\]'"):
        make_logger(wandb_config(), str(tmp_path))


def test_wandb_fields_are_checked_and_are_presentation_only():
    from vitamin_jax.config_validation import resolve_config
    from vitamin_jax.workdir import PRESENTATION_FIELDS

    config = wandb_config(mode="cloud")
    with pytest.raises(ConfigError, match="log.wandb_mode='cloud' must be one of 'offline', 'online', 'disabled'"):
        resolve_config(config)
    assert {"log.wandb", "log.wandb_mode", "log.wandb_project"} <= set(PRESENTATION_FIELDS)
