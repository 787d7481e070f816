"""The house rules of docs/design.md#module-map, read from the source: no import circle, no
lower layer importing a higher one, short functions, few and explained function-local imports,
task behaviour as registry data rather than family tests, each table defined once."""

from __future__ import annotations

import ast
import os
import re

import pytest

PACKAGE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "vitamin_jax")


def _modules() -> dict[str, str]:
    """Dotted module name -> path, for every module of the package."""
    found = {}
    for folder, _, files in os.walk(PACKAGE):
        for name in files:
            if name.endswith(".py"):
                path = os.path.join(folder, name)
                dotted = os.path.relpath(path[:-3], os.path.dirname(PACKAGE)).replace(os.sep, ".")
                found[dotted.removesuffix(".__init__")] = path
    return found


MODULES = _modules()
TREES = {name: ast.parse(open(path).read()) for name, path in MODULES.items()}


def _imported(node: ast.AST) -> list[str]:
    """The project modules an import statement names (a package's `from p import m` names p.m)."""
    if isinstance(node, ast.Import):
        return [a.name for a in node.names if a.name.split(".")[0] == "vitamin_jax"]
    if not isinstance(node, ast.ImportFrom) or node.level:
        return []
    base = node.module or ""  # the package uses absolute imports only
    if base.split(".")[0] != "vitamin_jax":
        return []
    return [base] + [f"{base}.{a.name}" for a in node.names if f"{base}.{a.name}" in MODULES]


def import_graph() -> dict[str, set[str]]:
    """Module -> the project modules it imports anywhere (module level or inside functions)."""
    graph = {}
    for name, tree in TREES.items():
        targets = set()
        for node in ast.walk(tree):
            targets.update(t for t in _imported(node) if t in MODULES and t != name)
        # a package's __init__ importing its own submodules, or a submodule its package, is no circle
        graph[name] = {t for t in targets if not t.startswith(name + ".") and not name.startswith(t + ".")}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str]:
    """One import circle as a path [a, b, ..., a], or []."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str]:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        state[node] = 2
        path.pop()
        return []

    for start in sorted(graph):
        if start not in state and (cycle := visit(start)):
            return cycle
    return []


def test_the_cycle_finder_finds_a_planted_circle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) == []


def test_no_import_circle():
    assert find_cycle(import_graph()) == []


@pytest.mark.parametrize("module, allowed", [("vitamin_jax.errors", set()),
                                             ("vitamin_jax.schema", {"vitamin_jax.errors"})])
def test_the_bottom_layer_imports_nothing_above_it(module, allowed):
    assert import_graph()[module] <= allowed


def _functions(tree: ast.AST):
    return [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]


def test_no_function_longer_than_50_lines():
    long = [f"{name}.{fn.name}: {fn.end_lineno - fn.lineno + 1} lines" for name, tree in TREES.items()
            for fn in _functions(tree) if fn.end_lineno - fn.lineno + 1 > 50]
    assert long == []


def test_few_function_local_project_imports_each_saying_why():
    local = []
    for name, tree in TREES.items():
        lines = open(MODULES[name]).read().splitlines()
        for fn in _functions(tree):
            for node in ast.walk(fn):
                if _imported(node):
                    local.append((f"{name}.{fn.name}", lines[node.lineno - 1]))
    assert len(set(local)) <= 5, local
    assert [where for where, line in local if "#" not in line] == []


def test_train_keeps_the_loop_only():
    assert len(open(MODULES["vitamin_jax.train"]).read().splitlines()) <= 250


def test_no_report_module_over_300_lines():
    sizes = {name: len(open(path).read().splitlines()) for name, path in MODULES.items()
             if name.startswith("vitamin_jax.report.")}
    assert sizes and max(sizes.values()) <= 300, sizes


def test_task_behaviour_is_registry_data_not_family_tests():
    tests = re.compile(r"\bfamily\s*(==|!=|\bin\b|\bnot in\b)")
    owners = {"vitamin_jax.envs.registry", "vitamin_jax.envs.make"}
    found = [f"{name}:{i}" for name, path in MODULES.items() if name not in owners
             for i, line in enumerate(open(path).read().splitlines(), 1) if tests.search(line)]
    assert len(found) <= 2, found


@pytest.mark.parametrize("constant", ["CONFIG_FILE", "RANGES", "MAZE_LAYOUTS", "ADROIT_REWARDS", "ALGO_NAMES",
                                      "WANDB_MODES"])
def test_each_table_is_defined_once(constant):
    defined = [name for name, tree in TREES.items() for node in tree.body if isinstance(node, ast.Assign)
               and any(isinstance(t, ast.Name) and t.id == constant for t in node.targets)]
    assert len(defined) == 1, defined


def _anchor(heading: str) -> str:
    """GitHub's anchor of a markdown heading: lower case, punctuation dropped, spaces to dashes."""
    return re.sub(r"[^a-z0-9 _-]", "", heading.strip().lower()).replace(" ", "-")


def test_every_cited_docs_section_exists():
    """`docs/FILE.md#section` in code, tests and READMEs names a file the repo ships and a heading in it."""
    root = os.path.dirname(PACKAGE)
    sources = [os.path.join(folder, name) for top in ("vitamin_jax", "tests", "experiments", "configs", "docs")
               for folder, _, files in os.walk(os.path.join(root, top)) for name in files
               if name.endswith((".py", ".md", ".sh"))] + [os.path.join(root, "README.md")]
    cited = {m for path in sources for m in re.findall(r"docs/([a-z_]+\.md)#([a-z0-9_-]+)", open(path).read())}
    assert cited  # the pattern still matches how the repo cites its docs
    missing = []
    for doc, anchor in sorted(cited):
        path = os.path.join(root, "docs", doc)
        headings = [_anchor(line.lstrip("#")) for line in open(path).read().splitlines()
                    if line.startswith("#")] if os.path.exists(path) else []
        if anchor not in headings:
            missing.append(f"docs/{doc}#{anchor}")
    assert missing == []
