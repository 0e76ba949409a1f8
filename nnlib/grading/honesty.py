"""Tasks done "by hand": finding the functions an answer may not call.

A question lists ``forbidden`` dotted names (JAX's autodiff, nnlib's own implementation of
the asked function, the grader's references): a name forbids itself and everything under it
(``"nnlib.losses"`` forbids ``nnlib.losses.mse``). The grader looks for them twice:

* :func:`static_findings`, in the grader's own process, reads the answer cells' source (the
  syntax tree, not the text): what the graded functions reference, following imports and
  aliases (``from jax import vjp as v``, ``g = jax.grad(f)``), ``getattr`` and
  ``importlib.import_module`` with constant names, and the student's own helper functions
  they call. Code outside the graded functions (a self-check comparing with ``jax.grad`` at
  the end of a cell, say) is not counted, and neither is merely importing numpy or jax.
* :func:`install` and :func:`watch`, in the sandboxed kernel, wrap the forbidden functions
  before any student code runs, and record which of them a question's probe reaches while it
  calls the student's functions (also through helpers, ``getattr`` or ``exec``). The probe
  reports them with the case's outputs; the grader decides.

The run-time record comes from the student's process, so a student who rewrites the grader's
machinery there can hide a call from it; the source check, made where the student cannot
reach, is what such a rewrite would have to get past as well.
"""

from __future__ import annotations

import ast
import contextlib
import dataclasses
import functools
import importlib
import sys
import types
from typing import Iterable, Iterator, Sequence

# The grader's own machinery in the kernel: never wrapped, whatever a pattern says.
_MACHINERY = ("nnlib.grading.runner", "nnlib.grading.probe", "nnlib.grading.honesty",
              "nnlib.grading.wire", "nnlib.grading.core", "nnlib.grading.checker")
_ACTIVE: list[set[str]] = []


def matches(name: str, patterns: Iterable[str]) -> str | None:
    """The first pattern that forbids the dotted ``name`` (itself or a parent), or None."""
    for p in patterns:
        if name == p or name.startswith(p + "."):
            return p
    return None


# --------------------------------------------------------------------------- the source
def _const_str(node: ast.AST) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


class _Module:
    """What the answer cells define at the top level: aliases, functions and tainted names."""

    def __init__(self, sources: Sequence[str]):
        self.alias: dict[str, str] = {}
        self.functions: dict[str, ast.AST] = {}
        self.tainted: dict[str, str] = {}
        for src in sources:
            try:
                tree = ast.parse(src)
            except (SyntaxError, ValueError, RecursionError, MemoryError):
                continue
            for node in ast.walk(tree):  # imports anywhere count as aliases
                if isinstance(node, ast.Import):
                    for a in node.names:
                        if a.asname:
                            self.alias[a.asname] = a.name
                        else:
                            head = a.name.split(".")[0]
                            self.alias[head] = head
                elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                    for a in node.names:
                        self.alias[a.asname or a.name] = f"{node.module}.{a.name}"
            for node in tree.body:
                self._top(node)

    def _top(self, node: ast.AST) -> None:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            self.functions[node.name] = node
        elif isinstance(node, (ast.Assign, ast.AnnAssign)) and node.value is not None:
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names = [t.id for t in targets if isinstance(t, ast.Name)]
            if isinstance(node.value, ast.Lambda):
                for n in names:
                    self.functions[n] = node.value
                return
            ref = self.resolve(node.value)
            for n in names:
                if ref is not None:  # g = jax.grad: an alias
                    self.alias[n] = ref
                else:  # g = jax.grad(f): what the value references counts where g is used
                    self.functions[f"<value of {n}>"] = node.value
                    self.tainted[n] = f"<value of {n}>"
        elif isinstance(node, (ast.If, ast.Try, ast.With)):
            for child in ast.iter_child_nodes(node):
                if isinstance(child, ast.stmt):
                    self._top(child)

    def resolve(self, node: ast.AST) -> str | None:
        """The full dotted name an expression refers to, if it is a reference."""
        if isinstance(node, ast.Name):
            return self.alias.get(node.id, node.id)
        if isinstance(node, ast.Attribute):
            base = self.resolve(node.value)
            return f"{base}.{node.attr}" if base else None
        if isinstance(node, ast.Call) and node.args:
            func = self.resolve(node.func)
            if func in ("getattr", "builtins.getattr") and len(node.args) >= 2:
                base, attr = self.resolve(node.args[0]), _const_str(node.args[1])
                return f"{base}.{attr}" if base and attr else None
            if func in ("importlib.import_module", "__import__", "builtins.__import__"):
                return _const_str(node.args[0])
        return None


