"""JAX's persistent compilation cache, switched on for nnlib's users (``nnlib.compile_cache``).

Much of the time a lesson or the test suite spends in JAX on a 2-core CPU is XLA
compiling: every ``jax.jit`` function, every training step, every eager op on a new
shape. JAX can keep what it compiled on disk and load it the next time the same program is
compiled (its *persistent compilation cache*), but only once a cache folder is set. nnlib
sets one, so re-running a notebook or the tests loads those programs instead of compiling
them again.

Where: ``${XDG_CACHE_HOME:-~/.cache}/nnlib/jax`` (created with mode 0700), or the folder
named by the environment variable ``NNLIB_COMPILE_CACHE``. It is applied once per process,
when the first of nnlib's JAX-using modules is imported (they all import
:mod:`nnlib.validation`, which calls :func:`configure`; :mod:`nnlib.autodiff` and
:mod:`nnlib.gradcheck` call it themselves). ``import nnlib`` alone does nothing, and neither
does a notebook that uses only JAX (lesson 00 still shows a first call's full compile time).

Turning it off: ``NNLIB_COMPILE_CACHE=0`` (or ``off``, ``false``, ``no``, ``none``, empty);
nnlib then leaves JAX's settings alone. Clearing it: ``rm -rf ~/.cache/nnlib/jax``, at any
time (JAX writes entries again as needed; it never deletes old ones, so entries of old JAX
versions and old code stay until then; a lesson adds one to three megabytes).

nnlib never overrides a cache someone else chose: it does nothing when
``JAX_COMPILATION_CACHE_DIR`` is in the environment, when ``jax_compilation_cache_dir`` is
already set in JAX's config, or under the autograder (``NNLIB_GRADING=1``), whose student
kernels get their own read-only cache through JAX's environment variables
(:mod:`nnlib.grading.jaxcache`). When the folder cannot be created or written (a read-only
home, say) the cache is silently skipped: a debug message on this module's logger, no
warning, no error.

What is cached: every program (``MIN_COMPILE_TIME_S`` is 0), where JAX by default keeps only
those that took a second to compile, which on a CPU leaves out nearly all of the course's.
Measured with ``benchmarks/bench_compile.py``, a re-run with every program cached was
faster than with a 0.1 s threshold (hundreds of small programs load faster than they
compile), and the first run was no slower than without a cache. Setting
``JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS`` (or the config value) keeps yours. There is no
size limit (JAX's needs the ``filelock`` package and an access-time file per read).

Why it is safe: JAX keys each entry by a hash of the compiled program itself (with its
shapes and dtypes), the jaxlib version, the XLA flags and compile options, and the
devices, so a changed function, a new JAX version or a float64 run never loads a stale
executable; a miss simply compiles, and a loaded executable computes the same bits as a
freshly compiled one. As JAX's documentation warns, whoever can write to the folder can run
code in your processes, hence a private folder (0700) under your own home.

Example:
  >>> from nnlib import compile_cache
  >>> compile_cache.configure()          # what importing nnlib.layers already did
  PosixPath('/home/me/.cache/nnlib/jax')
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path

__all__ = ["ENV", "MIN_COMPILE_TIME_S", "choose_folder", "configure", "default_folder"]

ENV = "NNLIB_COMPILE_CACHE"
MIN_COMPILE_TIME_S = 0.0
_OFF = frozenset({"", "0", "off", "false", "no", "none"})
_JAX_DEFAULT_MIN_COMPILE_TIME_S = 1.0

logger = logging.getLogger(__name__)
_configured = False
_folder: Path | None = None


def default_folder(environ: Mapping[str, str] | None = None) -> Path:
    """``$XDG_CACHE_HOME/nnlib/jax``, or ``~/.cache/nnlib/jax`` when that is unset or empty."""
    env = os.environ if environ is None else environ
    home = env.get("HOME") or os.path.expanduser("~")
    base = env.get("XDG_CACHE_HOME") or os.path.join(home, ".cache")
    return Path(base, "nnlib", "jax")


def choose_folder(environ: Mapping[str, str] | None = None) -> Path | None:
    """The cache folder nnlib should set, from the environment alone; None: leave JAX alone.

    None under the autograder (``NNLIB_GRADING`` set and not ``0``), when
    ``JAX_COMPILATION_CACHE_DIR`` is set (even empty: someone chose), and when
    ``NNLIB_COMPILE_CACHE`` says off. Otherwise ``NNLIB_COMPILE_CACHE`` (``~`` expanded, made
    absolute), or :func:`default_folder` when it is unset.
    """
    env = os.environ if environ is None else environ
    if env.get("NNLIB_GRADING", "").strip().lower() not in _OFF:
        return None
    if "JAX_COMPILATION_CACHE_DIR" in env:
        return None
    value = env.get(ENV)
    if value is None:
        return default_folder(env)
    if value.strip().lower() in _OFF:
        return None
    return Path(value).expanduser().absolute()


def _writable(folder: Path) -> bool:
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".nnlib-probe-", dir=folder)
        os.close(fd)
        os.unlink(probe)
        return True
    except OSError as e:
        logger.debug("JAX compilation cache not set: %s is not writable (%s)", folder, e)
        return False


def configure() -> Path | None:
    """Points JAX's persistent compilation cache at nnlib's folder, once per process.

    Idempotent and cheap (a ``mkdir`` and a probe file on the first call, nothing after).
    Leaves JAX untouched in the cases listed in :func:`choose_folder`, when JAX's config
    already names a cache folder, and when the folder cannot be written.

    Returns:
      The folder set, or None when nnlib left JAX's cache settings alone.
    """
    global _configured, _folder
    if _configured:
        return _folder
    _configured = True
    folder = choose_folder()
    if folder is None:
        logger.debug("JAX compilation cache left alone (environment: %s, "
                     "JAX_COMPILATION_CACHE_DIR or NNLIB_GRADING)", ENV)
        return None
    import jax

    if jax.config.jax_compilation_cache_dir:
        logger.debug("JAX compilation cache already set to %s; left alone",
                     jax.config.jax_compilation_cache_dir)
        return None
    if not _writable(folder):
        return None
    jax.config.update("jax_compilation_cache_dir", str(folder))
    if ("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS" not in os.environ
            and jax.config.jax_persistent_cache_min_compile_time_secs
            == _JAX_DEFAULT_MIN_COMPILE_TIME_S):
        jax.config.update("jax_persistent_cache_min_compile_time_secs", MIN_COMPILE_TIME_S)
    _folder = folder
    logger.debug("JAX compilation cache: %s", folder)
    return folder
