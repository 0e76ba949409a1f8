"""nnlib sets JAX's persistent compilation cache, and only where nobody else has chosen one.

Each case runs in a fresh interpreter (JAX reads its cache settings once per process), with
its own home folder and an environment holding nothing of the test runner's JAX settings.
Cache use is read from JAX's own monitoring events (``/jax/compilation_cache/cache_hits`` and
``cache_misses``, the latter recorded when an entry is written).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from nnlib import compile_cache

REPO = Path(__file__).resolve().parents[1]

# Compiles a chain of matmuls (about 0.5-1 s to compile on a 2-core CPU: cached even were the
# threshold raised to 0.1 s) or, with "small", one tiny program; prints what JAX saw as JSON.
PROBE = """
import json, sys
import jax
from jax import monitoring

events = []
monitoring.register_event_listener(lambda name, **kw: events.append(name))
if sys.argv[1] == "preset":
    jax.config.update("jax_compilation_cache_dir", sys.argv[2])
import jax.numpy as jnp
import nnlib.layers  # the first JAX-using nnlib import sets the cache

n = 3 if sys.argv[1] == "small" else 80

def chain(x):
    for i in range(n):
        x = jnp.tanh(x @ x.T) + i
    return x

jax.block_until_ready(jax.jit(chain)(jnp.ones((8, 8))))
print(json.dumps({
    "dir": jax.config.jax_compilation_cache_dir,
    "min_compile_time": jax.config.jax_persistent_cache_min_compile_time_secs,
    "hits": events.count("/jax/compilation_cache/cache_hits"),
    "writes": events.count("/jax/compilation_cache/cache_misses"),
}))
"""


def _env(home: Path, **extra: str) -> dict[str, str]:
    return {"PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin", "HOME": str(home),
            "PYTHONPATH": str(REPO), "JAX_PLATFORMS": "cpu", **extra}


def _python(code: str, home: Path, *args: str, **extra: str) -> dict:
    """Runs ``code`` in a fresh interpreter whose home is ``home``; its last line, as JSON."""
    home.mkdir(exist_ok=True)
    out = subprocess.run([sys.executable, "-c", code, *args], check=False, cwd=home,
                         env=_env(home, **extra), capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stderr == "", out.stderr[-3000:]  # no warning, no log line: notebooks stay clean
    return json.loads(out.stdout.strip().splitlines()[-1])


def _probe(home: Path, *args: str, **extra: str) -> dict:
    return _python(PROBE, home, *(args or ("big",)), **extra)


def _entries(folder: Path) -> set[str]:
    return {p.name for p in folder.glob("*-cache")} if folder.is_dir() else set()


def test_default_folder_is_filled_then_reused_by_the_next_process(tmp_path):
    home = tmp_path / "home"
    folder = home / ".cache" / "nnlib" / "jax"
    first = _probe(home)
    assert first["dir"] == str(folder)
    assert first["min_compile_time"] == compile_cache.MIN_COMPILE_TIME_S
    assert first["writes"] >= 1 and first["hits"] == 0
    written = _entries(folder)
    assert any(name.startswith("jit_chain-") for name in written), written
    assert folder.stat().st_mode & 0o777 == 0o700  # the cache is trusted code: private

    second = _probe(home)
    assert second["hits"] >= 1, second  # loaded, not compiled
    assert second["writes"] == 0 and _entries(folder) == written


def test_xdg_cache_home_moves_the_default_folder(tmp_path):
    xdg = tmp_path / "xdg"
    got = _probe(tmp_path / "home", "small", XDG_CACHE_HOME=str(xdg))
    assert got["dir"] == str(xdg / "nnlib" / "jax")
    assert not (tmp_path / "home" / ".cache").exists()


@pytest.mark.parametrize("value", ["0", "off", "False", ""])
def test_nnlib_compile_cache_off_leaves_jax_alone(tmp_path, value):
    home = tmp_path / "home"
    got = _probe(home, NNLIB_COMPILE_CACHE=value) if value == "0" else \
        _probe(home, "small", NNLIB_COMPILE_CACHE=value)
    assert got["dir"] is None and got["writes"] == 0 and got["min_compile_time"] == 1.0
    assert sorted(p.name for p in home.iterdir()) == []  # no folder made anywhere in home


def test_nnlib_compile_cache_names_the_folder(tmp_path):
    mine = tmp_path / "mine" / "jax-cache"
    got = _probe(tmp_path / "home", NNLIB_COMPILE_CACHE=str(mine))
    assert got["dir"] == str(mine) and got["writes"] >= 1
    assert any(name.startswith("jit_chain-") for name in _entries(mine))
    assert not (tmp_path / "home" / ".cache").exists()


def test_a_cache_already_chosen_wins(tmp_path):
    home = tmp_path / "home"
    theirs = tmp_path / "theirs"
    got = _probe(home, "small", JAX_COMPILATION_CACHE_DIR=str(theirs),
                 NNLIB_COMPILE_CACHE=str(tmp_path / "mine"))
    assert got["dir"] == str(theirs) and got["min_compile_time"] == 1.0  # JAX's own default
    got = _probe(home, "preset", str(theirs))  # set in JAX's config before nnlib's import
    assert got["dir"] == str(theirs) and got["min_compile_time"] == 1.0
    got = _probe(home, "small", JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS="2.5")
    assert got["dir"] == str(home / ".cache" / "nnlib" / "jax")
    assert got["min_compile_time"] == 2.5  # the user's threshold kept
    assert not (tmp_path / "mine").exists()


def test_the_graders_kernels_are_left_alone(tmp_path):
    home = tmp_path / "home"
    got = _probe(home, NNLIB_GRADING="1")
    assert got["dir"] is None and got["writes"] == 0 and got["min_compile_time"] == 1.0
    assert not (home / ".cache").exists()


def test_an_unwritable_folder_is_skipped_silently(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")  # mkdir under it fails, even for root
    got = _probe(tmp_path / "home", XDG_CACHE_HOME=str(blocker))
    assert got["dir"] is None and got["writes"] == 0  # _probe also checked: empty stderr
    if os.geteuid() != 0:  # root writes to a 0500 folder anyway
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        got = _probe(tmp_path / "home2", "small", NNLIB_COMPILE_CACHE=str(locked / "jax"))
        assert got["dir"] is None


CHECK_EVERY_MODULE = """
import importlib, json, sys, types
import nnlib
assert "jax" not in sys.modules and "nnlib.compile_cache" not in sys.modules, "import nnlib"
import jax
out = {}
for name in sorted(set(nnlib.__all__) - {"__version__"}):
    for m in [m for m in sys.modules if m == "nnlib" or m.startswith("nnlib.")]:
        del sys.modules[m]
    jax.config.update("jax_compilation_cache_dir", None)
    importlib.import_module("nnlib." + name)
    uses_jax = any(isinstance(v, types.ModuleType) and v.__name__.split(".")[0] == "jax"
                   for m, mod in list(sys.modules.items()) if m.startswith("nnlib.")
                   for v in vars(mod).values())
    out[name] = [uses_jax, jax.config.jax_compilation_cache_dir]
