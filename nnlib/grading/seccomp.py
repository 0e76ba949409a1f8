"""The sandbox's one seccomp rule: ``setsid`` fails (EPERM), so the CPU stays shared fairly.

Linux's scheduler shares the CPU between *sessions* first (autogroups, on by default on
desktop and server kernels): bubblewrap's ``--new-session`` puts a whole sandbox in one
session, so 400 busy processes in it get, together, the same share as the one process of the
student graded beside it (measured here: a 40-process hog left its neighbour at 100 % of its
speed). A process that calls ``setsid`` starts a session of its own and escapes that
accounting (measured: the same hog with ``setsid`` in each process slowed the neighbour 20
times), so the sandbox forbids it. Where the grader can make a cgroup (see
:mod:`nnlib.grading.cgroups`), the cgroup's CPU share bounds the sandbox as well.

:func:`program` is the classic BPF filter bubblewrap loads with ``--seccomp FD``: for each
architecture it knows (x86-64 with its x32 numbers, i386, aarch64) it denies ``setsid``,
and allows every other call.
"""

from __future__ import annotations

import struct

_LD_ABS_W = 0x20  # BPF_LD | BPF_W | BPF_ABS
_JEQ_K = 0x15  # BPF_JMP | BPF_JEQ | BPF_K
_RET_K = 0x06  # BPF_RET | BPF_K
_ALLOW = 0x7FFF0000  # SECCOMP_RET_ALLOW
_EPERM = 0x00050000 | 1  # SECCOMP_RET_ERRNO | EPERM
_NR, _ARCH = 0, 4  # offsets in struct seccomp_data
# (AUDIT_ARCH_*, setsid's numbers on it)
RULES = ((0xC000003E, (112, 0x40000000 | 112)),  # x86_64 (and the x32 ABI)
         (0x40000003, (66,)),  # i386
         (0xC00000B7, (157,)))  # aarch64


def program() -> bytes:
    """The filter as bubblewrap reads it: ``struct sock_filter`` entries, native byte order."""
    body: list[tuple] = []
    deny_jumps = []
    for arch, numbers in RULES:
        body.append((_LD_ABS_W, 0, 0, _ARCH))
        body.append((_JEQ_K, 0, len(numbers) + 2, arch))  # not this arch: skip its block
        body.append((_LD_ABS_W, 0, 0, _NR))
        for nr in numbers:
            deny_jumps.append(len(body))
            body.append((_JEQ_K, None, 0, nr))
        body.append((_RET_K, 0, 0, _ALLOW))
    body.append((_RET_K, 0, 0, _ALLOW))
    deny = len(body)
    body.append((_RET_K, 0, 0, _EPERM))
    out = []
    for i, (code, jt, jf, k) in enumerate(body):
        if i in deny_jumps:
            jt = deny - (i + 1)
        out.append(struct.pack("=HBBI", code, jt, jf, k))
    return b"".join(out)
