"""What the checkpoint digest costs per save, at the demo size and at the paper size.

A save (vitamin_jax/checkpointing.py) is orbax writing the agent, the replay and the
metadata, then the digest sidecar: file sizes and a SHA-256 per array, computed on the host
after orbax has finished. This times whole saves of a real agent (one seed; d 64, 2 layers
for the demo, d 512, 4 layers, K 20 for the paper) with a replay of halfcheetah-sized
transitions (140K for the demo: 100K offline + 40K online; 1M for the paper: 1000
trajectories of 1000 steps): saves with the digest and saves with it stubbed out, interleaved
in one run, and the digest alone on the same trees. Usage:
    python experiments/bench_checkpoint.py [--reps 3] [--dir /tmp]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time

import jax
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from vitamin_jax.agent import Learner  # noqa: E402
from vitamin_jax.checkpointing import Checkpointer, _file_sizes  # noqa: E402
from vitamin_jax.configuration import load_config  # noqa: E402

STATE_DIM, ACT_DIM = 17, 6
SIZES = {"demo": ((64, 2, 4, 5), 140_000), "paper": ((512, 4, 4, 20), 1_000_000)}  # (d, L, H, K), transitions


def trees(size: str):
    (d, layers, heads, k), transitions = SIZES[size]
    c = load_config("configs/base.py")
    c.model.embed_dim, c.model.n_layer, c.model.n_head, c.model.context_len = d, layers, heads, k
    learner = Learner.from_config(c, STATE_DIM, ACT_DIM, critic_layer_norm=False)
    agent = jax.jit(jax.vmap(learner.init))(jax.random.split(jax.random.PRNGKey(0), 1))
    rng = np.random.default_rng(0)
    f32 = lambda *shape: rng.normal(size=shape).astype(np.float32)
    replay = {"observations": f32(transitions, STATE_DIM), "actions": f32(transitions, ACT_DIM),
              "rewards": f32(transitions), "next_observations": f32(transitions, STATE_DIM),
              "terminals": np.zeros(transitions, np.float32), "timeouts": np.zeros(transitions, np.float32)}
    arrays = {"replay": {"0": replay}, "state_mean": f32(STATE_DIM), "state_std": f32(STATE_DIM)}
    return agent, arrays


def nbytes(tree) -> int:
    return sum(np.asarray(x).nbytes for x in jax.tree.leaves(tree))


def bench(size: str, reps: int, root: str) -> dict:
    """Median seconds of saves with the digest and of the same saves with it stubbed out, interleaved."""
    import vitamin_jax.checkpointing as checkpointing

    agent, arrays = trees(size)
    directory = tempfile.mkdtemp(prefix=f"bench-checkpoint-{size}-", dir=root)
    checkpointer = Checkpointer(directory, keep=2)
    times = {"with": [], "without": []}
    real_digest = checkpointing.tree_digest
    try:
        checkpointer.save(0, agent, arrays, {"step": 0})  # warm-up: orbax's first save sets itself up
        for step in range(1, 2 * reps + 1):
            case = "with" if step % 2 else "without"
            checkpointing.tree_digest = real_digest if case == "with" else (lambda tree, hasher=None: {})
            start = time.perf_counter()
            checkpointer.save(step, agent, arrays, {"step": step})
            times[case].append(time.perf_counter() - start)
        start = time.perf_counter()
        real_digest(agent), real_digest(arrays), _file_sizes(checkpointer.step_dir(1))
        alone = time.perf_counter() - start
    finally:
        checkpointing.tree_digest = real_digest
        checkpointer.close()
        shutil.rmtree(directory, ignore_errors=True)
    full, bare = float(np.median(times["with"])), float(np.median(times["without"]))
    return {"size": size, "mib": (nbytes(agent) + nbytes(arrays)) / 2**20, "save_s": full, "bare_save_s": bare,
            "digest_alone_s": alone, "share": alone / full}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="demo,paper")
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--dir", default=None, help="where the checkpoints are written (default: the temp dir)")
    args = parser.parse_args()
    rows = [bench(size, args.reps, args.dir) for size in args.sizes.split(",")]
    print("| size | checkpoint MiB | save s, with digest | save s, digest stubbed | digest alone s | "
          "digest alone / save |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['size']} | {r['mib']:.0f} | {r['save_s']:.3f} | {r['bare_save_s']:.3f} | "
              f"{r['digest_alone_s']:.3f} | {100 * r['share']:.1f}% |")

if __name__ == "__main__":
    main()
