"""The sandbox on its own: what a kernel can see, reach and leave behind, and its limits.

Each test runs a few plain cells in a real sandbox (:func:`nnlib.grading.sandbox.run_cells`)
and reads what they report through their errors: an attack that would succeed without the
defence says so in the cell's error message.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from nnlib.grading import cgroups, sandbox

REPO = Path(__file__).resolve().parents[1]
LIMITS = sandbox.Limits(cell_timeout=20, total_timeout=60)
BOX = sandbox.Sandbox()
pytestmark = pytest.mark.sandbox


def run(*cells: str, limits: sandbox.Limits = LIMITS, box: sandbox.Sandbox = BOX):
    return sandbox.run_cells(list(enumerate(cells)), sandbox=box, limits=limits, inputs={},
                             probes={})


def said(rep, i: int = -1) -> str:
    """What cell ``i`` reported (its error message)."""
    c = rep.cells[i]
    assert c.status == "error", (c, rep)
    return c.detail.split(": ", 1)[1]


def test_the_kernel_sees_no_network_and_no_host_port():
    srv = socket.create_server(("127.0.0.1", 0))
    port = srv.getsockname()[1]
    try:
        rep = run(f"""
import socket
out = []
try:
    socket.create_connection(('127.0.0.1', {port}), timeout=2); out.append('connected')
except OSError as e:
    out.append(type(e).__name__)
s = socket.socket(); s.bind(('127.0.0.1', {port})); out.append('bound')
import os
net = '/sys/class/net'
out.append(','.join(sorted(os.listdir(net))) if os.path.isdir(net) else 'no sysfs')
raise RuntimeError(' '.join(out))""")
    finally:
        srv.close()
    assert said(rep) == "ConnectionRefusedError bound no sysfs"


def test_the_kernel_sees_only_its_own_processes_and_files(tmp_path):
    marker = tmp_path / "host-secret"
    marker.write_text("secret")
    os.chmod(tmp_path, 0o755)
    host = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", "nnlib-host-x"])
    try:
        rep = run(f"""
import os
procs = [p for p in os.listdir('/proc') if p.isdigit()]
cmds = [open(f'/proc/{{p}}/cmdline', 'rb').read() for p in procs]
seen = [os.path.exists(p) for p in ({str(marker)!r}, {str(REPO / 'solutions')!r},
        {str(REPO / 'tests')!r}, '/root/.bashrc', '/etc/passwd', '/home')]
try:
    open({str(sandbox.package_dir() / 'evil.py')!r}, 'w')
    wrote = 'wrote into nnlib'
except OSError as e:
    wrote = type(e).__name__
raise RuntimeError(f"{{len(procs)}} {{any(b'nnlib-host-x' in c for c in cmds)}} {{seen}} {{wrote}}")
""")
    finally:
        host.kill()
    n, spotted, *rest = said(rep).split(" ", 2)
    assert int(n) <= 4 and spotted == "False"  # bubblewrap's init and the kernel
    assert rest[0] == "[False, False, False, False, False, True] OSError"


def test_tmp_is_private_and_sized(tmp_path):
    Path("/tmp/nnlib-host-file").write_text("host")
    try:
        rep = run("""
import os
seen = os.path.exists('/tmp/nnlib-host-file')
total = 0
try:
    with open('/tmp/fill', 'wb') as f:
        while True:
            f.write(b'\\0' * (1 << 20)); f.flush(); total += 1
except OSError as e:
    err = type(e).__name__
raise RuntimeError(f'{seen} {total} {err}')""", limits=sandbox.Limits(tmp_bytes=8 << 20))
    finally:
        os.unlink("/tmp/nnlib-host-file")
    seen, total, err = said(rep).split()
    assert seen == "False" and int(total) <= 8 and err == "OSError"


def test_setsid_is_refused_so_the_cpu_share_holds():
    rep = run("import os\ntry:\n    os.setsid(); r = 'allowed'\nexcept OSError as e:\n"
              "    r = e.strerror\nraise RuntimeError(r)")
    assert said(rep) == "Operation not permitted"


def test_a_fork_bomb_cannot_take_a_neighbours_process_slots():
    # Sandbox A holds as many processes as it may; sandbox B, started meanwhile, must still
    # start 60. Without a count per sandbox (a user namespace, or a cgroup), A's processes
    # would use up the processes the shared uid may have.
    limits = sandbox.Limits(cell_timeout=30, total_timeout=60, nproc=128)
    bomb = """
import os, time
n = 0
try:
    while n < 10_000:
        if os.fork() == 0:
            time.sleep(25); os._exit(0)
        n += 1
except OSError:
    pass
time.sleep(15)
raise RuntimeError(f'{n} forked')"""
    got = {}
    t = threading.Thread(target=lambda: got.setdefault("a", run(bomb, limits=limits)))
    t.start()
    time.sleep(8)
    rep = run("""
