"""A progress bar that leaves one plain line behind: ``for step in progress(range(300), desc=...)``.

While the loop runs, it is a ``tqdm`` bar (a widget in a notebook, text in a terminal). When
the loop ends, in a notebook the bar is replaced by one line saying what ran and how long it
took, e.g. ``gradient descent: 300 steps in 1.2 s``, so a saved notebook shows that line
rather than a bar frozen at "0%" (a widget's text fallback) or one that needs a kernel.
In a terminal tqdm's own last line stays.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from typing import Any

__all__ = ["progress"]


def _in_notebook() -> bool:
    try:
        from IPython import get_ipython

        return getattr(get_ipython(), "kernel", None) is not None
    except ImportError:
        return False


class progress:  # noqa: N801 - used like a function, as tqdm is
    """Iterates over ``iterable`` with a progress bar; see the module docstring.

    Args:
      iterable: what to loop over (``len`` is used for the total when it has one).
      desc: what the loop does, e.g. ``"gradient descent"``.
      unit: what one item is, e.g. ``"step"`` or ``"epoch"`` (the line says "300 steps").
      total: the number of items, when ``iterable`` has no ``len``.
      disable: no bar and no line.

    Attributes:
      n: items done so far.
      postfix: the text given to :meth:`set_postfix` (shown after the bar and in the line).

    Example:
      >>> for step in progress(range(300), desc="gradient descent", unit="step"):
      ...     params = update(params)
    """

    def __init__(self, iterable: Iterable[Any], *, desc: str, unit: str = "step",
                 total: int | None = None, disable: bool = False) -> None:
        self.iterable, self.desc, self.unit, self.disable = iterable, desc, unit, disable
        self.total = total if total is not None else (
            len(iterable) if hasattr(iterable, "__len__") else None)  # type: ignore[arg-type]
        self.n, self.postfix = 0, ""
        self._bar, self._handle, self._start, self._closed = None, None, 0.0, False

    def _open(self) -> None:
        self._start = time.perf_counter()
        if self.disable:
            return
        if _in_notebook():
            from IPython.display import display
            from tqdm.notebook import tqdm as notebook_tqdm

            self._bar = notebook_tqdm(total=self.total, desc=self.desc, unit=self.unit,
                                      display=False, leave=True)
            self._handle = display(self._bar.container, display_id=True)
        else:
            from tqdm import tqdm

            self._bar = tqdm(total=self.total, desc=self.desc, unit=self.unit, leave=True)

    def __iter__(self) -> Iterator[Any]:
        self._open()
        try:
            for item in self.iterable:
                yield item
                self.n += 1
                if self._bar is not None:
                    self._bar.update(1)
        finally:
            self.close()

    def set_postfix(self, **values: Any) -> None:
        """Shows ``key=value`` pairs after the bar (floats rounded to 4 significant digits)."""
        self.postfix = ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
                                 for k, v in values.items())
        if self._bar is not None:
            self._bar.set_postfix_str(self.postfix)

    def line(self) -> str:
        """The line left behind: what ran, how many items, how long, and the postfix."""
        seconds = time.perf_counter() - self._start
        plural = self.unit if self.n == 1 else self.unit + "s"
        done = f"{self.n} {plural}" if self.total in (None, self.n) else \
            f"{self.n} of {self.total} {self.unit}s (stopped early)"
        text = f"{self.desc}: {done} in {seconds:.1f} s"
        return f"{text} ({self.postfix})" if self.postfix else text

    def close(self) -> None:
        """Ends the bar; in a notebook, replaces it with :meth:`line`. Safe to call twice."""
        if self._closed:
            return
        self._closed = True
        if self._bar is not None:
            self._bar.close()
        if self._handle is not None:
            self._handle.update({"text/plain": self.line()}, raw=True)
