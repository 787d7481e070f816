"""The paper's result tables 1, 2, 3 and 11 as data, and which of our names label their rows and columns.

Why: the report prints the paper's cell beside ours. Source: Yan, Schwing, Wang, "Reinforcement
Learning Gradients as Vitamin for Online Finetuning Decision Transformers", NeurIPS 2024,
arXiv 2410.24108, as transcribed in docs/reference.md (#table-1-mujoco, #table-2-adroit,
#table-3-antmaze, #table-11-maze2d). The table text below is copied verbatim from there;
tests/test_report.py checks that it still matches. A cell reads `final(+increase)`, the mean over
5 seeds (docs/reference.md#reading-the-result-tables).
"""

from __future__ import annotations

import re
from typing import Mapping, NamedTuple, Optional

# Our config.algo -> the paper's column (docs/reference.md#algorithms); other algos have none.
PAPER_COLUMN = {"td3_odt": "TD3+ODT (ours)", "odt": "ODT", "td3": "TD3", "ddpg_odt": "DDPG+ODT"}


class PaperCell(NamedTuple):
    final: float
    increase: float
    text: str  # as printed, e.g. '59.35(+57.1)'

    def __str__(self) -> str:
        return self.text

    @property
    def pretrain(self) -> float:
        """Derived, not printed: final - increase (docs/reference.md#reading-the-result-tables)."""
        return self.final - self.increase


class PaperTable(NamedTuple):
    family: str  # our registry family: 'mujoco' | 'adroit' | 'antmaze' | 'maze2d'
    title: str
    source: str  # the docs section it is copied from
    online_transitions: int  # the paper's online budget (docs/reference.md#reading-the-result-tables)
    rows: Mapping[str, Mapping[str, PaperCell]]  # dataset label -> column -> cell
    averages: Mapping[str, Mapping[str, PaperCell]]  # 'Average' (and AntMaze's 'Avg. (U+M)') -> column -> cell


