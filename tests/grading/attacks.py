"""Builds the adversarial submissions of the grading tests, each with the score it must get.

Every attack is a notebook made from the solution notebook (``SOL``, full marks) or from the
generated student version (``STU``, zero), edited the way a hostile or careless student
would. ``build_all(folder, ...)`` writes them as ``<attack>.ipynb`` and returns
``{attack: (expected score, expected status substring or "")}``. Scores assume the
``backprop`` points: dense_forward 2, dense_backward 3, relu 2, sigmoid 2, mse 2,
softmax_cross_entropy 3, mlp 4, numerical_gradient 3, train 3 (24 in all).
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import nbformat

FULL = 24
MARKER = "31415926"  # argument of the detached processes, so the test can look for them


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


def attacks(sol, stu, *, repo: Path, out_dir: Path, subs_dir: Path) -> dict:
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

    nb = T()
    _prepend(nb, "dense_forward", "import json\n"
             f"src = json.load(open({str(repo / 'solutions/backprop/backprop.ipynb')!r}))\n"
             "for c in src['cells']:\n"
             "    if c['cell_type'] == 'code':\n"
             "        exec(''.join(c['source']), globals())")
    a["read_solution_file"] = (nb, 0, "ok")

    nb = T()
    _prepend(nb, "dense_forward", "import glob, json\n"
             f"for p in glob.glob({str(subs_dir)!r} + '/*.ipynb'):\n"
             "    for c in json.load(open(p))['cells']:\n"
             "        if c['cell_type'] == 'code':\n"
             "            try:\n"
             "                exec(''.join(c['source']), globals())\n"
             "            except Exception:\n"
             "                pass")
    a["read_other_submissions"] = (nb, 0, "ok")

    nb = S()
    _append(nb, "train", "import os\nos._exit(0)")
    a["os_exit_last_cell"] = (nb, FULL - 3, "killed the kernel")

    nb = S()
    _append(nb, "dense_forward", "import os\nos._exit(1)")
    a["os_exit_first_cell"] = (nb, 2 + 2 + 2 + 3 + 3, "killed the kernel")

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
    a["pickled_outputs"] = (nb, 0, "")

    nb = S()
    _append(nb, "dense_forward", "import os\n"
            "os.replace = lambda src, dst: (os.path.lexists(dst) and os.remove(dst), "
            "os.symlink('/etc/shadow', dst))")
    a["symlinked_outputs"] = (nb, 0, "")

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

    a["malformed_json"] = (b'{"cells": [{"cell_type": "code", "source": ', 0, "invalid notebook")
    nb3 = {"nbformat": 3, "nbformat_minor": 0, "metadata": {}, "worksheets": [{"cells": []}]}
    a["wrong_nbformat"] = (json.dumps(nb3).encode(), 0, "invalid notebook")
    a["empty_file"] = (b"", 0, "invalid notebook")
    a["not_a_notebook"] = (b'["just", "a", "list"]', 0, "invalid notebook")
    return a


def build_all(folder: Path, sol_path: Path, stu_path: Path, *, repo: Path,
              out_dir: Path) -> dict[str, tuple[float, str]]:
    """Writes every attack to ``folder/<name>.ipynb``; returns their expected scores/statuses."""
    sol = nbformat.read(str(sol_path), as_version=4)
    stu = nbformat.read(str(stu_path), as_version=4)
    expected = {}
    folder.mkdir(parents=True, exist_ok=True)
    for name, (nb, score, status) in attacks(sol, stu, repo=repo, out_dir=out_dir,
                                             subs_dir=folder).items():
        data = nb if isinstance(nb, bytes) else nbformat.writes(nb).encode()
        (folder / f"{name}.ipynb").write_bytes(data)
        expected[name] = (score, status)
    return expected
