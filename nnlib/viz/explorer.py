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
"""

from __future__ import annotations

import html
import io
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import ipywidgets as widgets
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from nnlib import validation

__all__ = ["Explorer", "new_figure", "figure_png", "label", "choose"]


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


class Explorer(widgets.VBox):
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
