"""A checkpoint that restores is a checkpoint that was written: damage that orbax cannot see
(random bytes in a chunk, a flipped bit in a parameter or in the replay) is caught by the
digest, the run falls back with one warning line and ends as an uninterrupted run; a full disk
and a damaged restore end in one line; a refused start writes nothing."""

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
from test_reliability import CLI_TOY, SIX_ITERATIONS, cli
from test_train import strip_times, toy_config

from vitamin_jax.checkpointing import DIGEST_FILE, Checkpointer, DamagedCheckpoint
from vitamin_jax.errors import TrainingError
from vitamin_jax.logger import read_metrics
from vitamin_jax.train import train_and_evaluate

CLI_SIX = [*CLI_TOY, f"--config.online.max_online_transitions={SIX_ITERATIONS}", "--config.checkpoint.every_iters=2"]
ENV = {**os.environ, "JAX_PLATFORMS": "cpu", "VITAMIN_JAX_TCMALLOC": "0"}


def six_iteration_config():
    return toy_config(**{"online.max_online_transitions": SIX_ITERATIONS, "checkpoint.every_iters": 2})


@pytest.fixture(scope="session")  # not rebuilt when xdist interleaves other modules
def runs(tmp_path_factory):
    """An uninterrupted six-iteration toy run, and one stopped after 4 (checkpoints 2 and 4)."""
    root = tmp_path_factory.mktemp("integrity")
    train_and_evaluate(six_iteration_config(), str(root / "uninterrupted"))
    train_and_evaluate(six_iteration_config(), str(root / "stopped"), stop_after_iterations=4)
    return {"uninterrupted": str(root / "uninterrupted"), "stopped": str(root / "stopped")}


def copy_of(runs, tmp_path):
    workdir = str(tmp_path / "run")
    shutil.copytree(runs["stopped"], workdir)
    return workdir


def stored(workdir, step):
    """What orbax itself restores of checkpoint `step` (no digest check): {'agent': ..., 'arrays': ...}."""
    import orbax.checkpoint as ocp

    checkpointer = Checkpointer(os.path.join(workdir, "checkpoints"), keep=10)
    try:
        return checkpointer.manager.restore(step, args=ocp.args.Composite(agent=ocp.args.StandardRestore(),
                                                                          arrays=ocp.args.StandardRestore()))
    finally:
        checkpointer.close()


def _damaged(data, at, how):
    data = bytearray(data)
    if how == "flip":
        data[at] ^= 0x04
    else:
        end = min(at + 4096, len(data))
        data[at:end] = np.random.default_rng(0).bytes(end - at)
    return bytes(data)


def damage(workdir, step, item, how, orbax_must_miss_it=True):
    """Damage a chunk file of `item` that orbax reads: so that it still restores, with other values
    (`orbax_must_miss_it`), or in any way that changes what a restore gives.

    orbax compresses chunks without a checksum, so many damages decode silently; this tries the
    largest files at a few offsets. Returns whether orbax itself noticed.
    """
    import jax

    before = jax.tree.leaves(stored(workdir, step)[item])
    root = os.path.join(workdir, "checkpoints", str(step), item)
    files = sorted((os.path.join(d, n) for d, _, names in os.walk(root) for n in names
                    if os.path.basename(d) == "d"), key=os.path.getsize, reverse=True)
    for path in files:
        with open(path, "rb") as f:
            original = f.read()
        for fraction in (0.5, 0.3, 0.7, 0.9):
            with open(path, "wb") as f:
                f.write(_damaged(original, int(len(original) * fraction), how))
            try:
                after = jax.tree.leaves(stored(workdir, step)[item])
                if any(not np.array_equal(x, y, equal_nan=True) for x, y in zip(before, after)):
                    return False
            except Exception:  # orbax noticed this one
                if not orbax_must_miss_it:
                    return True
            with open(path, "wb") as f:
                f.write(original)
    pytest.fail(f"no damage of {root} changed what orbax restores: its storage changed, rethink this test")


def steps(workdir):
    return sorted(name for name in os.listdir(os.path.join(workdir, "checkpoints")) if name.isdigit())


def stderr_lines(text):
    return [line for line in text.splitlines() if line.strip()]


