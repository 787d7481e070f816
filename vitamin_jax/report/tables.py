"""The paper-style results tables: one per family, cells `final(+increase)` beside the paper's."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from vitamin_jax.paper_results import PAPER_ROW, TABLES, paper_average
from vitamin_jax.report.cells import FAMILY_TITLES, ScoreCell, algo_order


def format_cell(cell: ScoreCell) -> str:
    """`final(+increase) n=S`, ' running' while a run of it is unfinished, then ' · paper <its cell>'."""
    if not cell.seeds:
        text = "no evaluation yet"
    else:
        text = f"{cell.mean('final'):.2f}({cell.mean('increase'):+.2f}) n={len(cell.seeds)}"
    if cell.running:
        text += " **running**"
    if cell.paper is not None:
        text += f" · paper {cell.paper}"
    return text


def results_tables(cells: Sequence[ScoreCell]) -> tuple[str, dict]:
    """One markdown table per family (rows datasets, columns algos) and the per-family averages."""
    lines, averages, cells_of = [], {}, {}
    for c in cells:
        cells_of.setdefault(c.family, []).append(c)
    for family, title in FAMILY_TITLES.items():
        family_cells = cells_of.get(family)
        if not family_cells:
            continue
        algos = algo_order(c.algo for c in family_cells)
        datasets = list(dict.fromkeys(c.dataset for c in family_cells))
        by_key = {(c.dataset, c.algo): c for c in family_cells}
        table = TABLES.get(family)
        if table is not None:
            title += f" (paper {table.title.split(':')[0]}, {table.online_transitions:,} online transitions)"
        lines += [f"### {title}", "", "| Dataset | " + " | ".join(algos) + " |", "|---" * (len(algos) + 1) + "|"]
        for d in datasets:
            row = PAPER_ROW.get(d)
            label = f"{d} ({row[1]})" if row else d
            lines.append(f"| {label} | " + " | ".join(format_cell(by_key[(d, a)]) if (d, a) in by_key else ""
                                                     for a in algos) + " |")
        average_cells = []
        for a in algos:
            done = [by_key[(d, a)] for d in datasets if (d, a) in by_key and by_key[(d, a)].seeds]
            if not done:
                average_cells.append("")
                continue
            final = float(np.mean([c.mean("final") for c in done]))
            increase = float(np.mean([c.mean("increase") for c in done]))
            labels = {PAPER_ROW.get(c.dataset, (None, None))[1] for c in done}
            covers_paper = table is not None and labels == set(table.rows)
            paper = paper_average(family, a) if covers_paper else None
            averages.setdefault(family, {})[a] = {"final": final, "increase": increase, "datasets": len(done),
                                                  "paper": None if paper is None else paper._asdict()}
            text = f"{final:.2f}({increase:+.2f}) over {len(done)}"
            average_cells.append(text + (f" · paper {paper}" if paper is not None else ""))
        if len(datasets) > 1:
            lines.append("| Average | " + " | ".join(average_cells) + " |")
        lines.append("")
    return "\n".join(lines), averages
