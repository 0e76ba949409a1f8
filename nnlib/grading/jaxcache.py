"""A read-only JAX compilation cache that the grader fills from its own solution run.

Most of a submission's grading time is XLA compiling, once per shape, each small eager op the
student's functions dispatch (``jnp.matmul``, ``jnp.exp``, ...): JAX turns every eager op into a
tiny jitted computation and compiles it on first use. Those computations do not depend on
the student, only on the op, its shapes and dtypes, and the XLA flags; and JAX's persistent
compilation cache (``jax_compilation_cache_dir``) is consulted for them too.

So, before a batch, :func:`build` grades the grader's own solution notebook once, in the same
sandbox and kernel environment as the students (same ``XLA_FLAGS``, same x64 setting, same
input shapes), with a *writable* cache in that run's scratch folder, and keeps the entries
in the grader's memory. Entries of functions the solution defines itself (its jitted training
step, say) are dropped: only the library ops stay (no compiled solution code reaches a
student, and a student's own jitted code never hits the cache anyway).

Each student kernel then gets :func:`install`'s fresh copy in its own scratch folder: owned
by the grader, read-only for the kernel's uid (mode 0755 / 0644), and with
``jax_persistent_cache_min_compile_time_secs`` set so high that the kernel never tries to
write. One submission can therefore neither poison another's cache (every submission starts
from the grader's in-memory copy) nor write to its own. An op the cache lacks (a student's
mistake dispatching other ops) is simply compiled, as without the cache, and a compiled
executable computes the same bits whether it came from the cache or the compiler.
"""

from __future__ import annotations

import ast
import os
import re
import stat
from pathlib import Path

import nbformat

DIRNAME = "jaxcache"
MAX_ENTRY = 16 << 20
MAX_TOTAL = 64 << 20
_NAME = re.compile(r"^(jit_\w+?)-[0-9a-f]{16,}-cache$")


def kernel_env(path: Path, *, writable: bool) -> dict[str, str]:
    """Environment variables pointing the kernel's JAX at the cache folder ``path``.

    Args:
      path: the cache folder.
      writable: True only for the grader's own solution run (:func:`build`): every compiled
        computation is then written; otherwise the kernel only reads.
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


def collect(folder: Path, exclude: set[str]) -> dict[str, bytes]:
    """Reads the cache entries the solution run wrote to ``folder``.

    Keeps regular files named ``jit_<op>-<hash>-cache`` (opened with ``O_NOFOLLOW``, size
    capped) whose ``<op>`` is not one of the solution's own functions ``exclude``.
    """
    entries: dict[str, bytes] = {}
    total = 0
    if not folder.is_dir():
        return entries
    for p in sorted(folder.iterdir()):
        m = _NAME.match(p.name)
        if not m or m.group(1)[len("jit_"):] in exclude:
            continue
        try:
            fd = os.open(p, os.O_RDONLY | os.O_NOFOLLOW)
        except OSError:
            continue
        with os.fdopen(fd, "rb") as f:
            st = os.fstat(f.fileno())
            if not stat.S_ISREG(st.st_mode) or st.st_size > MAX_ENTRY:
                continue
            data = f.read(MAX_ENTRY + 1)
        total += len(data)
        if total > MAX_TOTAL:
            break
        entries[p.name] = data
    return entries


def install(entries: dict[str, bytes], work: Path) -> Path:
    """Writes a fresh copy of ``entries`` to ``work/jaxcache``, read-only for the kernel.

    The folder and files belong to the grader (mode 0755 / 0644): a kernel running as a
    sandbox uid can read them but not add, change or remove an entry.
    """
    path = work / DIRNAME
    path.mkdir(mode=0o755)
    for name, data in entries.items():
        fd = os.open(path / name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
    path.chmod(0o755)
    return path


def build(source: Path, **grade_kw) -> dict[str, bytes]:
    """Grades the solution notebook ``source`` once with a writable cache; returns its entries.

    Args:
      source: the solution notebook.
      **grade_kw: ``limits``, ``hide``, ``scratch_root`` as for
        :func:`nnlib.grading.autograde.grade_submission`.

    Returns:
      ``file name -> bytes`` of the library ops' entries, or ``{}`` when the solution did not
      earn full marks in that run (a cache is then not worth trusting).
    """
    import tempfile

    from nnlib.grading import autograde, notebooks

    sink: dict[str, bytes] = {}
    exclude = solution_names(notebooks.read_notebook(source))
    with tempfile.TemporaryDirectory(prefix="nnlib-jaxcache-") as out:
        res = autograde.grade_submission(source, source, "_jaxcache", Path(out),
                                         _cache_sink=(sink, exclude), **grade_kw)
    if res["score"] != sum(t["max_score"] for t in res["tests"]):
        return {}
    return sink
