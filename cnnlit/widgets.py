"""Interactive controls for the chapters, and their kernel-free counterparts for the rendered site.

A chapter's view is a plain plotting function that returns a matplotlib Figure (unit-tested on its
own).

- :func:`control` shows it with ipywidgets in JupyterLab and Colab: one control per keyword, the
  figure redrawn on every change.
- The rendered site has no kernel, so the site shows, in place of the control, a counterpart made by
  the same function ahead of time: :func:`frames` (a slider over pre-rendered frames of the
  control's main parameter, a small JavaScript player) or :func:`small_multiples` (a few settings
  side by side, where two parameters matter).

Figures are fitted to a notebook's width (:data:`NOTEBOOK_WIDTH`), so that a wide figure is not
shrunk by the browser until its titles are unreadable. ipywidgets is imported only when a control is
made.
"""
from __future__ import annotations

import base64
import html
import inspect
import io
import json
import math
import textwrap
import uuid
import warnings
from typing import Any, Callable, Iterable, Mapping, Sequence

__all__ = ["DPI", "FRAMES_IN_A_CHECK", "GAP", "NOTEBOOK_WIDTH", "Frames", "clamp", "control",
           "decimals", "defaults", "fit_to_width", "frames", "label", "make_control", "png",
           "png_width", "readout_format", "redraw", "render", "small_multiples", "wrap_titles"]

# inches; at 100 dpi 850 px, what a JupyterLab notebook shows on a laptop screen
NOTEBOOK_WIDTH = 8.5
DPI = 100
GAP = 8                   # pixels between small multiples
PAD = 0.05                # inches of margin around a saved figure
# A check run (the smoke profile, or a dry run) proves that a cell runs, not what it shows: there a
# player draws at most this many of its frames, its start frame among them.
FRAMES_IN_A_CHECK = 3


def clamp(value, low, high):
    """``value`` limited to [low, high]: out-of-range input from a control never raises."""
    return max(low, min(high, value))


def decimals(step: float, most: int = 8) -> int:
    """The number of decimals that shows every multiple of ``step`` exactly (0.05 -> 2, 2e-5 -> 5).
    """
    if not math.isfinite(step) or step <= 0:
        raise ValueError(f"a slider's step must be a positive number, got {step!r}")
    for places in range(most + 1):
        if abs(round(step, places) - step) <= 1e-9 * step:
            return places
    return most


def readout_format(step: float) -> str:
    """The ipywidgets readout format for a float slider moving by ``step``: its value at the
    precision it moves in (ipywidgets' default ``.2f`` reads 0.00 for every value of a slider near
    1e-4)."""
    return f".{decimals(step)}f"


def _wrap(text, limit: float, renderer) -> bool:
    """Break a title wider than ``limit`` pixels into lines that fit; math is never broken."""
    words = text.get_text()
    if not words or "$" in words or text.get_window_extent(renderer).width <= limit:
        return False
    per_line = max(12, int(len(words) * limit / text.get_window_extent(renderer).width))
    text.set_text("\n".join(textwrap.fill(line, per_line) for line in words.splitlines()))
    return True


def wrap_titles(figure) -> bool:
    """Wrap the figure's title to the figure's width and each axes' titles to about the axes' width,
    so that no title spills out of a narrowed figure (where a notebook would shrink the whole
    picture to show it) or over its neighbour. Returns whether any title changed."""
    renderer = figure.canvas.get_renderer()
    changed = False
    suptitle = getattr(figure, "_suptitle", None)
    if suptitle is not None:
        changed |= _wrap(suptitle, 0.98 * figure.bbox.width, renderer)
    for axis in figure.axes:
        limit = max(1.15 * axis.get_window_extent(renderer).width, 120)
        for title in (axis.title, getattr(axis, "_left_title", None),
                      getattr(axis, "_right_title", None)):
            if title is not None:
                changed |= _wrap(title, min(limit, 0.98 * figure.bbox.width), renderer)
    return changed