@pytest.mark.slow
@pytest.mark.xdist_group("integrity")
@pytest.mark.parametrize("what", ["random bytes in a parameter chunk", "one flipped bit in a parameter",
                                  "one flipped bit in the replay"])
def test_damage_orbax_cannot_see_falls_back_with_one_line_and_ends_as_uninterrupted(runs, tmp_path, what):
    workdir = copy_of(runs, tmp_path)
    item = "arrays" if "replay" in what else "agent"
    # the toy's replay chunks are small: orbax may notice a flip there (a read error), or not
    noticed = damage(workdir, 4, item, "random" if "random" in what else "flip",
                     orbax_must_miss_it=item == "agent")
    run = cli(*CLI_SIX, f"--workdir={workdir}", env=ENV)
    out, err = run.communicate(timeout=600)
    assert run.returncode == 0, err
    lines = stderr_lines(err)
    assert len(lines) == 1 and lines[0].startswith("warning: checkpoint 4 in"), err
    assert "resumed from checkpoint 2" in lines[0]
    if not noticed:
        assert f"(the digest of {item}" in lines[0]
    assert os.listdir(os.path.join(workdir, "corrupt_checkpoints")) == ["4"]
    assert strip_times(read_metrics(workdir)) == strip_times(read_metrics(runs["uninterrupted"]))


@pytest.mark.xdist_group("integrity")
def test_truncated_files_are_caught_before_orbax_reads_them(runs, tmp_path, capfd):
    """Sizes are checked first, so orbax's readers never fail (and never leave its async
    machinery printing tracebacks); the warning names the file."""
    workdir = copy_of(runs, tmp_path)
    data_dir = os.path.join(workdir, "checkpoints", "4", "agent", "ocdbt.process_0", "d")
    victim = sorted(os.listdir(data_dir))[0]
    with open(os.path.join(data_dir, victim), "r+b") as f:
        f.truncate(10)
    capfd.readouterr()
    train_and_evaluate(six_iteration_config(), workdir)
    lines = stderr_lines(capfd.readouterr().err)
    assert len(lines) == 1 and f"(agent/ocdbt.process_0/d/{victim}: 10 bytes, the save wrote" in lines[0], lines
    assert strip_times(read_metrics(workdir)) == strip_times(read_metrics(runs["uninterrupted"]))


@pytest.mark.xdist_group("integrity")
def test_a_step_without_its_digest_is_not_trusted(runs, tmp_path, capfd):
    """A kill between orbax's commit and the digest leaves a step without one: the previous one is used."""
    workdir = copy_of(runs, tmp_path)
    os.remove(os.path.join(workdir, "checkpoints", "4", DIGEST_FILE))
    capfd.readouterr()
    train_and_evaluate(six_iteration_config(), workdir)
    lines = stderr_lines(capfd.readouterr().err)
    assert len(lines) == 1 and f"checkpoint 4 in {os.path.join(workdir, 'checkpoints')} does not restore (it has " \
                                f"no {DIGEST_FILE}" in lines[0], lines
    assert strip_times(read_metrics(workdir)) == strip_times(read_metrics(runs["uninterrupted"]))


@pytest.mark.xdist_group("integrity")
def test_non_finite_right_after_a_restore_blames_the_checkpoint_not_the_learning_rate(runs, tmp_path):
    """Checkpoints written before digests existed restore unverified; a damaged one then diverges
    in the first iteration (as found by a user: 4 KiB of random bytes in a chunk), and the
    message names that checkpoint."""
    workdir = copy_of(runs, tmp_path)
    for step in steps(workdir):
        os.remove(os.path.join(workdir, "checkpoints", step, DIGEST_FILE))  # as written before digests
    damage(workdir, 4, "agent", "random")  # garbage values, as in the report that found it
    with pytest.raises(TrainingError) as error:
        train_and_evaluate(six_iteration_config(), workdir)
    message = str(error.value)
    assert "the first after restoring checkpoint 4 (it had no digest to check): that checkpoint may be damaged" \
        in message and os.path.join(workdir, "checkpoints", "4") in message
    assert "learning rate" not in message and "good" not in message


