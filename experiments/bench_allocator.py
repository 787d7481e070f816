"""The paper-size update on CPU under glibc malloc vs tcmalloc, side by side in one run.

A profile of the paper-size TD3+ODT update on the 2-core CPU (`perf record`, jax 0.10.2)
spends about 17% of its samples in the kernel zeroing fresh pages (`clear_page_erms`) and
5% more in page-fault handling, against 31% in the dot kernels: every update allocates
gigabytes of temporaries, glibc hands large blocks back to the OS on free, and the next
update faults them in again. tcmalloc keeps freed memory for reuse. The allocator is chosen
at process start (LD_PRELOAD), so each case runs in its own subprocess; the code is the same.
Timings are medians of `--reps` updates after one warm-up update (bench_step.bench_update).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

from vitamin_jax.allocator import find_tcmalloc  # noqa: E402

CHILD = """
import json, sys
sys.path.insert(0, {here!r})
import bench_step
print(json.dumps(bench_step.bench_update({algo!r}, {size!r}, {batch}, {reps})))
"""


def run_case(preload: str, algo: str, size: str, batch: int, reps: int) -> dict:
    env = {**os.environ, "JAX_PLATFORMS": "cpu"}
    env.pop("LD_PRELOAD", None)
    if preload:
        env["LD_PRELOAD"] = preload
    code = CHILD.format(here=HERE, algo=algo, size=size, batch=batch, reps=reps)
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--algo", default="td3_odt")
    parser.add_argument("--sizes", default="default,small")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--reps", type=int, default=5, help="timed updates per case (after one warm-up)")
    parser.add_argument("--tcmalloc", default="", help="path of libtcmalloc (default: the Debian package's)")
    parser.add_argument("--json", default="")
    args = parser.parse_args()
    tcmalloc = args.tcmalloc or find_tcmalloc()
    if not tcmalloc:
        sys.exit("no libtcmalloc found: install it (Debian/Ubuntu: apt-get install libtcmalloc-minimal4) or pass --tcmalloc")
    rows = []
    for size in args.sizes.split(","):
        reps = args.reps if size == "default" else max(args.reps, 20)
        base = run_case("", args.algo, size, args.batch_size, reps)
        fast = run_case(tcmalloc, args.algo, size, args.batch_size, reps)
        rows.append({"size": size, "glibc": base, "tcmalloc": fast, "speedup": base["ms_median"] / fast["ms_median"]})
    print(f"# {args.algo}, batch {args.batch_size}, CPU, {os.cpu_count()} cores; tcmalloc: {tcmalloc}")
    print("| size | glibc ms/update (min-max) | tcmalloc ms/update (min-max) | speedup | TFLOP/s glibc / tcmalloc |")
    print("|---|---|---|---|---|")
    for r in rows:
        g, t = r["glibc"], r["tcmalloc"]
        print(f"| {r['size']} | {g['ms_median']:.0f} ({g['ms_min']:.0f}-{g['ms_max']:.0f}) | "
              f"{t['ms_median']:.0f} ({t['ms_min']:.0f}-{t['ms_max']:.0f}) | {r['speedup']:.2f}x | "
              f"{g['tflop_per_s']:.3f} / {t['tflop_per_s']:.3f} |")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
