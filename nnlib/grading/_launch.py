"""Kernel launcher of the grading sandbox: ``python _launch.py CONFIG.json CONNECTION_FILE``.

Run by jupyter_client in place of the usual ``python -m ipykernel_launcher``. This file is
executed as a plain script (it imports nothing from nnlib) and then *replaces itself* with
the IPython kernel (``os.execve``), so the kernel keeps its pid and process group. Before
that, while still the grader's user:

1. when running as root: enter a new mount namespace and hide the grader's folders (the
   solutions, the tests, the submissions, the output folder, the repository's .git) under
   empty read-only tmpfs mounts, and give the kernel its own empty ``/tmp`` and ``/dev/shm``;
2. set resource limits: address space (memory), file size, core dumps, CPU seconds and --
   with a dedicated uid -- number of processes;
3. when running as root: drop to the job slot's unprivileged uid/gid (no supplementary
   groups, ``PR_SET_NO_NEW_PRIVS``), so the grader can afterwards find and kill every
   process the submission started, even detached ones, by that uid.
"""

import ctypes
import json
import os
import resource
import shutil
import sys

CLONE_NEWNS = 0x00020000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_BIND, MS_REC, MS_PRIVATE = 1, 2, 4, 4096, 16384, 1 << 18
PR_SET_NO_NEW_PRIVS, PR_SET_PDEATHSIG = 38, 1


def _mount(libc, source, target, fstype, flags, data):
    if libc.mount(source, target.encode(), fstype, flags, data) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"mount {target}: {os.strerror(err)}")


def _cover(libc, path, keep, opts, flags):
    """Mounts an empty tmpfs on ``path``, then binds the folders ``keep`` (inside it) back."""
    fds = [(e, os.open(e, os.O_PATH | os.O_DIRECTORY)) for e in keep]
    _mount(libc, b"tmpfs", path, b"tmpfs", flags, opts)
    for e, fd in fds:
        os.makedirs(e, mode=0o755, exist_ok=True)
        _mount(libc, f"/proc/self/fd/{fd}".encode(), e, None, MS_BIND | MS_REC, None)
        os.close(fd)


def _isolate_files(cfg):
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.unshare(CLONE_NEWNS) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"unshare(CLONE_NEWNS): {os.strerror(err)}")
    _mount(libc, None, "/", None, MS_REC | MS_PRIVATE, None)
    safe = MS_NOSUID | MS_NODEV
    under = lambda e, p: e.startswith(p.rstrip("/") + "/")  # noqa: E731
    for path in cfg.get("hide", []):
        if os.path.isdir(path) and not os.path.islink(path):
            # Folders the kernel needs inside a hidden one (the Python install under /root,
            # say) are kept: held open, then bound back into the empty tmpfs.
            keep = [e for e in cfg.get("expose", []) if under(e, path)]
            if keep:
                _cover(libc, path, keep, b"size=64k,mode=0755", safe)
            else:
                _cover(libc, path, [], b"size=4k,mode=0555", safe | MS_RDONLY)
        elif os.path.isfile(path):
            _mount(libc, b"/dev/null", path, None, MS_BIND, None)
    # Private, empty temporary folders: nothing left there by (or for) another submission.
    work = os.path.realpath(cfg["workdir"])
    for path in ("/tmp", "/var/tmp", "/dev/shm"):
        if os.path.isdir(path):
            real = os.path.realpath(path)
            keep = [e for e in [work, *cfg.get("expose", [])] if under(e, real)]
            _cover(libc, path, keep, b"size=64m,mode=1777", safe)


def main() -> None:
    with open(sys.argv[1]) as f:
        cfg = json.load(f)
    conn = os.path.join(cfg["workdir"], ".connection.json")
    shutil.copyfile(sys.argv[2], conn)
    root = os.geteuid() == 0
    uid, gid = cfg.get("uid"), cfg.get("gid")
    # Opened now, written after isolation (when the grader's folder is no longer visible).
    report = open(os.path.join(os.path.dirname(sys.argv[1]), "isolation.json"), "w")  # noqa: SIM115
    isolated = False
    if root and cfg.get("isolate", True):
        try:
            _isolate_files(cfg)
            isolated = True
        except OSError as e:  # e.g. a container without CAP_SYS_ADMIN: say so, go on
            sys.stderr.write(f"nnlib sandbox: file isolation unavailable ({e})\n")
    # Read by the grader after the run (this folder is the grader's, mode 0700).
    with report:
        json.dump({"files": isolated, "uid": bool(root and uid is not None)}, report)
    limits = {
        resource.RLIMIT_AS: cfg["memory_bytes"],
        resource.RLIMIT_FSIZE: cfg["file_bytes"],
        resource.RLIMIT_CORE: 0,
        resource.RLIMIT_CPU: cfg["cpu_seconds"],
    }
    if root and uid is not None:
        limits[resource.RLIMIT_NPROC] = cfg["nproc"]
    for which, value in limits.items():
        if value is not None:
            resource.setrlimit(which, (int(value), int(value)))
    if root and uid is not None:
        os.chown(conn, uid, gid)
        ctypes.CDLL(None).prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
        os.setgroups([])
        os.setgid(gid)
        os.setuid(uid)
    # The kernel dies with the grader process that started it (set after setuid, which
    # clears it); processes the kernel starts itself are found by uid or token instead.
    ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, 9, 0, 0, 0)
    os.chdir(cfg["workdir"])
    argv = [cfg["python"], "-m", "ipykernel_launcher", "-f", conn,
            "--HistoryManager.enabled=False"]
    os.execve(cfg["python"], argv, dict(os.environ))


if __name__ == "__main__":
    main()