@pytest.mark.xdist_group("integrity")
def test_every_checkpoint_damaged_refuses_before_writing_anything(runs, tmp_path):
    workdir = copy_of(runs, tmp_path)
    for step in steps(workdir):
        with open(os.path.join(workdir, "checkpoints", step, DIGEST_FILE), "w") as f:
            json.dump({"format": 1, "files": {}, "agent": {}, "arrays": {}, "meta": ""}, f)
    before = {name: (os.stat(os.path.join(workdir, name)).st_mtime_ns, open(os.path.join(workdir, name), "rb").read())
              for name in ("config.json", "metrics.jsonl", "scalars.jsonl")}
    with pytest.raises(TrainingError, match=r"no checkpoint in .* restores \(4: .*; 2: .*\); the run's"):
        train_and_evaluate(six_iteration_config(), workdir)
    after = {name: (os.stat(os.path.join(workdir, name)).st_mtime_ns, open(os.path.join(workdir, name), "rb").read())
             for name in before}
    assert after == before
    assert not os.path.exists(os.path.join(workdir, "corrupt_checkpoints"))


def _mount_tmpfs(path, size):
    os.makedirs(path)
    try:
        subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", path], check=True,
                       capture_output=True)
    except (OSError, subprocess.CalledProcessError) as e:
        pytest.skip(f"a small tmpfs is needed to fill a disk and this user cannot mount one ({e})")


@pytest.mark.slow
@pytest.mark.xdist_group("integrity")
def test_a_full_disk_ends_in_one_line_and_a_copy_resumes(runs, tmp_path):
    small = str(tmp_path / "small")
    _mount_tmpfs(small, "3m")  # room for the first checkpoint (about 2 MB), not the second
    try:
        workdir = os.path.join(small, "run")
        run = cli(*CLI_SIX, f"--workdir={workdir}", env=ENV)
        _, err = run.communicate(timeout=600)
        lines = stderr_lines(err)
        assert run.returncode == 2 and len(lines) == 1, err
        assert lines[0].startswith(f"error: no space left for checkpoint 2 in {os.path.join(workdir, 'checkpoints')}: "
                                   f"it needs about ") and "(checkpoint 1 is kept)" in lines[0]
        copy = str(tmp_path / "copy")
        shutil.copytree(workdir, copy)
    finally:
        subprocess.run(["umount", small], check=False)
    run = cli(*CLI_SIX, f"--workdir={copy}", env=ENV)
    _, err = run.communicate(timeout=600)
    assert run.returncode == 0 and stderr_lines(err) == [], err
    assert strip_times(read_metrics(copy)) == strip_times(read_metrics(runs["uninterrupted"]))


def test_format_1_digests_written_before_xxh3_are_still_verified(tmp_path):
    """Checkpoints of format 1 (SHA-256 per leaf) restore verified; a leaf that differs is caught."""
    import hashlib

    from vitamin_jax.checkpointing import tree_digest

    agent = {"w": np.arange(6, dtype=np.float32).reshape(2, 3), "step": np.array([7], np.int32)}
    arrays = {"replay": {"0": {"rewards": np.linspace(0, 1, 5, dtype=np.float32)}}}
    checkpointer = Checkpointer(str(tmp_path / "checkpoints"), keep=3)
    try:
        checkpointer.save(1, agent, arrays, {"loop": 1})
        path = os.path.join(checkpointer.step_dir(1), DIGEST_FILE)
        record = json.load(open(path))
        assert record["format"] == 2 and record["agent"] == tree_digest(agent)
        record.update(format=1, agent=tree_digest(agent, hashlib.sha256), arrays=tree_digest(arrays, hashlib.sha256))
        json.dump(record, open(path, "w"))
        restored, restored_arrays, meta = checkpointer.restore(1, agent)
        np.testing.assert_array_equal(restored["w"], agent["w"])
        assert meta == {"loop": 1}
        record["agent"]["['w']"] = hashlib.sha256(b"something else").hexdigest()
        json.dump(record, open(path, "w"))
        with pytest.raises(DamagedCheckpoint, match=r"the digest of agent\['w'\] does not match"):
            checkpointer.restore(1, agent)
    finally:
        checkpointer.close()
