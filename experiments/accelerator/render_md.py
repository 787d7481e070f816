"""accelerator.md from accelerator.json: one table per part, the peak used, the projection and its formula."""

from __future__ import annotations

import re

from profiles import PAPER
from vitamin_jax.timing import SECTIONS


def fmt(value) -> str:
    if value is None:
        return "–"
    if isinstance(value, bool) or not isinstance(value, float):
        return str(value)
    size = abs(value)
    if size >= 1000:
        return f"{value:,.0f}"
    if size >= 100:
        return f"{value:.0f}"
    if size >= 10:
        return f"{value:.1f}"
    return f"{value:.3g}"


def table(headers: list, rows: list) -> list:
    if not rows:
        return []
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    return lines + ["| " + " | ".join(fmt(v) for v in row) + " |" for row in rows]


def size_label(row: dict) -> str:
    name = "default (paper)" if row["size"] == PAPER else row["size"]
    return f"{name}: d {row['embed_dim']}, {plural(row['n_layer'], 'layer')}, {plural(row['n_head'], 'head')}, " \
           f"K {row['context_len']}"


def plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def status(part: dict) -> list:
    """A line for a part that did not finish (its finished rows still follow)."""
    if part.get("status") == "ok":
        return []
    return [f"_Skipped: {part.get('reason', 'not run')}._" + (" Rows finished before that:" if part.get("rows") else ""),
            ""]


