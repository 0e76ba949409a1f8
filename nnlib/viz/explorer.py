"""The building block every explorer shares: controls + a pure compute + a pure redraw.

An :class:`Explorer` is an ``ipywidgets.VBox`` holding

- ``controls``: a dict ``name -> widget`` (sliders, dropdowns, ...);
- one matplotlib :class:`~matplotlib.figure.Figure` made **without pyplot** (so no figure
  leaks into pyplot's registry and nothing is shown twice by the inline backend), reused for
  every redraw and shown as a PNG in an ``ipywidgets.Image``;
- ``state``: the dict of arrays the last redraw drew (what tests assert on).

A redraw is ``state = compute(**controls' values, **extra)`` followed by
``draw(figure, state)``; both are plain functions, so a test can call them without a browser,
or set a control (``explorer.controls["lr"].value = 0.5``) and read ``explorer.state``.
``extra`` holds inputs that buttons change (a random seed, a step counter).

Every figure widget (:class:`Explorer` and the training monitors) is a :class:`StaticView`:
besides the live widget, its display carries a PNG of the figure and its status line as text,
so a notebook read without a kernel (on a code host, in nbviewer, as a PDF) still shows the
figure. When code changes the widget (``explorer.set(...)``, a monitor during ``fit``), the
stored copy is brought up to date once, when the cell finishes; a change made in the browser
(a slider dragged) only redraws the live widget.
"""

from __future__ import annotations

import base64
import html
import io
import re
import weakref
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import ipywidgets as widgets
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from nnlib import validation

__all__ = ["Explorer", "StaticView", "new_figure", "figure_png", "label", "choose"]


def new_figure(figsize: tuple[float, float] = (8.0, 3.5), dpi: int = 80) -> Figure:
    """A matplotlib Figure with an Agg canvas, not registered with pyplot (nothing leaks)."""
    fig = Figure(figsize=figsize, dpi=dpi, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def figure_png(fig: Figure) -> bytes:
    """Renders ``fig`` to PNG bytes (what the Image widget shows).

    The Agg pixels are reduced to a 256-colour palette before encoding: plots have few
    colours, and the PNG gets about 3-4 times smaller (faster to send to the browser and
    lighter in a saved notebook) and is quicker to make than ``savefig``'s.
    """
    from PIL import Image  # a matplotlib dependency

    fig.canvas.draw()
    rgba = Image.frombuffer("RGBA", fig.canvas.get_width_height(), fig.canvas.buffer_rgba())
    img = rgba.convert("RGB").quantize(256, method=Image.Quantize.MEDIANCUT,
                                       dither=Image.Dither.NONE)
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def label(ax: Any, title: str, xlabel: str, ylabel: str) -> None:
    """Sets the title and both axis labels (every nnlib plot has all three)."""
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)


def choose(kind: str, name: Any, names: Iterable[str]) -> str:
    """The one of ``names`` that a user-given ``name`` means (a surface, a preset, a control).

    :func:`nnlib.validation.lookup` over ``names``: the exact name, else case-insensitively
    (``"Sigmoid"`` gives ``"sigmoid"``); its ``ValueError`` names ``name`` and lists the valid
    names when there is none.
    """
    return validation.lookup(kind, name, {n: n for n in names})


_STALE: weakref.WeakSet = weakref.WeakSet()  # views changed by code since their last copy
_HOOKED: list = []  # the IPython shells whose post_execute refreshes them


def _running_code() -> bool:
    """Whether the kernel is executing a cell (not answering the browser: a slider moved)."""
    try:
        from IPython import get_ipython

        kernel = getattr(get_ipython(), "kernel", None)
        parent = kernel.get_parent("shell") if kernel is not None else None
    except Exception:  # noqa: BLE001 - no IPython, or an older kernel API: no static copy
        return False
    return (parent or {}).get("header", {}).get("msg_type") == "execute_request"


def _refresh_stale() -> None:
    for view in list(_STALE):
        view.refresh_static()
    _STALE.clear()


class StaticView:
    """Mixin for a widget that shows a figure in ``self.image`` and a line in ``self.status``.

    Its display adds to the live widget a PNG of the current figure and the status as plain
    text (see the module docstring). The stored copy follows changes made by code: the display
    is updated when the cell that made them finishes.
    """

    image: widgets.Image
    status: widgets.HTML

    def _watch_static(self) -> None:
        self._static_handles: list = []
        self.image.observe(self._on_image, names="value")

    def static_bundle(self) -> dict:
        """The display data: the widget view, ``image/png`` and ``text/plain``."""
        data = dict(widgets.DOMWidget._repr_mimebundle_(self) or {})
        if self.image.value:
            data["image/png"] = base64.b64encode(self.image.value).decode("ascii")
        text = html.unescape(re.sub(r"<[^>]+>", "", self.status.value or "")).strip()
        data["text/plain"] = f"[{type(self).__name__}] {text}".strip()
        return data

    def _ipython_display_(self) -> None:
        from IPython import get_ipython
        from IPython.display import display

        shell = get_ipython()
        if shell is not None and shell not in _HOOKED:
            shell.events.register("post_execute", _refresh_stale)
            _HOOKED.append(shell)
        handle = display(self.static_bundle(), raw=True, display_id=True)
        if handle is not None:
            self._static_handles.append(handle)

    def _on_image(self, _change: Any) -> None:
        if self._static_handles and _running_code():
            _STALE.add(self)

    def refresh_static(self) -> None:
        """Updates every display of this widget with its current figure and status."""
        bundle = self.static_bundle()
        for handle in self._static_handles:
            handle.update(bundle, raw=True)


