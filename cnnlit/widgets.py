"""Interactive controls for the chapters (ipywidgets, imported only when a control is made).

A chapter's control is a plain plotting function (unit-tested, and called once for the static figure the
rendered site shows) wrapped by :func:`explore`.
"""
from __future__ import annotations

from typing import Callable


def clamp(value, low, high):
    """``value`` limited to [low, high]: out-of-range input from a control never raises."""
    return max(low, min(high, value))


def explore(plot: Callable, **controls):
    """Show ``plot`` with a control per keyword (ipywidgets abbreviations: ``(0, 1, 0.1)``, a list, a bool,
    or a widget). Returns the ``interactive`` widget, or None where ipywidgets is missing."""
    try:
        import ipywidgets
        from IPython.display import display
    except ImportError:
        print("cnnlit.widgets: ipywidgets is not installed; the static figure above shows the default view.")
        return None
    widget = ipywidgets.interactive(plot, **controls)
    display(widget)
    return widget
