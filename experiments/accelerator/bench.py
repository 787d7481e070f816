"""Runs every part in its own process under its own time budget, then writes OUT/accelerator.json
and OUT/accelerator.md and prints the markdown.

The files are written whatever the parts do: a part that overruns its budget (killed), fails,
or finds the total budget spent is recorded as skipped, with the reason and any rows it
finished. Exit status 0 when every part finished, 1 when some were skipped. run.sh calls this
after making the packages importable; each part's output is in OUT/logs/PART.log.
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(1, os.path.dirname(os.path.dirname(HERE)))  # vitamin_jax, without run.sh's PYTHONPATH too

import projection  # noqa: E402
import render_md  # noqa: E402
from profiles import PARTS, PROFILES  # noqa: E402

RESERVE_S = 3.0  # kept back from the total for writing the files


def run_part(name: str, profile: str, out: str, timeout: float) -> dict:
    """Run parts.py NAME in a new session (so a kill takes its children too) with a TMPDIR of its own,
    removed afterwards (a killed iteration part leaves no checkpoints behind); its record."""
    result_path = os.path.join(out, "parts", f"{name}.json")
    log_path = os.path.join(out, "logs", f"{name}.log")
    if os.path.exists(result_path):
        os.remove(result_path)
    scratch = tempfile.mkdtemp(prefix=f"vitamin-accelerator-{name}-")
    start = time.perf_counter()
    try:
        with open(log_path, "w") as log:
            proc = subprocess.Popen([sys.executable, os.path.join(HERE, "parts.py"), name, profile, result_path],
                                    stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                                    env={**os.environ, "TMPDIR": scratch})
            try:
                code = proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
                code = None
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    seconds = time.perf_counter() - start
    record = {"budget_s": timeout, "seconds": seconds}
    if os.path.exists(result_path):
        with open(result_path) as f:
            record.update(json.load(f))
    if code == 0:
        return {"status": "ok", **record}
    if code is None:
        reason = f"over its {timeout:g} s budget (killed after {seconds:.1f} s)"
    else:
        reason = f"exit code {code}: {last_line(log_path) or 'no output'}"
    return {"status": "skipped", "reason": reason, **record}


def last_line(path: str) -> str:
    with open(path, errors="replace") as f:
        lines = [line.strip() for line in f if line.strip()]
    return lines[-1] if lines else ""


def finite(value):
    """NaN and infinities as null, so the JSON stays standard."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite(v) for v in value]
    return value


def parse_budgets(items: list) -> dict:
    budgets = {}
    for item in items:
        name, sep, seconds = item.partition("=")
        if not sep or name not in PARTS:
            raise SystemExit(f"bench.py: error: --budget takes PART=SECONDS with PART one of {', '.join(PARTS)}; "
                             f"got {item!r}")
        budgets[name] = float(seconds)
    return budgets


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", choices=sorted(PROFILES), default="gpu")
    parser.add_argument("--out", required=True)
    parser.add_argument("--parts", default=",".join(PARTS), help=f"comma-separated subset of {','.join(PARTS)}")
    parser.add_argument("--budget", action="append", default=[], metavar="PART=SECONDS",
                        help="override one part's time budget (repeatable)")
    parser.add_argument("--total-s", type=float, default=None, help="all parts together (default: the profile's)")
    args = parser.parse_args(argv)
    profile = PROFILES[args.profile]
    selected = [p for p in args.parts.split(",") if p]
    unknown = sorted(set(selected) - set(PARTS))
    if unknown:
        parser.error(f"unknown parts {', '.join(unknown)}; choose from {', '.join(PARTS)}")
    budgets = {**profile.budgets, **parse_budgets(args.budget)}
    total_s = args.total_s if args.total_s is not None else profile.total_s
    for sub in ("parts", "logs"):
        os.makedirs(os.path.join(args.out, sub), exist_ok=True)

    started = time.perf_counter()
    deadline = started + total_s - RESERVE_S
    parts = {}
    for name in PARTS:
        left = deadline - time.perf_counter()
        if name not in selected:
            parts[name] = {"status": "skipped", "reason": "not selected (--parts)"}
        elif left <= 1.0:
            parts[name] = {"status": "skipped", "reason": f"the {total_s:g} s total budget was spent"}
        else:
            print(f"[{time.perf_counter() - started:6.1f} s] {name} (budget {min(budgets[name], left):.4g} s)",
                  flush=True)
            parts[name] = run_part(name, profile.name, args.out, min(budgets[name], left))
            print(f"[{time.perf_counter() - started:6.1f} s] {name}: {parts[name]['status']}"
                  + (f" ({parts[name]['reason']})" if parts[name]["status"] != "ok" else ""), flush=True)
    doc = {"profile": profile.name, "platform": profile.platform,
           "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
           "total_budget_s": total_s, "budgets_s": budgets, "parts": parts, "projection": projection.project(parts)}
    doc["wall_s"] = time.perf_counter() - started
    doc = finite(doc)
    with open(os.path.join(args.out, "accelerator.json"), "w") as f:
        json.dump(doc, f, indent=2)
    markdown = render_md.render(doc)
    with open(os.path.join(args.out, "accelerator.md"), "w") as f:
        f.write(markdown)
    print(markdown)
    skipped = [name for name, part in parts.items() if part["status"] != "ok"]
    if skipped:
        print(f"{len(skipped)} of {len(PARTS)} parts skipped: {', '.join(skipped)}; "
              f"wrote {os.path.join(args.out, 'accelerator.json')}", file=sys.stderr)
    return 1 if skipped else 0


if __name__ == "__main__":
    sys.exit(main())
