"""The submissions folder: one entry per student, read without trusting anything in it.

:func:`find` turns every entry of the folder into exactly one :class:`Submission`, whatever it
is: ``<student>.ipynb``, ``<student>/`` (the notebook named after the assignment, else the
only or first ``.ipynb`` in it; a folder without one gets a row too), and any symlink, FIFO
or other special file (a row that refuses it). Only hidden entries that are not notebooks
(``.ipynb_checkpoints``, ``.git``) and regular files that are not notebooks (a roster, say)
are skipped, and :func:`find` reports them.

Student ids name the output folders and the CSV rows, so they must be safe and distinct: a
name made of ``[A-Za-z0-9._-]`` that does not start with a dot is kept as it is; any other
name, and every name two entries share (``alice.ipynb`` and ``alice/``), gets a short hash of
the original appended (``jos_-3f2a9c1b``), and the note on the row says so. :func:`read`
opens the notebook with ``O_NOFOLLOW | O_NONBLOCK`` below a folder descriptor opened the same
way, checks it is a regular file of acceptable size, and reads at most that many bytes.
"""

from __future__ import annotations

import dataclasses
import errno
import hashlib
import os
import re
import stat
from pathlib import Path

MAX_BYTES = 20 << 20
_SAFE = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9._-]{0,79}$")


@dataclasses.dataclass
class Submission:
    """One entry of the submissions folder.

    Attributes:
      student: the id used for the output folder and the CSV row (safe and unique).
      original: the entry's name as found (``alice.ipynb``, ``bob/backprop.ipynb``).
      relpath: the notebook's path relative to the folder (None if there is none).
      problem: why it cannot be graded (a symlink, not a regular file, no notebook), or None.
      notes: what the student and the instructor should know (a name changed, files ignored).
    """

    student: str
    original: str
    relpath: str | None
    problem: str | None = None
    notes: list[str] = dataclasses.field(default_factory=list)


def _hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:8]


def _printable(name: str) -> str:
    return name.encode("utf-8", "backslashreplace").decode("utf-8")[:200]


def _safe(name: str) -> str:
    s = re.sub(r"[^A-Za-z0-9._-]", "_", name).lstrip(".")[:60]
    return s or "_"


def _entry(folder: Path, name: str, assignment: str) -> Submission | None:
    path = folder / name
    try:
        st = os.lstat(path)
    except OSError as e:
        return Submission("", name, None, f"cannot be read ({e.strerror})")
    is_nb = name.endswith(".ipynb")
    if name.startswith(".") and not is_nb:
        return None  # .ipynb_checkpoints, .git, .DS_Store: not a student
    if stat.S_ISLNK(st.st_mode):
        return Submission("", name, None, "refused: the submission is a symbolic link")
    if stat.S_ISDIR(st.st_mode):
        try:
            inside = sorted(os.listdir(path))
        except OSError as e:
            return Submission("", name, None, f"the folder cannot be read ({e.strerror})")
        nbs = [n for n in inside if n.endswith(".ipynb")]
        if not nbs:
            return Submission("", name, None, "the folder holds no .ipynb notebook")
        pick = f"{assignment}.ipynb" if f"{assignment}.ipynb" in nbs else nbs[0]
        sub = Submission("", name, f"{name}/{pick}")
        if len(nbs) > 1:
            others = ", ".join(_printable(n) for n in nbs if n != pick)[:200]
            sub.notes.append(f"graded {_printable(pick)}; also in the folder: {others}")
        return sub
    if not stat.S_ISREG(st.st_mode):
        return Submission("", name, None, "refused: the submission is not a regular file")
    if not is_nb:
        return None  # a roster, a README: not a submission
    return Submission("", name, name)


def find(folder: Path, assignment: str) -> tuple[list[Submission], list[str]]:
    """Every submission in ``folder``, and the names of the entries skipped.

    Raises:
      FileNotFoundError: ``folder`` is not a folder.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"submissions folder {folder} not found")
    subs, skipped = [], []
    for name in sorted(os.listdir(folder)):
        sub = _entry(folder, name, assignment)
        if sub is None:
            skipped.append(_printable(name))
        else:
            subs.append(sub)
    stems = [s.original[:-len(".ipynb")] if s.original.endswith(".ipynb") and
             "/" not in (s.relpath or "") else s.original for s in subs]
    count: dict[str, int] = {}
    for stem in stems:
        count[_safe(stem)] = count.get(_safe(stem), 0) + 1
    for sub, stem in zip(subs, stems, strict=True):
        base = _safe(stem)
        if _SAFE.match(stem) and count[base] == 1:
            sub.student = stem
            continue
        sub.student = f"{base}-{_hash(sub.original)}"
        if count[base] > 1:
            same = [_printable(s.original) for s, t in zip(subs, stems, strict=True)
                    if _safe(t) == base and s is not sub]
            sub.notes.append(f"another submission has the same name after making it safe "
                             f"({', '.join(same)[:200]}); this one is graded as {sub.student}")
        else:
            sub.notes.append(f"the name {_printable(stem)!r} is graded as {sub.student}")
    return subs, skipped


class Unreadable(OSError):
    """The notebook cannot be read as a submission; the message is the row's status."""


def _open(name: str, dir_fd: int, flags: int, what: str) -> int:
    try:
        return os.open(name, flags | os.O_NOFOLLOW, dir_fd=dir_fd)
    except OSError as e:
        if e.errno == errno.ELOOP or (e.errno == errno.ENOTDIR and what == "folder"):
            raise Unreadable(f"refused: the {what} {_printable(name)!r} is a symbolic link "
                             "or not a folder") from None
        raise Unreadable(f"cannot be read: the {what} {_printable(name)!r} cannot be opened "
                         f"({e.strerror})") from None


def read(folder: Path, sub: Submission, max_bytes: int = MAX_BYTES) -> bytes:
    """The bytes of ``sub``'s notebook, refusing symlinks, non-regular and oversized files.

    The file is opened below the submissions folder's descriptor, each step with
    ``O_NOFOLLOW``, and without blocking (a FIFO cannot stall the grader).

    Raises:
      Unreadable: with the status to record ("refused: ..." or "cannot be read: ...").
    """
    if sub.relpath is None:
        raise Unreadable(sub.problem or "no notebook")
    parts = sub.relpath.split("/")
    dir_fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for part in parts[:-1]:
            nxt = _open(part, dir_fd, os.O_RDONLY | os.O_DIRECTORY, "folder")
            os.close(dir_fd)
            dir_fd = nxt
        fd = _open(parts[-1], dir_fd, os.O_RDONLY | os.O_NONBLOCK, "notebook")
    finally:
        os.close(dir_fd)
    with os.fdopen(fd, "rb") as f:
        st = os.fstat(f.fileno())
        if not stat.S_ISREG(st.st_mode):
            raise Unreadable("refused: the submission is not a regular file")
        if st.st_size > max_bytes:
            raise Unreadable(f"cannot be read: the file is {st.st_size >> 20} MiB, more than "
                             f"{max_bytes >> 20} MiB")
        data = f.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise Unreadable(f"cannot be read: the file is more than {max_bytes >> 20} MiB")
    return data