def _refs(mod: _Module, node: ast.AST) -> list[str]:
    """The dotted references in ``node`` (a function or an expression), longest forms only.

    ``nnlib.layers.Dense`` is reported, not also ``nnlib.layers`` and ``nnlib``.
    """
    refs = {ref for sub in ast.walk(node) if isinstance(sub, (ast.Attribute, ast.Name, ast.Call))
            for ref in [mod.resolve(sub)] if ref}
    return sorted(r for r in refs if not any(o.startswith(r + ".") for o in refs))


def static_findings(sources: Sequence[str], functions: Sequence[str],
                    forbidden: Sequence[str]) -> list[str]:
    """What the graded ``functions`` reference of ``forbidden``, read from the answer cells.

    Args:
      sources: the answer cells' code, in notebook order (later definitions win, as when
        the notebook runs).
      functions: the names of the graded functions.
      forbidden: the question's forbidden dotted names.

    Returns:
      Messages such as ``"dense_backward uses jax.vjp"`` (empty: nothing found).
    """
    if not forbidden:
        return []
    mod = _Module(sources)
    found: list[str] = []
    seen: set[str] = set()
    todo = [(f, f) for f in functions if f in mod.functions]
    while todo:
        name, root = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        for ref in _refs(mod, mod.functions[name]):
            hit = matches(ref, forbidden)
            if hit:
                via = "" if name == root else f" (through {name})"
                msg = f"{root} uses {ref}{via}"
                if msg not in found:
                    found.append(msg)
            head = ref.split(".")[0]
            if head in mod.functions and head not in seen:
                todo.append((head, root))
            if head in mod.tainted and mod.tainted[head] not in seen:
                todo.append((mod.tainted[head], root))
    return found


# --------------------------------------------------------------------------- run time
@contextlib.contextmanager
def watch() -> Iterator[set[str]]:
    """Records, in the yielded set, the forbidden functions reached inside the block."""
    reached: set[str] = set()
    _ACTIVE.append(reached)
    try:
        yield reached
    finally:
        _ACTIVE.remove(reached)


def _note(name: str) -> None:
    for reached in _ACTIVE:
        reached.add(name)


def _wrap(fn, name: str, wrap_results: bool):
    if getattr(fn, "__nnlib_watched__", None):
        return fn

    @functools.wraps(fn)
    def watched(*args, **kwargs):
        if _ACTIVE:
            _note(name)
        out = fn(*args, **kwargs)
        if wrap_results:
            out = _wrap_result(out, name)
        return out

    watched.__nnlib_watched__ = name
    return watched


def _wrap_result(out, name: str):
    """A function returned by an autodiff transform records its calls under the same name."""
    if isinstance(out, types.FunctionType):
        return _wrap(out, name, True)
    if isinstance(out, tuple) and any(isinstance(o, types.FunctionType) for o in out):
        return tuple(_wrap(o, name, True) if isinstance(o, types.FunctionType) else o
                     for o in out)
    return out


def _modules_under(prefix: str) -> list[types.ModuleType]:
    return [m for n, m in list(sys.modules.items())
            if m is not None and (n == prefix or n.startswith(prefix + "."))
            and not matches(n, _MACHINERY)]


def _targets(pattern: str) -> dict[int, tuple[object, str, bool]]:
    """``id -> (callable, recorded name, wraps results)`` for one forbidden pattern."""
    out: dict[int, tuple[object, str, bool]] = {}
    if matches(pattern, _MACHINERY):
        return out
    try:
        importlib.import_module(pattern)
        is_module = True
    except ImportError:
        is_module = False
    if not is_module:  # an attribute: jax.grad, nnlib.layers.Dense.backward
        base, _, attr = pattern.rpartition(".")
        obj = _lookup(base)
        fn = getattr(obj, attr, None) if obj is not None else None
        if callable(fn):
            out[id(fn)] = (fn, pattern, base == "jax")
        return out
    for m in _modules_under(pattern):  # the public functions and methods it defines
        for attr, value in list(vars(m).items()):
            if attr.startswith("_") or getattr(value, "__module__", None) != m.__name__:
                continue
            if isinstance(value, types.FunctionType):
                out[id(value)] = (value, f"{m.__name__}.{attr}", False)
            elif isinstance(value, type):
                for meth, f in list(vars(value).items()):
                    if isinstance(f, types.FunctionType) and not meth.startswith("_"):
                        out[id(f)] = (f, f"{m.__name__}.{value.__name__}.{meth}", False)
    return out


