"""The projected wall time of a 500K-transition hopper-random cell, from the parts' own numbers.

The steady online iteration (the second: nothing left to compile) gives seconds per section
and the transitions it collected; its updates are rescaled to the cell's updates per
iteration, its evaluation and checkpoint to once per eval_interval and every_iters; the
other sections (env steps, replay copy, logging: "rest") are taken as they are. A cell
is pretraining (the cell's pretraining updates at the same seconds per update, plus one
evaluation) and cell transitions / transitions per iteration such iterations. For S vmapped
seeds: the updates take S / ratio times as long (ratio: the seeds part's vmapped total
updates/s over one seed's), action selection act_ms(N) / act_ms(1) times (the rollout part,
td3_odt at paper size, N the smallest measured environment count >= S: one batched call
steps all seeds), and the rest, evaluation and checkpoint S times: host work done seed after
seed.
"""

from __future__ import annotations

from typing import Optional

from profiles import PAPER

FORMULA = """\
u = updates / measured updates per iteration                       (seconds per update)
rest = every other time/* section (rollout_env + replay_transfer + logging)
iteration_1 = rest + rollout_act + u * U + evaluation / eval_interval + checkpoint / every_iters
cell_1 = (cell transitions / transitions per iteration) * iteration_1 + u * P + evaluation
iteration_S = S * (rest + evaluation / eval_interval + checkpoint / every_iters)
              + (act_ms(N) / act_ms(1)) * rollout_act + (S / ratio) * u * U
cell_S = (cell transitions / transitions per iteration) * iteration_S + (S / ratio) * u * P + S * evaluation
(U, P: the cell's updates per online iteration and pretraining updates)"""
RESCALED = ("rollout_act", "updates", "evaluation", "checkpoint")


def _ok(parts: dict, name: str) -> Optional[dict]:
    part = parts.get(name) or {}
    return part if part.get("status") == "ok" else None


def project(parts: dict) -> dict:
    """{'status', 'one_seed', 'vmapped_seeds', 'inputs'}; 'skipped' with a reason when inputs are missing."""
    it = _ok(parts, "iteration")
    if it is None:
        return {"status": "skipped", "reason": "the iteration part did not finish"}
    steady = [row for row in it["iterations"] if row["phase"] == "online"][-1]
    s = {**dict.fromkeys(RESCALED, 0.0), **steady["sections"]}
    cell = it["cell"]
    u = s["updates"] / it["config"]["online_updates"]
    iterations = cell["online_transitions"] / steady["transitions"]
    periodic = s["evaluation"] / cell["eval_interval"] + s["checkpoint"] / cell["checkpoint_every_iters"]
    host = sum(v for k, v in s.items() if k not in RESCALED) + periodic
    per_iteration = host + s["rollout_act"] + u * cell["online_updates"]
    one = _totals(iterations, per_iteration, u * cell["pretrain_updates"] + s["evaluation"])
    out = {"status": "ok", "formula": FORMULA, "one_seed": one,
           "inputs": {"sections": s, "transitions_per_iteration": steady["transitions"],
                      "seconds_per_update": u, "cell": cell}}

    seeds, roll = _ok(parts, "seeds"), _ok(parts, "rollout")
    if seeds is None or roll is None:
        missing = " and ".join(name for name, p in (("seeds", seeds), ("rollout", roll)) if p is None)
        out["vmapped_seeds"] = {"status": "skipped", "reason": f"the {missing} part did not finish"}
        return out
    row = seeds["rows"][0]
    num_seeds, ratio = row["num_seeds"], row["ratio"]
    act = {r["num_envs"]: r["act_ms_per_step"] for r in roll["rows"] if r["algo"] == "td3_odt" and r["size"] == PAPER}
    wide = [n for n in act if n >= num_seeds]
    if 1 not in act or not wide:
        out["vmapped_seeds"] = {"status": "skipped", "reason": f"no rollout rows for 1 and >= {num_seeds} environments"}
        return out
    envs = min(wide)
    act_scale = act[envs] / act[1]
    update_scale = num_seeds / ratio
    per_iteration_s = num_seeds * host + act_scale * s["rollout_act"] + update_scale * u * cell["online_updates"]
    group = _totals(iterations, per_iteration_s,
                    update_scale * u * cell["pretrain_updates"] + num_seeds * s["evaluation"])
    out["vmapped_seeds"] = {"status": "ok", "num_seeds": num_seeds, **group,
                            "separate_runs_total_s": num_seeds * one["total_s"],
                            "speedup_over_separate_runs": num_seeds * one["total_s"] / group["total_s"]}
    out["inputs"].update(seeds_ratio=ratio, act_envs=envs, act_scale=act_scale, update_scale=update_scale)
    return out


def _totals(iterations: float, per_iteration: float, pretrain: float) -> dict:
    total = iterations * per_iteration + pretrain
    return {"iterations": iterations, "per_iteration_s": per_iteration, "pretrain_s": pretrain,
            "total_s": total, "total_h": total / 3600}
