"""`python -m vitamin_jax.report DIR`: the paper-style table, rliable aggregates and learning curves of runs.

Why: a sweep (or any folder of runs, or one run) is judged the way the paper reports it,
`final(+increase)` per (dataset, algo) beside the paper's cell (docs/reference.md#reading-the-result-tables),
plus the aggregate metrics with stratified bootstrap CIs of Agarwal et al.'s rliable, which a
5-seed table alone cannot give. It reads each run's own config.json and metrics.jsonl (the
layout of vitamin_jax/logger.py and vitamin_jax/train.py), never a sweep's bookkeeping, so
it works on partial sweeps, hand-made folders and single runs alike.

Writes DIR/report.md, DIR/report.json and DIR/report_*.png, and prints the table.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Optional, Sequence

from vitamin_jax.report.build import REPORT_JSON, REPORT_MD, build_report
from vitamin_jax.report.discovery import ReportError


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m vitamin_jax.report", description=__doc__.splitlines()[0])
    parser.add_argument("dir", help="a sweep, any folder of runs, or one run dir")
    parser.add_argument("--seed", type=int, default=0, help="seed of every bootstrap (default 0)")
    parser.add_argument("--reps", type=int, default=2000, help="bootstrap resamples (default 2000)")
    return parser.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    if args.reps < 1:
        print("report: error: --reps must be positive", file=sys.stderr)
        return 2
    try:
        report = build_report(args.dir, seed=args.seed, reps=args.reps)
    except ReportError as e:
        print(f"report: error: {e}", file=sys.stderr)
        return 1
    print(report["tables_markdown"])
    if report["time_breakdown_markdown"]:
        print("Time breakdown (mean seconds per iteration):\n" + report["time_breakdown_markdown"] + "\n")
    print(f"wrote {os.path.join(args.dir, REPORT_MD)}, {REPORT_JSON} and {len(report['figures'])} PNGs")
    return 0