import subprocess
ps = [subprocess.Popen(['sleep', '5']) for _ in range(60)]
raise RuntimeError(f'{len(ps)} started')""", limits=limits)
    t.join()
    assert said(rep) == "60 started"
    assert 50 < int(said(got["a"]).split()[0]) < 128  # the bomb met its own limit


def test_timeouts_deaths_and_protocol_breaks_are_told_apart():
    rep = run("x = 1", "while True:\n    pass", limits=sandbox.Limits(cell_timeout=2,
                                                                     total_timeout=30))
    assert [c.status for c in rep.cells] == ["ok", "timeout"]
    rep = run("import os\nos._exit(3)")
    assert rep.cells[0].status == "died"
    rep = run("import os\nfrom nnlib.grading import runner\n"
              "os.write(runner._CHANNEL.fd_out, b'garbage' * 100)")
    assert rep.cells[0].status == "died"
    assert rep.cells[0].detail.startswith("broke the grading protocol: bad frame marker")


def test_a_detached_process_dies_with_the_sandbox():
    rep = run("import subprocess, sys\nsubprocess.Popen([sys.executable, '-c', "
              "'import os, time\\nif os.fork() == 0:\\n    time.sleep(120)', 'nnlib-orphan-7'])\n"
              "import time; time.sleep(1)")
    assert rep.cells[0].status == "ok"
    time.sleep(0.5)
    left = [p for p in os.listdir("/proc") if p.isdigit() and
            b"nnlib-orphan-7" in Path(f"/proc/{p}/cmdline").read_bytes()]
    assert not left


def test_the_whole_submission_is_in_one_cgroup_when_the_grader_can_make_one():
    probe = cgroups.create(64 << 20, 64)
    if probe is None:
        pytest.skip("no cgroup can be made here (not root, no delegation): rlimits only")
    probe.close()
    # three processes of 400 MiB each: each under its own address-space limit (600 MiB),
    # together over the submission's 800 MiB, so the cgroup's OOM killer steps in
    limits = sandbox.Limits(cell_timeout=60, total_timeout=90, memory_bytes=800 << 20)
    rep = run("""
import os, numpy as np
kids = []
for _ in range(3):
    pid = os.fork()
    if pid == 0:
        a = np.ones(400 << 17)  # 400 MiB, touched
        import time; time.sleep(5); os._exit(0)
    kids.append(pid)
codes = [os.waitpid(k, 0)[1] for k in kids]
raise RuntimeError(str(sorted(codes)))""", limits=limits)
    assert rep.cgroup in (1, 2)
    assert rep.out_of_memory and "9" in said(rep)  # a child killed by SIGKILL (status 9)
    mine = f"{cgroups.PREFIX}{os.getpid()}-"
    assert not [g for g in cgroups.job_groups() if g.name.startswith(mine)]  # removed


def test_a_missing_bubblewrap_stops_the_grader_with_how_to_install_it():
    box = sandbox.Sandbox(bwrap="/nonexistent/bwrap")
    with pytest.raises(sandbox.SandboxUnavailable, match="apt-get install bubblewrap"):
        box.check()


def test_grading_without_the_sandbox_is_refused_as_root_and_marked_otherwise():
    box = sandbox.Sandbox(isolate=False)
    if os.geteuid() == 0:
        with pytest.raises(sandbox.SandboxUnavailable, match="as root"):
            box.check()
        return
    box.check()
    rep = run("import os\nraise RuntimeError(os.getcwd())", box=box)
    assert "nnlib-grade-" in said(rep)


def test_a_v2_job_group_is_made_under_a_delegated_folder(tmp_path, monkeypatch):
    # This project's machines have the v1 controllers; a v2 host is imitated by a folder:
    # what matters here is what the grader writes where.
    (tmp_path / "cgroup.subtree_control").write_text("pids")
    monkeypatch.setenv(cgroups.ENV_PARENT, str(tmp_path))
    job = cgroups.create(256 << 20, 99)
    assert job is not None and job.version == 2 and len(job.procs_fds) == 1
    d = job.dirs[0]
    assert d.parent == tmp_path and d.name.startswith(cgroups.PREFIX + f"{os.getpid()}-")
    assert (tmp_path / "cgroup.subtree_control").read_text() == "+cpu +memory"
    assert (d / "memory.max").read_text() == str(256 << 20)
    assert (d / "pids.max").read_text() == "99" and (d / "memory.swap.max").read_text() == "0"
    os.write(job.procs_fds[0], b"0")
    assert d in cgroups.job_groups()
    for f in d.iterdir():
        f.unlink()
    job.close()
    assert not d.exists() and job.procs_fds == []