def render(doc: dict) -> str:
    parts = doc["parts"]
    env = parts.get("environment", {})
    out = ["# Accelerator benchmark", ""]
    if env.get("status") == "ok":
        out.append(f"{env['device_kind']} ({env['backend']}, {env['device_count']} device(s)), jax {env['jax']}, "
                   f"jaxlib {env['jaxlib']}, Python {env['python']}.")
    else:
        out += status(env)
    out += [f"Profile `{doc['profile']}` ({doc['platform']}), {doc['date']}, {fmt(doc['wall_s'])} s wall time "
            f"(total budget {fmt(float(doc['total_budget_s']))} s).", ""]
    peak = env.get("peak")
    if peak:
        out += [f"Peak used for the fraction of peak (dense, NVIDIA's datasheet for {peak['matched']}): bf16 "
                f"{fmt(peak['bf16'])}, TF32 {fmt(peak['tf32'])}, fp32 {fmt(peak['fp32'])} TFLOP/s. float32 rows are "
                f"measured against TF32 (JAX's default matmul precision, here `{env['default_matmul_precision']}`, "
                f"lets XLA run float32 dots as TF32), bfloat16 rows against bf16. FLOP per update come from XLA's "
                f"cost analysis of the compiled update.", ""]
    elif env.get("status") == "ok":
        out += [f"No peak is known for `{env['device_kind']}` ({env['backend']}): the fraction of peak is null.", ""]

    out += ["## Compiled update", "", "One jitted update (one actor update; TD3+ODT's holds two critic steps); "
            "median of the timed calls after a warm-up.", ""]
    part = parts.get("update", {})
    out += status(part) + table(
        ["algo", "size", "batch", "compute", "compile s", "ms/update", "updates/s", "GFLOP/update", "TFLOP/s",
         "fraction of peak"],
        [[r["algo"], size_label(r), r["batch_size"], r["compute_dtype"], r["compile_s"], r["ms_median"],
          r["updates_per_s"], r["gflop_per_update"], r["tflop_per_s"], r["fraction_of_peak"]]
         for r in part.get("rows", [])]) + [""]

    out += ["## Scan vs dispatch", ""]
    part = parts.get("scan", {})
    out += status(part) + table(
        ["algo", "size", "batch", "updates", "ms/update, one dispatch each", "ms/update, one lax.scan", "speedup"],
        [[r["algo"], size_label(r), r["batch_size"], r["num_updates"], r["ms_per_update_dispatch"],
          r["ms_per_update_scan"], r["speedup"]] for r in part.get("rows", [])]) + [""]

    out += ["## Vmapped seeds", "", "Total updates/s of S seeds vmapped in one call against one seed's updates/s "
            "(ratio: S x one seed's time / the vmapped call's time).", ""]
    part = parts.get("seeds", {})
    out += status(part) + table(
        ["algo", "size", "batch", "seeds", "updates", "1 seed updates/s", "vmapped total updates/s", "ratio"],
        [[r["algo"], size_label(r), r["batch_size"], r["num_seeds"], r["num_updates"], r["separate_updates_per_s"],
          r["vmapped_updates_per_s"], r["ratio"]] for r in part.get("rows", [])]) + [""]

    out += ["## Rollout", "", "Lockstep halfcheetah rollouts, the second collection call: env steps/s = envs x 1000 / "
            "(action ms + env ms per lockstep step). Compiles per call: first collection, second, first and second "
            "evaluation.", ""]
    part = parts.get("rollout", {})
    out += status(part) + table(
        ["algo", "size", "envs", "steps", "env steps/s", "action ms/step", "eval action ms/step", "env ms/step",
         "action share", "compiles"],
        [[r["algo"], size_label(r), r["num_envs"], r["steps"], r["env_steps_per_s"], r["act_ms_per_step"],
          r["eval_act_ms_per_step"], r["env_ms_per_step"], r["act_share"],
          f"{r['compiles_first']}, {r['compiles_second']}, {r['compiles_eval']}, {r['compiles_eval2']}"]
         for r in part.get("rows", [])]) + [""]

    out += ["## One online iteration", ""]
    part = parts.get("iteration", {})
    out += status(part)
    if "iterations" in part:
        c = part["config"]
        out += [f"`train_and_evaluate` on {part['preset']} with a generated {c['dataset_steps']}-step dataset: "
                f"d {c['embed_dim']}, {plural(c['n_layer'], 'layer')}, {plural(c['n_head'], 'head')}, K {c['context_len']}, batch "
                f"{c['batch_size']}; {c['pretrain_updates']} pretraining updates, then two online iterations of "
                f"{c['online_updates']} updates after >= {c['minimum_sapairs_per_iter']} transitions each (the "
                f"first compiles the online rollout step and update; the second also evaluates "
                f"{c['num_eval_episodes']} episodes and checkpoints). Seconds per `time/*` section; dataset "
                f"generation {fmt(part['generate_s'])} s, train_and_evaluate {fmt(part['train_and_evaluate_s'])} s.",
                ""]
        out += table(["iteration", "phase", "transitions", *SECTIONS, "total s"],
                     [[r["global_iteration"], r["phase"], r.get("transitions"),
                       *(r["sections"].get(s) for s in SECTIONS), r["total_s"]] for r in part["iterations"]])
        out.append("")

    out += ["## Projected 500K-transition cell", ""]
    proj = doc["projection"]
    if proj["status"] != "ok":
        return _join(out + [f"_Skipped: {proj['reason']}._"])
    cell = proj["inputs"]["cell"]
    out += [f"hopper-random, {cell['online_transitions']:,} online transitions, {cell['online_updates']} updates per "
            f"online iteration, {cell['pretrain_updates']} pretraining updates, evaluation every "
            f"{cell['eval_interval']} and a checkpoint every {cell['checkpoint_every_iters']} iterations, from the "
            f"steady (second) online iteration ({fmt(proj['inputs']['transitions_per_iteration'])} transitions, "
            f"{fmt(1e3 * proj['inputs']['seconds_per_update'])} ms per update):", "", "```", proj["formula"], "```",
            ""]
    one, group = proj["one_seed"], proj["vmapped_seeds"]
    rows = [["1 seed", one["iterations"], one["per_iteration_s"], one["pretrain_s"], one["total_h"]]]
    if group["status"] == "ok":
        s = group["num_seeds"]
        rows += [[f"{s} vmapped seeds", group["iterations"], group["per_iteration_s"], group["pretrain_s"],
                  group["total_h"]],
                 [f"{s} separate 1-seed runs", None, None, None, group["separate_runs_total_s"] / 3600]]
    out += table(["run", "iterations", "s per iteration", "pretraining s", "total h"], rows)
    if group["status"] == "ok":
        i = proj["inputs"]
        out += ["", f"S = {group['num_seeds']}: updates x {fmt(i['update_scale'])} (S / ratio, ratio {fmt(i['seeds_ratio'])}), "
                f"action selection x {fmt(i['act_scale'])} (act_ms({i['act_envs']}) / act_ms(1)); vmapped is "
                f"{fmt(group['speedup_over_separate_runs'])}x faster than separate runs."]
    else:
        out += ["", f"_Vmapped seeds skipped: {group['reason']}._"]
    return _join(out)


def _join(lines: list) -> str:
    """One blank line between blocks, one newline at the end."""
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip() + "\n"