# fmt: off
_TABLE_1_MUJOCO = """
| Dataset | TD3+BC | IQL | ODT | PDT | TD3 | DDPG+ODT | TD3+ODT (ours) |
|---|---|---|---|---|---|---|---|
| Ho-M-v2 | 60.24(+4.4) | 44.72(-21.3) | 97.84(+48.69) | 74.43(+72.21) | 88.98(+29.25) | 41.7(-13.18) | 89.07(+25.97) |
| Ho-MR-v2 | 99.07(+33.33) | 62.76(-7.63) | 83.29(+63.17) | 84.53(+82.23) | 93.72(+55.66) | 32.36(+9.9) | 95.65(+65.89) |
| Ho-R-v2 | 8.36(-0.35) | 20.42(+12.36) | 29.08(+26.92) | 35.9(+34.67) | 75.68(+73.69) | 25.12(+23.14) | 76.13(+74.15) |
| Ha-M-v2 | 51.29(+2.73) | 37.12(-10.35) | 42.27(+19.23) | 39.35(+39.55) | 70.9(+29.59) | 55.69(+14.71) | 76.91(+35.3) |
| Ha-MR-v2 | 56.5(+13.07) | 49.97(+6.84) | 41.45(+26.77) | 31.47(+31.8) | 69.87(+40.59) | 53.71(+24.91) | 73.27(+43.98) |
| Ha-R-v2 | 44.78(+31.12) | 47.85(+40.3) | 2.15(-0.09) | 0.74(+0.9) | 68.55(+66.3) | 34.56(+32.31) | 59.35(+57.1) |
| Wa-M-v2 | 85.34(+3.49) | 65.55(-15.12) | 75.57(+18.47) | 63.37(+63.3) | 90.49(+24.74) | 2.01(-69.54) | 97.86(+27.08) |
| Wa-MR-v2 | 83.28(+0.0) | 95.99(+28.78) | 77.2(+12.46) | 54.49(+54.18) | 100.88(+32.54) | 1.04(-60.59) | 100.6(+42.54) |
| Wa-R-v2 | 6.99(+5.86) | 10.67(+4.96) | 14.12(+9.82) | 15.47(+15.32) | 69.91(+66.31) | 2.91(-2.47) | 57.86(+53.27) |
| An-M-v2 | 129.11(+7.11) | 110.36(+14.26) | 88.1(-0.51) | 52.08(+48.47) | 125.67(+37.55) | 10.81(-75.52) | 132.0(+41.42) |
| An-MR-v2 | 129.33(+41.03) | 113.16(+24.24) | 85.64(+4.49) | 36.92(+32.41) | 133.58(+51.17) | 4.05(-87.7) | 130.23(+52.08) |
| An-R-v2 | 67.89(+33.47) | 12.28(+0.97) | 24.96(-6.44) | 14.88(+10.38) | 63.47(+32.02) | 4.93(-26.55) | 71.69(+40.31) |
| Average | 68.52(+14.6) | 55.9(+7.8) | 55.14(+18.58) | 41.97(+40.44) | 87.64(+44.95) | 22.87(-19.22) | 88.38(+46.59) |
"""
_TABLE_2_ADROIT = """
| Dataset | TD3+BC | IQL | ODT | PDT | TD3 | DDPG+ODT | TD3+ODT (ours) |
|---|---|---|---|---|---|---|---|
| P-E-v1 | 47.88(-84.23) | 149.65(-3.63) | 121.82(+5.48) | 25.07(+25.56) | 61.56(-69.74) | 2.75(-129.63) | 120.65(-11.91) |
| P-C-v1 | 3.75(-10.8) | 78.12(+25.01) | 22.88(-24.0) | 14.05(+12.15) | 58.04(-17.39) | -1.41(-81.87) | 133.77(+58.05) |
| P-H-v1 | 26.77(+3.19) | 96.5(+27.79) | 27.55(-13.91) | 4.03(+0.38) | 38.58(-57.71) | 2.09(-92.56) | 107.1(+11.87) |
| H-E-v1 | 3.11(-0.02) | 126.54(+13.28) | 123.07(+12.79) | 98.95(+98.94) | 93.99(-31.41) | -0.24(-127.05) | 129.8(+6.34) |
| H-C-v1 | 0.33(+0.03) | 2.27(+0.58) | 0.84(+0.32) | 0.66(+0.66) | 0.07(-0.69) | 0.12(-0.83) | 126.39(+124.59) |
| H-H-v1 | 0.17(-0.3) | 16.12(+14.18) | 0.97(-0.13) | 32.76(+32.75) | -0.03(-1.11) | -0.06(-1.02) | 116.83(+115.82) |
| D-E-v1 | -0.34(-0.01) | 97.57(-7.92) | 50.26(+50.14) | 59.48(+59.41) | 76.92(-25.56) | 26.48(-78.72) | 103.13(-1.94) |
| D-C-v1 | -0.36(-0.01) | 23.8(+21.66) | 5.45(+5.37) | 1.38(+1.54) | 0.17(-4.8) | -0.01(-4.45) | 58.28(+53.31) |
| D-H-v1 | -0.33(-0.1) | 34.64(+29.65) | 10.61(+6.69) | 0.05(+0.22) | -0.14(-9.22) | 12.39(-12.33) | 65.24(+55.94) |
| R-E-v1 | -1.37(+0.22) | 105.78(+2.81) | 101.16(+2.11) | 66.57(+66.7) | 0.44(-106.67) | 0.26(-106.48) | 91.38(-16.19) |
| R-C-v1 | -0.3(+0.0) | 1.1(+0.97) | 0.06(+0.08) | -0.03(+0.04) | -0.19(-0.29) | -0.12(-0.32) | 0.36(+0.26) |
| R-H-v1 | -0.08(+0.1) | 1.6(+1.5) | 0.04(+0.05) | 0.04(+0.17) | -0.17(-0.28) | -0.1(-0.27) | 1.19(+0.99) |
| Average | 6.6(-7.66) | 61.14(+10.49) | 38.73(+3.75) | 25.25(+24.87) | 31.85(-29.63) | 3.51(-52.96) | 87.84(+33.09) |
"""
_TABLE_3_ANTMAZE = """
| Dataset | TD3+BC | IQL | ODT | PDT | TD3 | DDPG+ODT | TD3+ODT (ours) |
|---|---|---|---|---|---|---|---|
| U-v2 | 0.21(+0.07) | 95.99(+6.59) | 15.92(-38.08) | 29.94(+29.94) | 0.0(+0.0) | 95.62(+43.62) | 99.59(+83.59) |
| UD-v2 | 0.53(+0.33) | 44.83(-18.17) | 0.0(-52.0) | 0.0(+0.0) | 25.55(+25.55) | 23.41(-14.59) | 80.0(+42.0) |
| MP-v2 | 0.0(+0.0) | 91.59(+21.59) | 0.0(+0.0) | 0.0(+0.0) | 70.55(+70.55) | 25.66(-14.34) | 96.79(+42.79) |
| MD-v2 | 0.01(+0.01) | 88.63(+23.43) | 0.0(+0.0) | 0.0(+0.0) | 20.24(+20.24) | 29.14(-16.86) | 96.31(+36.31) |
| LP-v2 | 0.0(+0.0) | 51.4(+9.6) | 0.0(+0.0) | 0.0(+0.0) | 0.0(+0.0) | 0.0(+0.0) | 0.0(+0.0) |
| LD-v2 | 0.0(+0.0) | 70.6(+32.6) | 0.0(+0.0) | 0.0(+0.0) | 0.0(+0.0) | 0.0(+0.0) | 0.0(+0.0) |
| Average | 0.13(+0.07) | 73.83(+12.61) | 2.65(-15.01) | 4.99(+4.99) | 19.39(+19.39) | 28.97(-0.36) | 62.11(+34.1) |
| Avg. (U+M) | 0.19(+0.08) | 80.26(+8.36) | 3.98(-22.52) | 7.49(+7.49) | 29.08(+29.08) | 43.46(-0.54) | 93.17(+51.17) |
"""
_TABLE_11_MAZE2D = """
| Dataset | TD3+BC | IQL | ODT | PDT | TD3 | DDPG+ODT | TD3+ODT (ours) |
|---|---|---|---|---|---|---|---|
| Open-v0 | 350.58(-0.22) | 576.06(+24.58) | 574.4(+306.56) | 515.97(+485.99) | 430.61(-73.36) | 574.03(+96.02) | 574.32(+29.57) |
| Umaze-v2 | 90.91(+63.15) | 159.97(+114.77) | 43.19(+6.37) | 140.84(+153.47) | 162.04(+130.44) | 139.45(+113.4) | 140.1(+107.76) |
| Medium-v2 | 96.91(+63.2) | 177.61(+97.31) | 26.11(+12.77) | 80.36(+81.49) | 184.55(+138.57) | 133.03(+95.32) | 136.63(+91.69) |
| Large-v2 | 132.66(+38.21) | 214.02(+143.21) | 20.37(+17.25) | 38.74(+39.14) | 232.9(+218.72) | 170.09(+151.44) | 189.71(+170.17) |
| Average | 167.77(+41.09) | 281.92(+94.97) | 166.02(+85.74) | 193.98(+190.02) | 252.53(+103.59) | 254.15(+114.05) | 260.19(+99.8) |
"""
# fmt: on

