"""The library's shape: no import cycles, no private names shared across modules.

Read from the source (every ``import`` anywhere in a module, function-level ones included), so
a new cycle or a new cross-module use of an underscore name fails here, with the modules named.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1] / "nnlib"


def _modules() -> dict[str, Path]:
    out = {}
    for p in sorted(ROOT.rglob("*.py")):
        parts = list(p.relative_to(ROOT.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = p
    return out


MODULES = _modules()


def _absolute(module: str, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    package = module.split(".") if MODULES[module].name == "__init__.py" else \
        module.split(".")[:-1]
    base = package[:len(package) - node.level + 1]
    return ".".join(base + ([node.module] if node.module else []))


def _imports(module: str) -> list[tuple[str, str | None, str | None]]:
    """``(imported module, imported name or None, local alias)`` for every import."""
    tree = ast.parse(MODULES[module].read_text())
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                found.append((a.name, None, a.asname or a.name.split(".")[0]))
        elif isinstance(node, ast.ImportFrom):
            base = _absolute(module, node)
            for a in node.names:
                sub = f"{base}.{a.name}"
                if sub in MODULES:  # from package import submodule
                    found.append((sub, None, a.asname or a.name))
                else:
                    found.append((base, a.name, a.asname or a.name))
    return found


def _graph() -> dict[str, set[str]]:
    edges: dict[str, set[str]] = {m: set() for m in MODULES}
    for m in MODULES:
        for target, _name, _alias in _imports(m):
            if target in MODULES and target != m:
                edges[m].add(target)
    return edges


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan's algorithm)."""
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(edges[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return out


def test_no_import_cycle_among_nnlib_modules():
    assert _cycles(_graph()) == []


def test_the_cycle_check_finds_a_cycle():
    edges = _graph()
    edges["nnlib.validation"].add("nnlib.train.loop")  # as if validation imported train
    assert any("nnlib.validation" in c for c in _cycles(edges))


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def test_no_underscore_name_crosses_a_module_boundary():
    bad = []
    for m, path in MODULES.items():
        aliases = {}
        for target, name, alias in _imports(m):
            if not target.startswith("nnlib"):
                continue
            if name is not None and _private(name):
                bad.append(f"{m} imports {target}.{name}")
            if any(_private(part) for part in target.split(".")):
                bad.append(f"{m} imports the private module {target}")
            if name is None or f"{target}.{name}" in MODULES:
                aliases[alias] = target
        for node in ast.walk(ast.parse(path.read_text())):
            if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                    and node.value.id in aliases and _private(node.attr)
                    and aliases[node.value.id] != m):
                bad.append(f"{m} uses {aliases[node.value.id]}.{node.attr}")
    assert not sorted(set(bad)), "\n".join(sorted(set(bad)))


def test_the_public_modules_import_without_a_cycle_at_run_time():
    code = "import nnlib, nnlib.train, nnlib.grading, nnlib.viz, nnlib.models, nnlib.layers"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120, env={"JAX_PLATFORMS": "cpu", "PATH": "/usr/bin:/bin"})
    assert out.returncode == 0, out.stderr[-2000:]


def test_name_lookups_take_the_exact_name_first_then_ignore_case():
    import pytest

    from nnlib import validation

    table = {"adam": 1, "MyRule": 2}
    assert validation.lookup("rule", "MyRule", table) == 2
    assert validation.lookup("rule", "ADAM", table) == 1
    with pytest.raises(ValueError, match="unknown rule 'myrule'; valid names are: MyRule, adam"):
        validation.lookup("rule", "myrule", table)