def _lookup(dotted: str):
    parts = dotted.split(".")
    for i in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:i]))
        except ImportError:
            continue
        for p in parts[i:]:
            obj = getattr(obj, p, None)
        return obj
    return None


def _questions() -> list:
    from nnlib.grading import specs

    qs = list(specs.all_questions().values())
    qs += [q for a in specs.ASSIGNMENTS for q in specs.assignment(a).QUESTIONS]
    return list({id(q): q for q in qs}.values())


def _question_targets() -> dict[int, tuple[object, str, bool]]:
    """The grader's verdict functions: every question's reference, judge, hints, mistakes."""
    out: dict[int, tuple[object, str, bool]] = {}
    for q in _questions():
        label = f"nnlib.grading.specs.{q.name}"
        fns = [("reference", q.reference), ("judge", q.judge)]
        fns += [("hints", h) for h in q.hints] + [("mistakes", m.outputs) for m in q.mistakes]
        for field, fn in fns:
            if fn is not None:
                out.setdefault(id(fn), (fn, f"{label}.{field}", False))
    return out


def install(patterns: Sequence[str]) -> int:
    """Wraps every function ``patterns`` forbid, wherever jax and nnlib hold it; returns how many.

    Runs in the kernel before the student's first cell, so the student's own imports and
    aliases already get the wrapped functions. A pattern at or under ``nnlib.grading`` means
    the grader's verdict functions (each question's ``reference``, ``judge``, ``hints`` and
    ``mistakes``), not the grader's machinery that runs the probe.
    """
    targets: dict[int, tuple[object, str, bool]] = {}
    for p in patterns:
        if matches(p, ["nnlib.grading"]) or matches("nnlib.grading.specs", [p]):
            targets.update(_question_targets())
        else:
            targets.update(_targets(p))
    if not targets:
        return 0
    wrapped = {i: _wrap(fn, name, res) for i, (fn, name, res) in targets.items()}

    def swap(value):
        return wrapped[id(value)] if id(value) in wrapped and value is targets[id(value)][0] \
            else value

    holders = _modules_under("jax") + _modules_under("nnlib")
    holders += [cls for m in _modules_under("nnlib") for cls in vars(m).values()
                if isinstance(cls, type) and cls.__module__ == m.__name__]
    for holder in holders:
        for attr, value in list(vars(holder).items()):
            if swap(value) is not value:
                with contextlib.suppress(AttributeError, TypeError):
                    setattr(holder, attr, swap(value))
    for q in _questions():  # frozen dataclasses: their fields are swapped in place
        for field in ("reference", "judge"):
            object.__setattr__(q, field, swap(getattr(q, field)))
        object.__setattr__(q, "hints", tuple(swap(h) for h in q.hints))
        object.__setattr__(q, "mistakes", tuple(
            dataclasses.replace(m, outputs=swap(m.outputs)) for m in q.mistakes))
    return len(wrapped)


def findings_from_run(reached: Iterable[str], forbidden: Sequence[str]) -> list[str]:
    """The forbidden names among those a probe reported reaching (grader side)."""
    out = []
    for name in reached:
        if isinstance(name, str) and matches(name, forbidden) and name not in out:
            out.append(name[:120])
    return sorted(out)[:10]


def describe(question: str, static: Sequence[str], runtime: Sequence[str]) -> str:
    """The feedback line for a question scored 0 for calling what it may not."""
    what = list(static) + [f"the probe reached {n}" for n in runtime]
    return (f"{question}: scored 0 because this task is to be done by hand, and "
            + "; ".join(what) + ". Write the computation yourself (the task's text says which "
            "library functions are off limits).")
