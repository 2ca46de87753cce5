"""The package's import graph: no cycle anywhere, and every module imports only its own layer
or the layers below it (DESIGN.md, "Layers").

Every ``crmkit/**/*.py`` is parsed (nothing is imported), including imports inside functions
and under ``if TYPE_CHECKING``: a cycle hidden in a function body is still a cycle.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "crmkit"

#: DESIGN.md's layers; a module may import its own layer and the layers below.
LAYERS = {
    0: {"schema", "stats", "privacy", "i18n", "config", "calendars"},
    1: {"db", "spark", "cache"},
    2: {"readers", "ingest", "demo", "quality", "merge"},
    3: {"definitions", "periods"},
    4: {
        "classification",
        "text",
        "needs",
        "relationship",
        "satisfaction",
        "complaints",
        "loyalty",
        "clv",
        "churn",
        "churn_model",
        "churn_causes",
        "winback",
        "sales",
        "returns",
        "kpi",
        "cubes",
        "compare",
    },
    5: {"publish"},
    6: {"charts", "views", "report", "notebook", "profile"},
    7: {"serve", "cli", "__init__", "__main__"},
}
LAYER_OF = {name: layer for layer, names in LAYERS.items() for name in names}


def module_name(path: Path) -> str:
    rel = path.relative_to(ROOT.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(ROOT.rglob("*.py"))}


def imports_of(path: Path, known: set[str]) -> set[str]:
    """The crmkit modules ``path`` imports (``from crmkit import x`` counts as crmkit.x when x
    is a module, else as the package ``crmkit``)."""
    me = module_name(path)
    package = me if path.name == "__init__.py" else me.rpartition(".")[0]
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            for a in node.names:
                if a.name.split(".")[0] == "crmkit":
                    out.add(a.name)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                mod = ".".join([*base, *([node.module] if node.module else [])])
            else:
                mod = node.module or ""
            if mod.split(".")[0] != "crmkit":
                continue
            for a in node.names:
                sub = f"{mod}.{a.name}"
                out.add(sub if sub in known else mod)
    return {m for m in out if m in known and m != me}


def graph() -> dict[str, set[str]]:
    mods = modules()
    known = set(mods)
    return {m: imports_of(p, known) for m, p in mods.items()}


def find_cycle(g: dict[str, set[str]]) -> list[str] | None:
    """One cycle of ``g`` as a list of modules (first == last), or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(n: str) -> list[str] | None:
        state[n] = 1
        stack.append(n)
        for m in sorted(g.get(n, ())):
            if state.get(m) == 1:
                return [*stack[stack.index(m) :], m]
            if m not in state and (c := visit(m)):
                return c
        stack.pop()
        state[n] = 2
        return None

    for n in sorted(g):
        if n not in state and (c := visit(n)):
            return c
    return None


def top(module: str) -> str:
    """``crmkit.views.churn`` → ``views``; ``crmkit`` → ``__init__``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def test_find_cycle_finds_a_planted_cycle():
    """The checker itself: a → b → c → a is reported, a DAG is not."""
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) is None


def test_imports_inside_functions_are_seen(tmp_path):
    p = tmp_path / "crmkit" / "x.py"
    p.parent.mkdir()
    p.write_text("def f():\n    from crmkit import y\n    import crmkit.z\n")
    global ROOT
    saved, ROOT = ROOT, tmp_path / "crmkit"
    try:
        assert imports_of(p, {"crmkit.x", "crmkit.y", "crmkit.z"}) == {"crmkit.y", "crmkit.z"}
    finally:
        ROOT = saved


def test_the_import_graph_has_no_cycle():
    assert find_cycle(graph()) is None


def test_db_imports_only_schema():
    assert graph()["crmkit.db"] == {"crmkit.schema"}


def test_every_module_has_a_layer():
    unplaced = sorted({top(m) for m in graph()} - set(LAYER_OF))
    assert not unplaced, f"modules without a layer in DESIGN.md's table: {unplaced}"


@pytest.mark.parametrize("module", sorted(graph()))
def test_no_module_imports_upward(module):
    mine = LAYER_OF[top(module)]
    upward = sorted(m for m in graph()[module] if LAYER_OF[top(m)] > mine and top(m) != top(module))
    assert not upward, f"{module} (L{mine}) imports {upward} from a higher layer"
