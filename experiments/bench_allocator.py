"""The paper-size update on CPU: allocators, glibc tunables, XLA flags and the pruned actor, side by side in one run.

A profile of the paper-size TD3+ODT update on the 2-core CPU (`perf record`, jax 0.10.2)
spends about 17% of its samples in the kernel zeroing fresh pages (`clear_page_erms`) and
5% more in page-fault handling, against 31% in the dot kernels: every update allocates
gigabytes of temporaries, glibc hands large blocks back to the OS on free, and the next
update faults them in again. tcmalloc keeps freed memory for reuse. The allocator is chosen
at process start (LD_PRELOAD), so each case runs in its own subprocess; the code is the same.
Timings are medians of `--reps` updates after one warm-up update (bench_step.bench_update).
"every token" cases time the actor as it was before its last block computed only the state
tokens the heads read (vitamin_jax/networks/transformer.py: the same actions, fewer FLOPs);
the first case, glibc defaults and every token, is today's main before these changes on a
fresh machine. The actor checksum (sum of |params| after the timed updates) tells whether a
case changed the arithmetic.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

from vitamin_jax.allocator import GLIBC_TUNED, GLIBC_WITHOUT_THP, find_tcmalloc  # noqa: E402

CHILD = """
import json, resource, sys
sys.path.insert(0, {here!r})
import bench_step
result = bench_step.bench_update({algo!r}, {size!r}, {batch}, {reps}, prune_last_block={prune!r})
result["minor_faults"] = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
print(json.dumps(result))
"""


def run_case(extra_env: dict, prune: bool, algo: str, size: str, batch: int, reps: int) -> dict:
    env = {**os.environ, "JAX_PLATFORMS": "cpu"}
    for name in ("LD_PRELOAD", "GLIBC_TUNABLES", "XLA_FLAGS"):
        env.pop(name, None)
    env.update(extra_env)
    code = CHILD.format(here=HERE, algo=algo, size=size, batch=batch, reps=reps, prune=prune)
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def cases_to_run(tcmalloc: str, xla_flags: list, only: list) -> dict:
    """name: (environment, the actor's last block pruned to the state tokens); unpruned cases time the code before."""
    cases = {"glibc, every token (before)": ({}, False),
             "glibc tuned, no THP, every token": ({"GLIBC_TUNABLES": GLIBC_WITHOUT_THP}, False),
             "glibc tuned, every token": ({"GLIBC_TUNABLES": GLIBC_TUNED}, False),
             "glibc tuned, last block pruned (the default install)": ({"GLIBC_TUNABLES": GLIBC_TUNED}, True)}
    if tcmalloc:
        cases["tcmalloc, last block pruned"] = ({"LD_PRELOAD": tcmalloc}, True)
    for flags in xla_flags:
        cases[f"glibc tuned, last block pruned, XLA_FLAGS={flags}"] = (
            {"GLIBC_TUNABLES": GLIBC_TUNED, "XLA_FLAGS": flags}, True)
    baseline = next(iter(cases))  # always kept: the ratios are against it
    return {k: v for k, v in cases.items() if k == baseline or not only or any(o in k for o in only)}


def merged(rounds: list) -> dict:
    """One case's results over rounds: every timed update pooled; faults averaged."""
    times = np.concatenate([r["times_ms"] for r in rounds])
    result = dict(rounds[0])
    result.update(ms_median=float(np.median(times)), ms_min=float(times.min()), ms_max=float(times.max()),
                  times_ms=times.tolist(), minor_faults=int(np.mean([r["minor_faults"] for r in rounds])),
                  tflop_per_s=result["gflop_per_update"] / float(np.median(times)), rounds=len(rounds))
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--algo", default="td3_odt")
    parser.add_argument("--sizes", default="default,small")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--reps", type=int, default=5, help="timed updates per case and round (after one warm-up)")
    parser.add_argument("--rounds", type=int, default=1, help="run every case this many times, interleaved "
                        "(A B C A B C ...), and pool the timings: drifts of a shared machine hit every case alike")
    parser.add_argument("--only", action="append", default=[], help="run only the cases whose name contains "
                        "this (repeatable; the first case, the baseline, always runs)")
    parser.add_argument("--tcmalloc", default="", help="path of libtcmalloc (default: the Debian package's)")
    parser.add_argument("--xla-flags", action="append", default=[],
                        help="also time glibc tuned with these XLA_FLAGS (repeatable; one case each)")
    parser.add_argument("--json", default="")
    args = parser.parse_args()
    tcmalloc = args.tcmalloc or find_tcmalloc()
    cases = cases_to_run(tcmalloc, args.xla_flags, args.only)
    baseline = next(iter(cases))
    rows = []
    for size in args.sizes.split(","):
        reps = args.reps if size == "default" else max(args.reps, 20)
        runs = {name: [] for name in cases}
        for _ in range(args.rounds):
            for name, (env, prune) in cases.items():
                runs[name].append(run_case(env, prune, args.algo, size, args.batch_size, reps))
        rows.append({"size": size, **{name: merged(r) for name, r in runs.items()}})
    print(f"# {args.algo}, batch {args.batch_size}, CPU, {os.cpu_count()} cores, {args.rounds} round(s) of "
          f"{args.reps} updates per case; glibc tuned: GLIBC_TUNABLES={GLIBC_TUNED}; "
          f"tcmalloc: {tcmalloc or 'not installed'}")
    print("| size | case | ms/update median (min-max) | vs the first | TFLOP/s | minor page faults | actor checksum |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        for name in cases:
            c = r[name]
            print(f"| {r['size']} | {name} | {c['ms_median']:.0f} ({c['ms_min']:.0f}-{c['ms_max']:.0f}) | "
                  f"{r[baseline]['ms_median'] / c['ms_median']:.2f}x | {c['tflop_per_s']:.3f} | {c['minor_faults']:,} | "
                  f"{c['actor_checksum']:.6f} |")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
