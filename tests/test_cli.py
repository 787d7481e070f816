"""The command line's bad inputs: one line on stderr, exit status 2, nothing written."""

import os
import subprocess
import sys

import pytest

from vitamin_jax.configuration import PROJECT_ROOT

TOY = os.path.join(PROJECT_ROOT, "configs", "toy.py")


@pytest.mark.parametrize("workdir", [True, False], ids=["workdir", "default-workdir"])
def test_stray_positional_arguments_are_one_line_and_exit_2(tmp_path, workdir):
    run_dir = tmp_path / "run"
    args = [f"--config={TOY}", *([f"--workdir={run_dir}"] if workdir else []), "stray", "more"]
    # cwd is empty: without --workdir the run would create runs/<name> there
    run = subprocess.run([sys.executable, "-m", "vitamin_jax.main", *args], cwd=tmp_path, text=True,
                         capture_output=True, timeout=300,
                         env={**os.environ, "JAX_PLATFORMS": "cpu", "VITAMIN_JAX_TCMALLOC": "0"})
    assert run.returncode == 2
    assert run.stderr.splitlines() == ["error: unexpected arguments: stray more"]
    assert run.stdout == ""
    assert os.listdir(tmp_path) == []  # no workdir, no runs/