def _title_overlap(figure, renderer) -> float:
    """Pixels by which the figure's title reaches down over the highest axes title or axes (0:
    none).
    """
    suptitle = getattr(figure, "_suptitle", None)
    if suptitle is None or not suptitle.get_text() or not figure.axes:
        return 0.0
    figure.draw_without_rendering()              # titles find their places when the figure is drawn
    tops = [axis.get_window_extent(renderer).y1 for axis in figure.axes if axis.get_visible()]
    tops += [title.get_window_extent(renderer).y1 for axis in figure.axes for title in (axis.title,)
             if title.get_text()]
    return max(0.0, max(tops, default=0.0) - suptitle.get_window_extent(renderer).y0)


def _tight_layout(figure) -> None:
    """Lay the figure out again after a change of size, unless it has a constrained layout (which
    lays itself out when drawn). A figure that once called ``tight_layout`` keeps only a placeholder
    engine."""
    from matplotlib.layout_engine import ConstrainedLayoutEngine

    if not isinstance(figure.get_layout_engine(), ConstrainedLayoutEngine):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")           # "tight_layout not applied" for odd layouts
            figure.tight_layout()


def fit_to_width(figure, width: float = NOTEBOOK_WIDTH):
    """Make ``figure`` at most ``width`` inches wide as saved, keeping its font sizes (and its
    aspect ratio), so that a notebook shows it at full size instead of scaling the whole picture,
    text included, down: a wider figure is narrowed, titles that no longer fit are wrapped, and
    whatever still spills out of the figure (a long label) is made room for by narrowing it a little
    more."""
    current_width, current_height = figure.get_size_inches()
    if current_width > width:
        figure.set_size_inches(width, current_height * width / current_width)
        wrap_titles(figure)
        _tight_layout(figure)
    elif wrap_titles(figure):
        _tight_layout(figure)
    renderer = figure.canvas.get_renderer()
    # a narrowed figure is also lower: room for the title above the axes
    for _ in range(3):
        overlap = _title_overlap(figure, renderer)
        if overlap <= 0:
            break
        current_width, current_height = figure.get_size_inches()
        figure.set_size_inches(current_width, current_height + overlap / figure.dpi + 0.1)
        _tight_layout(figure)
    for _ in range(3):
        # inches, as savefig writes it
        saved = figure.get_tightbbox(renderer).width + 2 * PAD
        excess = saved - width
        if excess <= 0.005:
            break
        current_width, current_height = figure.get_size_inches()
        narrower = max(current_width - excess, current_width / 2)
        figure.set_size_inches(narrower, current_height * narrower / current_width)
        _tight_layout(figure)
    return figure


def render(plot: Callable, values: Mapping[str, Any] | None = None, width: float = NOTEBOOK_WIDTH):
    """``plot(**values)``, checked to be a Figure and fitted to ``width`` inches."""
    from matplotlib.figure import Figure

    figure = plot(**(values or {}))
    if not isinstance(figure, Figure):
        raise TypeError(f"{getattr(plot, '__name__', plot)!r} must return a matplotlib Figure, "
                        f"got {type(figure).__name__}")
    return fit_to_width(figure, width)


def png(figure, dpi: int = DPI) -> bytes:
    """The figure as PNG bytes, carrying its alt sentence (:mod:`cnnlit.alt_text`); the figure is
    closed (so that the notebook does not show it again)."""
    import matplotlib.pyplot as plt

    from .alt_text import describe, with_description

    buffer = io.BytesIO()
    try:
        described = describe(figure)
        figure.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight", pad_inches=PAD)
    finally:
        plt.close(figure)
    return with_description(buffer.getvalue(), described) if described else buffer.getvalue()


def _picture(figure) -> tuple[bytes, str]:
    """The figure's PNG and the alt sentence it carries ('' if none)."""
    from .alt_text import read_description

    image = png(figure)
    return image, read_description(image) or ""