class Explorer(StaticView, widgets.VBox):
    """An interactive plot: ``controls`` above, the figure below, a status line under it.

    Args:
      controls: ``name -> widget``; each widget's ``value`` is passed to ``compute`` by name.
      compute: ``compute(**values, **extra) -> dict`` of what to draw (pure).
      draw: ``draw(figure, state) -> str`` draws ``state`` on the (cleared) figure and returns
        the status text (pure apart from the figure it draws on).
      figsize: the figure's size in inches.
      buttons: extra button widgets placed after the controls (their callbacks change
        ``extra`` and call :meth:`update`).
      extra: initial extra inputs to ``compute``.
      links: ``name -> fn(new_value) -> {other: value}``: when control ``name`` changes, the
        other controls are set too (e.g. a surface's default learning rate), with one redraw.

    Attributes:
      controls, figure, image (the ``ipywidgets.Image`` showing the figure), status
      (an ``ipywidgets.HTML``), state (the last computed dict), extra, redraws (a counter).
    """

    def __init__(
        self,
        controls: Mapping[str, widgets.Widget],
        compute: Callable[..., dict],
        draw: Callable[[Figure, dict], str | None],
        *,
        figsize: tuple[float, float] = (8.0, 3.5),
        buttons: tuple[widgets.Widget, ...] = (),
        extra: Mapping[str, Any] | None = None,
        links: Mapping[str, Callable[[Any], Mapping[str, Any]]] | None = None,
        rows: list[list[str]] | None = None,
        dpi: int = 80,
    ) -> None:
        self._links = dict(links or {})
        self.controls = dict(controls)
        self.extra = dict(extra or {})
        self._compute = compute
        self._draw = draw
        self.figure = new_figure(figsize, dpi)
        self.image = widgets.Image(format="png", layout=widgets.Layout(max_width="100%"))
        self.status = widgets.HTML()
        self.state: dict = {}
        self.redraws = 0
        self._holding = False
        names = list(self.controls)
        rows = rows or [names[i:i + 3] for i in range(0, len(names), 3)]
        boxes = [widgets.HBox([self.controls[n] for n in row],
                              layout=widgets.Layout(flex_flow="row wrap")) for row in rows]
        if buttons:
            boxes.append(widgets.HBox(list(buttons)))
        super().__init__(boxes + [self.image, self.status])
        self._watch_static()
        for name, control in self.controls.items():
            control.observe(self._on_change, names="value")
            control.add_class(f"nnlib-control-{name}")  # stable hooks for browser tests
        self.image.add_class("nnlib-plot")
        self.status.add_class("nnlib-status")
        self.update()

    def values(self) -> dict:
        """The controls' current values, by name."""
        return {name: c.value for name, c in self.controls.items()}

    def set(self, **values: Any) -> None:
        """Sets several controls at once with a single redraw (for tests and notebooks).

        Links apply as if each control had been moved by hand, but explicit values win.
        """
        values = {choose("control", name, self.controls): v for name, v in values.items()}
        linked: dict[str, Any] = {}
        for name, value in values.items():
            if name in self._links:
                linked.update(self._links[name](value))
        values = {**linked, **values}  # what the caller names explicitly wins
        self._holding = True
        try:
            for name, value in values.items():
                self.controls[name].value = value
        finally:
            self._holding = False
        self.update()

    def _on_change(self, change: Any) -> None:
        if self._holding:
            return
        for name in self._links:
            if change["owner"] is self.controls[name]:
                self.set(**{name: change["new"]})
                return
        self.update()

    def update(self) -> None:
        """Recomputes ``state`` from the controls and ``extra``, redraws, refreshes the image."""
        try:
            self.state = self._compute(**self.values(), **self.extra)
            self.figure.clear()
            text = self._draw(self.figure, self.state)
        except Exception as e:  # show it under the plot, and still raise for tests/logs
            self.status.value = f"<b>error:</b> {html.escape(f'{type(e).__name__}: {e}')}"
            raise
        self.image.value = figure_png(self.figure)
        self.status.value = text or ""  # after the image: a new status means a new plot was sent
        self.redraws += 1