_CELL = re.compile(r"^(-?\d+(?:\.\d+)?)\(([+-]\d+(?:\.\d+)?)\)$")
_AVERAGE_LABELS = ("Average", "Avg. (U+M)")


def _parse(family: str, title: str, source: str, budget: int, text: str) -> PaperTable:
    """A markdown table of `final(+increase)` cells -> PaperTable."""
    lines = [line.strip().strip("|").split("|") for line in text.strip().splitlines()]
    columns = [c.strip() for c in lines[0][1:]]
    rows, averages = {}, {}
    for line in lines[2:]:
        label, cells = line[0].strip(), [c.strip() for c in line[1:]]
        parsed = {}
        for column, cell in zip(columns, cells, strict=True):
            match = _CELL.match(cell)
            if match is None:
                raise ValueError(f"{title}: cannot read cell {cell!r} of row {label!r}")
            parsed[column] = PaperCell(float(match.group(1)), float(match.group(2)), cell)
        (averages if label in _AVERAGE_LABELS else rows)[label] = parsed
    return PaperTable(family, title, source, budget, rows, averages)


TABLES: Mapping[str, PaperTable] = {t.family: t for t in (
    _parse("mujoco", "Table 1: MuJoCo", "docs/reference.md#table-1-mujoco", 500_000, _TABLE_1_MUJOCO),
    _parse("adroit", "Table 2: Adroit", "docs/reference.md#table-2-adroit", 1_000_000, _TABLE_2_ADROIT),
    _parse("antmaze", "Table 3: AntMaze", "docs/reference.md#table-3-antmaze", 1_000_000, _TABLE_3_ANTMAZE),
    _parse("maze2d", "Table 11: Maze2D", "docs/reference.md#table-11-maze2d", 1_000_000, _TABLE_11_MAZE2D),
)}


