"""A read-only JAX compilation cache that the grader fills from its own solution run.

Most of a submission's grading time is XLA compiling, once per shape, each small eager op the
student's functions dispatch (``jnp.matmul``, ``jnp.exp``, ...): JAX turns every eager op into a
tiny jitted computation and compiles it on first use. Those computations do not depend on
the student, only on the op, its shapes and dtypes, and the XLA flags; and JAX's persistent
compilation cache (``jax_compilation_cache_dir``) is consulted for them too.

So, before a batch, the grader runs its own solution notebook once, in the same sandbox and
kernel environment as the students (same ``XLA_FLAGS``, same x64 setting, same input
shapes), with a *writable* cache in the sandbox's own working folder; the kernel sends the
entries back over the grading channel, capped (:func:`nnlib.grading.autograde.build_jax_cache`).
This module only handles the files: :func:`collect` keeps the entries of library ops
(functions the solution defines itself, its jitted training step say, are dropped: no
compiled solution code reaches a student, and a student's own jitted code never hits the
cache anyway), and :func:`install` writes them once to a folder of the grader's that every
student sandbox gets as a read-only bind, with ``jax_persistent_cache_min_compile_time_secs``
set so high that the kernel never tries to write. One submission can therefore neither poison
another's cache nor its own. An op the cache lacks (a student's mistake dispatching other
ops) is simply compiled, as without the cache, and a compiled executable computes the same
bits whether it came from the cache or the compiler.
"""

from __future__ import annotations

import ast
import os
import re
from pathlib import Path
from typing import Mapping

import nbformat

MAX_ENTRY = 16 << 20
MAX_TOTAL = 64 << 20
_NAME = re.compile(r"^(jit_\w+?)-[0-9a-f]{16,}-cache$")


def kernel_env(path: str | Path, *, writable: bool) -> dict[str, str]:
    """Environment variables pointing the kernel's JAX at the cache folder ``path``.

    Args:
      path: the cache folder, as the kernel sees it (inside the sandbox).
      writable: True only for the grader's own solution run: every compiled computation is
        then written; otherwise the kernel only reads.
    """
    return {
        "JAX_COMPILATION_CACHE_DIR": str(path),
        "JAX_ENABLE_COMPILATION_CACHE": "true",
        "JAX_COMPILATION_CACHE_MAX_SIZE": "-1",  # no eviction: reads write no atime files
        "JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES": "-1",
        # JAX would otherwise put a GPU autotuning folder *under the cache path* into the
        # compile options, and so into every key: each kernel's own path would miss.
        "JAX_PERSISTENT_CACHE_ENABLE_XLA_CACHES": "none",
        "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0" if writable else "1e12",
    }


def solution_names(nb: nbformat.NotebookNode) -> set[str]:
    """Names of the functions the notebook's code cells define (``def``, ``name = lambda``)."""
    names: set[str] = set()
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        src = cell.source if isinstance(cell.source, str) else "".join(cell.source)
        try:
            tree = ast.parse(src)
        except (SyntaxError, ValueError):
            continue
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                names.add(node.name)
            elif isinstance(node, ast.Assign) and isinstance(node.value, ast.Lambda):
                names.update(t.id for t in node.targets if isinstance(t, ast.Name))
    return names


def collect(entries: Mapping[str, bytes], exclude: set[str]) -> dict[str, bytes]:
    """Keeps the library ops' entries of a solution run's cache files.

    Args:
      entries: file name -> bytes, as the kernel sent them.
      exclude: names of the solution's own functions (:func:`solution_names`).

    Returns:
      The entries named ``jit_<op>-<hash>-cache`` whose ``<op>`` is not in ``exclude``, each at
      most ``MAX_ENTRY`` bytes, ``MAX_TOTAL`` bytes in all.
    """
    kept: dict[str, bytes] = {}
    total = 0
    for name in sorted(entries):
        m = _NAME.match(name)
        data = entries[name]
        if not m or m.group(1)[len("jit_"):] in exclude or len(data) > MAX_ENTRY:
            continue
        total += len(data)
        if total > MAX_TOTAL:
            break
        kept[name] = bytes(data)
    return kept


def install(entries: Mapping[str, bytes], folder: Path) -> Path:
    """Writes ``entries`` to the new folder ``folder``, readable by all, writable by none but us.

    The folder (mode 0755) and its files (0644) belong to the grader; the sandboxes get it as a
    read-only bind.
    """
    folder = Path(folder)
    folder.mkdir(mode=0o755)
    for name, data in entries.items():
        fd = os.open(folder / name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
    folder.chmod(0o755)
    return folder