print(json.dumps(out))
"""


def test_every_jax_using_submodule_sets_the_cache_and_import_nnlib_does_not(tmp_path):
    home = tmp_path / "home"
    seen = _python(CHECK_EVERY_MODULE, home)
    folder = str(home / ".cache" / "nnlib" / "jax")
    assert seen["layers"] == [True, folder]
    missing = [name for name, (uses_jax, got) in seen.items() if uses_jax and got != folder]
    assert not missing, f"these import JAX but leave the cache unset: {missing}"


@pytest.mark.parametrize("environ, expected", [
    ({"HOME": "/h"}, "/h/.cache/nnlib/jax"),
    ({"HOME": "/h", "XDG_CACHE_HOME": ""}, "/h/.cache/nnlib/jax"),
    ({"HOME": "/h", "XDG_CACHE_HOME": "/x"}, "/x/nnlib/jax"),
    ({"HOME": "/h", "NNLIB_COMPILE_CACHE": "/c"}, "/c"),
    ({"HOME": "/h", "NNLIB_COMPILE_CACHE": " OFF "}, None),
    ({"HOME": "/h", "NNLIB_COMPILE_CACHE": "none"}, None),
    ({"HOME": "/h", "NNLIB_GRADING": "1"}, None),
    ({"HOME": "/h", "NNLIB_GRADING": "0"}, "/h/.cache/nnlib/jax"),
    ({"HOME": "/h", "JAX_COMPILATION_CACHE_DIR": ""}, None),
])
def test_choose_folder_reads_the_environment(environ, expected):
    got = compile_cache.choose_folder(environ)
    assert (None if got is None else str(got)) == expected