def _row_labels() -> dict[str, tuple[str, str]]:
    """Our dataset names (vitamin_jax/envs/registry.py) -> (family, the paper's row label).

    The abbreviations are the tables' own (docs/reference.md#table-1-mujoco etc.); MuJoCo
    expert sets, the toy and anything else have no row.
    """
    mujoco_envs = {"hopper": "Ho", "halfcheetah": "Ha", "walker2d": "Wa", "ant": "An"}
    mujoco_kinds = {"medium": "M", "medium-replay": "MR", "random": "R"}
    adroit_envs = {"pen": "P", "hammer": "H", "door": "D", "relocate": "R"}
    adroit_kinds = {"expert": "E", "cloned": "C", "human": "H"}
    antmaze = {"umaze": "U", "umaze-diverse": "UD", "medium-play": "MP", "medium-diverse": "MD",
               "large-play": "LP", "large-diverse": "LD"}
    maze2d = {"open": "Open-v0", "umaze": "Umaze-v2", "medium": "Medium-v2", "large": "Large-v2"}
    labels = {}
    labels.update({f"{env}-{kind}": ("mujoco", f"{e}-{k}-v2")
                   for env, e in mujoco_envs.items() for kind, k in mujoco_kinds.items()})
    labels.update({f"{env}-{kind}": ("adroit", f"{e}-{k}-v1")
                   for env, e in adroit_envs.items() for kind, k in adroit_kinds.items()})
    labels.update({f"antmaze-{maze}": ("antmaze", f"{a}-v2") for maze, a in antmaze.items()})
    labels.update({f"maze2d-{maze}": ("maze2d", label) for maze, label in maze2d.items()})
    return labels


PAPER_ROW: Mapping[str, tuple[str, str]] = _row_labels()


def paper_cell(dataset: str, algo: str) -> Optional[PaperCell]:
    """The paper's cell for our (dataset, algo), or None where the paper has no such cell."""
    row, column = PAPER_ROW.get(dataset), PAPER_COLUMN.get(algo)
    if row is None or column is None:
        return None
    family, label = row
    return TABLES[family].rows[label][column]


def paper_average(family: str, algo: str) -> Optional[PaperCell]:
    """The paper's 'Average' row cell of a family's table, or None."""
    table, column = TABLES.get(family), PAPER_COLUMN.get(algo)
    if table is None or column is None:
        return None
    return table.averages["Average"][column]
