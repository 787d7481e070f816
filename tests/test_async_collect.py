"""online.async_collect: iteration i+1's rollout beside iteration i's updates, with the parameters
iteration i started from. Off by default; on, it is one iteration staler, and a run killed and
resumed from a checkpoint still ends as an uninterrupted run with the same setting."""

import numpy as np
import pytest

from vitamin_jax.logger import read_metrics
from vitamin_jax.train import train_and_evaluate

from test_train import strip_times, toy_config

pytestmark = pytest.mark.xdist_group("async_collect")


def config(async_collect, every_iters):
    return toy_config(**{"online.async_collect": async_collect, "checkpoint.every_iters": every_iters,
                         "online.max_online_transitions": 16 * 6})


@pytest.fixture(scope="session")
def sync_records(tmp_path_factory):
    workdir = str(tmp_path_factory.mktemp("sync") / "run")
    train_and_evaluate(config(False, 2), workdir)
    return read_metrics(workdir)


def test_off_by_default():
    assert toy_config().online.async_collect is False


def test_a_checkpoint_every_iteration_leaves_nothing_to_overlap(tmp_path, sync_records):
    """Each iteration that checkpoints starts nothing ahead: with one every iteration, async = sync."""
    workdir = str(tmp_path / "run")
    train_and_evaluate(config(True, 1), workdir)
    assert strip_times(read_metrics(workdir)) == strip_times(sync_records)


@pytest.mark.slow
def test_collection_ahead_is_staler_and_resumes_exactly(tmp_path, sync_records):
    ahead = str(tmp_path / "ahead")
    train_and_evaluate(config(True, 2), ahead)
    records = read_metrics(ahead)
    assert [r["online_transitions"] for r in records] == [r["online_transitions"] for r in sync_records]
    # global iterations 2 and 3 (online 1, 2) collect with the same parameters either way;
    # iteration 4 was collected during iteration 3's updates, with iteration 2's parameters
    scores = lambda rs: [r["normalized_score"] for r in rs]
    assert scores(records)[:3] == scores(sync_records)[:3]
    assert not np.allclose(scores(records)[3:], scores(sync_records)[3:])
    resumed = str(tmp_path / "resumed")
    train_and_evaluate(config(True, 2), resumed, stop_after_iterations=4)
    train_and_evaluate(config(True, 2), resumed)
    assert strip_times(read_metrics(resumed)) == strip_times(records)


def test_a_workdir_saved_before_the_option_existed_resumes_with_it_off():
    from vitamin_jax.workdir import config_changes

    saved = toy_config().to_dict()
    del saved["online"]["async_collect"]
    assert config_changes(saved, toy_config().to_dict()) == []
    requested = toy_config(**{"online.async_collect": True}).to_dict()
    assert config_changes(saved, requested) == [("online.async_collect", "<absent>", True)]