def _alt(described: str, setting: str) -> str:
    """A frame's or panel's alt text: its figure's sentence and the setting it shows."""
    return f"{described.rstrip('.')}; {setting}." if described else setting


def png_width(image: bytes) -> int:
    """The width in pixels written in a PNG's header."""
    if image[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG image")
    return int.from_bytes(image[16:20], "big")


def _data_uri(image: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(image).decode("ascii")


def _parameters(plot: Callable) -> dict:
    try:
        return dict(inspect.signature(plot).parameters)
    except (TypeError, ValueError):               # a builtin without a signature: accept any name
        return {}


def _check_names(plot: Callable, names: Iterable[str]) -> None:
    parameters = _parameters(plot)
    if not parameters or any(p.kind is p.VAR_KEYWORD for p in parameters.values()):
        return
    unknown = [name for name in names if name not in parameters]
    if unknown:
        raise ValueError(f"{getattr(plot, '__name__', 'plot')} has no parameter "
                         f"{', '.join(map(repr, unknown))}; it takes {', '.join(parameters)}")


def defaults(plot: Callable) -> dict:
    """The plotting function's keyword defaults: the values a control starts from."""
    return {
        name: p.default
        for name, p in _parameters(plot).items()
        if p.default is not inspect.Parameter.empty
    }


# --- the live control (JupyterLab, Colab)
# -------------------------------------------------------------------

def redraw(plot: Callable, values: Mapping[str, Any]) -> bytes:
    """The control's callback: the figure for ``values`` as PNG (fitted to the notebook's width)."""
    return png(render(plot, values))


def _styled(widget, name: str):
    """One control: its label in full (never cut), its readout at the precision it moves in, and one
    redraw per change (when a slider is released or moved by a key), not one per pixel dragged."""
    import ipywidgets

    widget.description = widget.description or name
    choices = (ipywidgets.Dropdown, ipywidgets.Select, ipywidgets.RadioButtons,
               ipywidgets.ToggleButtons)
    if isinstance(widget, choices) and widget.index is None and widget.options:
        # a default of None selects nothing: show the first choice
        widget.index = 0
    if hasattr(widget, "style") and hasattr(widget.style, "description_width"):
        widget.style.description_width = "initial"
    if isinstance(widget, (ipywidgets.FloatSlider, ipywidgets.FloatRangeSlider)):
        widget.readout_format = readout_format(widget.step)
    if hasattr(widget, "continuous_update"):
        widget.continuous_update = False
    return widget


def make_control(plot: Callable, **controls):
    """The ipywidgets ``interactive`` for ``plot`` with one control per keyword (ipywidgets
    abbreviations: ``(low, high, step)`` a slider, a list a dropdown, a bool a checkbox, or a
    widget); each control starts at ``plot``'s default for it where it has one."""
    import ipywidgets
    from IPython.display import Image, display

    if not controls:
        raise ValueError("make_control needs at least one control, e.g. make_control(plot, "
                         "index=(0, 9, 1))")
    _check_names(plot, controls)
    start = defaults(plot)
    widgets = {}
    for name, abbreviation in controls.items():
        if isinstance(abbreviation, ipywidgets.Widget):
            widget = abbreviation
        else:
            widget = ipywidgets.interactive.widget_from_abbrev(abbreviation,
                                                               start.get(name,
                                                                         inspect.Parameter.empty))
            if widget is None:
                raise ValueError(f"cannot make a control for {name}={abbreviation!r}: use (low, "
                                 f"high, step), "
                                 "a list of choices, a bool or a widget")
        widgets[name] = _styled(widget, name)

    def show(**values):
        display(Image(data=redraw(plot, values)))

    return ipywidgets.interactive(show, **widgets)


def control(plot: Callable, **controls) -> None:
    """Show ``plot`` with its controls (see :func:`make_control`), once. Returns None, so that a
    cell ending with the call does not display the control a second time."""
    try:
        from IPython.display import display
        widget = make_control(plot, **controls)
    except ImportError:
        print("cnnlit.widgets: ipywidgets is not installed; the pre-rendered figures above show "
              "the same views.")
        return None
    display(widget)
    return None


# --- the kernel-free counterparts (the site)
# ----------------------------------------------------------------

def label(name: str, value: Any, values: Sequence[Any] = ()) -> str:
    """``name = value``; a float with as many decimals as the most precise of ``values`` needs, so
    that every label of a slider reads alike and none rounds to another (1e-4 among 5e-5 steps:
    0.00010)."""
    if isinstance(value, float):
        numbers = [
            abs(v)
            for v in [*values, value]
            if isinstance(v, (int, float)) and not isinstance(v, bool)
        ]
        places = max([decimals(v) for v in numbers if v and math.isfinite(v)], default=1)
        return f"{name} = {value:.{max(places, 1)}f}"
    return f"{name} = {value}"


class Frames:
    """Pre-rendered frames of one view with a slider (and a play button) to step through them: what
    a control shows, in a plain browser with no kernel. Displays as HTML in a notebook and on the
    site."""

    def __init__(self, images: Sequence[bytes], labels: Sequence[str], start: int = 0,
                 name: str = "frame", descriptions: Sequence[str] | None = None):
        if not images or len(images) != len(labels):
            raise ValueError("Frames needs one label per image, and at least one image")
        self.images, self.labels = list(images), list(labels)
        self.descriptions = list(descriptions or [""] * len(images))   # each frame's alt sentence
        self.start = clamp(int(start), 0, len(images) - 1)
        self.name = name                          # what the slider moves (its accessible label)

    def __len__(self) -> int:
        return len(self.images)

    def _repr_html_(self) -> str:
        identifier = f"cnnlit-frames-{uuid.uuid4().hex[:12]}"
        pictures = "\n".join(
            f'<img src="{_data_uri(image)}" alt="{html.escape(_alt(described, text))}" '
            f'data-frame="{index}" '
            f'style="max-width:100%;height:auto"{"" if index == self.start else " hidden"}>'
            for index, (image, text, described) in enumerate(zip(self.images, self.labels,
                                                                 self.descriptions)))
        script = (
            "(function () {\n"
            f"  const root = document.getElementById({json.dumps(identifier)});\n"
            "  if (!root || root.dataset.ready) return;\n"
            "  root.dataset.ready = '1';\n"
            f"  const labels = {json.dumps(self.labels)};\n"
            "  const slider = root.querySelector('input[type=range]'), readout = "
            "root.querySelector('output');\n"
            "  const pictures = root.querySelectorAll('img[data-frame]'), play = "
            "root.querySelector('button');\n  let timer = null;\n"
            "  function show(index) {\n"
            "    index = Math.max(0, Math.min(labels.length - 1, Number(index)));\n"
            "    pictures.forEach((picture, i) => { picture.hidden = i !== index; });\n"
            "    slider.value = String(index); readout.textContent = labels[index];\n"
            "  }\n"
            "  slider.addEventListener('input', () => show(slider.value));\n"
            "  play.addEventListener('click', () => {\n"
            "    if (timer) { clearInterval(timer); timer = null; play.textContent = '\\u25B6'; "
            "return; }\n    play.textContent = '\\u23F8';\n"
            "    timer = setInterval(() => show((Number(slider.value) + 1) % labels.length), "
            "800);\n  });\n"
            "  show(slider.value);\n"
            "})();")
        return (
            f'<div class="cnnlit-frames" id="{identifier}">\n'
            '<div style="display:flex;align-items:center;gap:0.6em;flex-wrap:wrap">'
            '<button type="button" title="play / pause" aria-label="play or pause">\u25B6</button>'
            f'<input type="range" min="0" max="{len(self) - 1}" step="1" value="{self.start}" '
            f'aria-label="{html.escape(self.name)}" style="flex:1 1 12em;max-width:24em">'
            f'<output>{html.escape(self.labels[self.start])}</output></div>\n'
            f"{pictures}\n<script>{script}</script></div>")


def frames(plot: Callable, parameter: str, values: Iterable[Any], start: Any = None,
           **fixed) -> Frames:
    """One frame of ``plot`` per value of ``parameter`` (the other parameters at ``fixed`` or their
    defaults), behind a slider. The player starts at ``start``, else at ``plot``'s default for
    ``parameter`` where that is one of the values, else at the first value. In a check run (the
    smoke profile or a dry run) only :data:`FRAMES_IN_A_CHECK` of the values are drawn."""
    values = list(values)
    if not values:
        raise ValueError(f"frames needs at least one value of {parameter!r}")
    _check_names(plot, [parameter, *fixed])
    if parameter in fixed:
        raise ValueError(f"{parameter!r} is the parameter the frames move; do not fix it too")
    from .profiles import check_run

    first = start if start is not None else defaults(plot).get(parameter, values[0])
    if check_run() and len(values) > FRAMES_IN_A_CHECK:
        kept = values[:FRAMES_IN_A_CHECK]
        if first in values and first not in kept:
            kept[-1] = first
        values = kept
    images, descriptions = zip(*(_picture(render(plot, {**fixed, parameter: value}))
                                 for value in values))
    index = values.index(first) if first in values else 0
    return Frames(images, [label(parameter, value, values) for value in values], start=index,
                  name=parameter, descriptions=descriptions)


class Panels:
    """A few views side by side with their settings as captions (small multiples). Displays as HTML.
    """

    def __init__(self, images: Sequence[bytes], captions: Sequence[str], columns: int = 2,
                 descriptions: Sequence[str] | None = None):
        if not images or len(images) != len(captions):
            raise ValueError("Panels needs one caption per image, and at least one image")
        if columns < 1:
            raise ValueError(f"columns must be at least 1, got {columns}")
        self.images, self.captions, self.columns = list(images), list(captions), columns
        self.descriptions = list(descriptions or [""] * len(images))   # each panel's alt sentence

    def __len__(self) -> int:
        return len(self.images)

    def _repr_html_(self) -> str:
        cells = "\n".join(
            f'<figure style="margin:0"><img src="{_data_uri(image)}" '
            f'alt="{html.escape(_alt(described, caption))}" '
            f'style="max-width:100%;height:auto"><figcaption '
            f'style="text-align:center;font-size:0.9em">'
            f"{html.escape(caption)}</figcaption></figure>"
            for image, caption, described in zip(self.images, self.captions, self.descriptions))
        return (f'<div class="cnnlit-panels" style="display:grid;grid-template-columns:'
                f'repeat({self.columns},minmax(0,max-content));gap:{GAP}px">\n{cells}\n</div>')


def small_multiples(plot: Callable, settings: Sequence[Mapping[str, Any]],
                    columns: int = 2) -> Panels:
    """``plot`` at each of a few ``settings`` (dicts of keyword values), side by side, each
    captioned with its setting; each panel is fitted to its column so its text stays readable."""
    settings = [dict(setting) for setting in settings]
    if not settings:
        raise ValueError("small_multiples needs at least one setting")
    _check_names(plot, {name for setting in settings for name in setting})
    columns = min(columns, len(settings))
    width = (NOTEBOOK_WIDTH * DPI - GAP * (columns - 1)) / columns / DPI
    images, descriptions = zip(*(_picture(render(plot, setting, width)) for setting in settings))
    captions = [", ".join(label(name, value,
                                [s.get(name) for s in settings]) for name, value in setting.items())
                for setting in settings]
    return Panels(images, captions, columns=columns, descriptions=descriptions)
