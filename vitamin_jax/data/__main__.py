"""Command line for datasets.

  python -m vitamin_jax.data generate --env hopper --policy random --num-steps 1000000
  python -m vitamin_jax.data summary vitamin/hopper/random-v0   (or a .hdf5 file)
  python -m vitamin_jax.data summary D4RL/pointmaze/umaze-v2 --env maze2d-umaze   (as the preset sees it)

Expected failures (missing dataset, unknown env, existing id) print one line and exit 2.
"""

from __future__ import annotations

import argparse
import signal
import sys
import time
from typing import Optional, Sequence

from vitamin_jax.data.generate import generate_dataset
from vitamin_jax.data.loading import load_hdf5, load_minari, minari_root
from vitamin_jax.data.preprocess import summarize
from vitamin_jax.data.preset_summary import preset_summary
from vitamin_jax.data.validation import check_finite
from vitamin_jax.errors import DatasetError, UnknownDatasetError


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m vitamin_jax.data", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    gen = sub.add_parser("generate", help="roll a policy and write a local Minari dataset")
    gen.add_argument("--env", required=True, help="env prefix (hopper) or dataset name (hopper-random)")
    gen.add_argument("--policy", default="random", help="'random' or a checkpoint directory of ours")
    gen.add_argument("--num-steps", type=int, default=1_000_000, help="transitions to collect (exact)")
    gen.add_argument("--dataset-id", default=None, help="default vitamin/<env>/random-v0 (policy-v0 for checkpoints)")
    gen.add_argument("--seed", type=int, default=0)
    gen.add_argument("--noise", type=float, default=0.0, help="Gaussian action noise of a checkpoint policy")
    gen.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    summ = sub.add_parser("summary", help="print counts, returns and lengths of a dataset")
    summ.add_argument("dataset", help="a Minari dataset id in the local Minari directory, or a .hdf5 file")
    summ.add_argument("--env", default=None, help="a registry dataset name (maze2d-umaze): the dataset as its preset "
                                                  "sees it, after D4RL's relabelling, with the success fraction")
    return parser


def _terminate(signum, frame):  # turn SIGTERM into an exception so temporary files get removed
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = _parser().parse_args(argv)
    signal.signal(signal.SIGTERM, _terminate)
    try:
        if args.command == "generate":
            t0 = time.time()
            dataset_id = generate_dataset(args.env, policy=args.policy, num_steps=args.num_steps,
                                          dataset_id=args.dataset_id, seed=args.seed, noise=args.noise,
                                          progress=not args.no_progress)
            print(f"wrote Minari dataset {dataset_id} ({args.num_steps} transitions) to "
                  f"{minari_root() / dataset_id} in {time.time() - t0:.0f} s")
        elif args.env:
            print("\n".join(preset_summary(args.dataset, args.env)))
        else:
            if args.dataset.endswith((".hdf5", ".h5")):
                trajs = load_hdf5(args.dataset)
            else:
                trajs = load_minari(args.dataset)
            check_finite(trajs, args.dataset)
            print(f"{args.dataset}: {summarize(trajs)}")
    except (DatasetError, UnknownDatasetError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        note = "; no dataset was written" if args.command == "generate" else ""
        print(f"interrupted{note}", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
