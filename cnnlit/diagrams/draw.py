"""Drawing: a network as a row of feature-map blocks, a branched module as a block graph
(matplotlib).

Every figure keeps what it wrote, so a test can compare it with the model: for :func:`draw`,
``figure.diagram_rows`` (the :class:`~cnnlit.diagrams.rows.Layer` records) and
``figure.diagram_labels`` ((name, shape label) per block); for :func:`draw_block`,
``figure.block_graph`` and ``figure.diagram_labels`` ((branch, operations, shape label)).
"""
from __future__ import annotations

import math
from typing import Optional, Sequence

import matplotlib.pyplot as plt
from matplotlib.patches import FancyArrowPatch, Polygon, Rectangle
from torch import nn

from .blocks import block_graph
from .rows import diagram_rows, shape_label

__all__ = ["COLOURS", "FONT", "WIDTH", "draw", "draw_block"]

WIDTH = 10.0              # inches: the notebook's width
FONT = 8                  # points, the smallest text in a figure
COLOURS = {"input": "#d9d9d9", "conv": "#9ecae1", "pool": "#fdd49e", "fc": "#a1d99b",
           "inception": "#cbc9e2",
           "residual": "#fdae6b", "stage": "#fdae6b", "other": "#e5e5e5", "merge": "#ffffff"}
MAX_HEIGHT = 1.25         # inches: the tallest block (the largest map)
LINE = 0.15               # inches per line of FONT-sized text


def _height(side: int) -> float:
    """Block height, in inches, from the spatial side, log-scaled so 1 to 227 pixels fit on a page.
    """
    return min(MAX_HEIGHT, 0.14 + 0.14 * math.log2(max(side, 1)))


def _width(channels: int) -> float:
    """Block thickness, in inches, from the number of maps, log-scaled so 1 to 4,096 fit."""
    return min(0.5, 0.05 + 0.035 * math.log2(max(channels, 1)))


def _box(axis, x: float, y: float, width: float, height: float, colour: str) -> tuple[float, float]:
    """A stack of maps in perspective, centred at (x, y): the front face is ``width`` (the maps) by
    ``height`` (the map's side); the receding faces stand for the map's other side. Returns its x
    extent."""
    depth = 0.3 * height
    left, bottom = x - (width + depth) / 2, y - (height + depth) / 2
    style = dict(facecolor=colour, edgecolor="#333333", linewidth=0.7)
    axis.add_patch(Rectangle((left, bottom), width, height, **style))
    axis.add_patch(Polygon([(left, bottom + height), (left + depth, bottom + height + depth),
                            (left + width + depth, bottom + height + depth), (left + width,
                                                                              bottom + height)],
                           closed=True, **style))
    axis.add_patch(Polygon([(left + width, bottom), (left + width + depth, bottom + depth),
                            (left + width + depth, bottom + height + depth), (left + width,
                                                                              bottom + height)],
                           closed=True, **style))
    return left, left + width + depth


def _block(axis, x: float, y: float, shape: tuple, kind: str,
           towers: int = 1) -> tuple[float, float]:
    """Draw one layer's output centred at (x, y); returns its x extent (for the arrows)."""
    colour = COLOURS.get(kind, COLOURS["other"])
    if len(shape) == 3:
        channels, side = shape[0], max(shape[1], shape[2])
        height = _height(side)
        # one stack per group, one above the other (AlexNet, Fig. 2)
        if towers > 1:
            part, gap = height * 0.6, height * 0.08
            extents = [_box(axis, x, y + (index - (towers - 1) / 2) * (part * 1.3 + gap),
                            _width(channels // towers), part, colour) for index in range(towers)]
            return min(e[0] for e in extents), max(e[1] for e in extents)
        return _box(axis, x, y, _width(channels), height, colour)
    units = int(math.prod(shape))            # a vector: a thin bar
    height = min(MAX_HEIGHT * 1.2, 0.14 + 0.11 * math.log2(max(units, 1)))
    axis.add_patch(Rectangle((x - 0.05, y - height / 2), 0.1, height, facecolor=colour,
                             edgecolor="#333333",
                             linewidth=0.7))
    return x - 0.05, x + 0.05


def _rows_of(count: int, per_row: int) -> list[range]:
    rows = max(1, math.ceil(count / per_row))
    size = math.ceil(count / rows)           # balanced rows
    return [range(start, min(start + size, count)) for start in range(0, count, size)]


def _caption(shape: tuple, text: str, towers: int, extras: tuple) -> list[str]:
    lines = [shape_label(shape)] + (text.split("\n") if text else [])
    if towers > 1 and "groups" not in text:
        lines.append(f"{towers} towers")
    shown = [e for e in extras if e not in ("flatten", "identity")]
    if shown:
        lines.append("+ " + ", ".join(shown))
    return lines


def _model_name(model: nn.Module) -> str:
    """'VGG-E', 'ResNet-34', 'LeNet5': the class name and the model's configuration or depth if it
    has one.
    """
    name = type(model).__name__
    for attribute in ("config", "depth"):
        value = getattr(model, attribute, None)
        if isinstance(value, (str, int)) and not isinstance(value, bool):
            return f"{name}-{value}"
    return name


def draw(model: nn.Module, input_shape: Sequence[int], *, level: str = "auto",
         title: Optional[str] = None,
         per_row: int = 10):
    """The network ``model`` drawn from itself for an input of ``input_shape`` (with the batch
    dimension): one block per layer, its height the map's side and its thickness the number of maps
    (both on a log scale), labelled with the layer's name, its kernel/stride and its output
    (``16@10×10``). Grouped convolutions are drawn as one tower per group; element-wise layers are
    written under the layer they follow; residual blocks are one block each (or one per stage, see
    :func:`diagram_rows`). At most ``per_row`` blocks side by side; longer networks continue on the
    next row."""
    layers = diagram_rows(model, input_shape, level=level)
    input_label = shape_label(tuple(input_shape[1:]))
    items = [("input", "input", tuple(input_shape[1:]), "", 1, ())] + [
        (layer.name, layer.kind, layer.shape, layer.operation, layer.towers,
         layer.extras) for layer in layers]
    captions = [_caption(shape, text, towers,
                         extras) for _, _, shape, text, towers, extras in items]
    rows = _rows_of(len(items), per_row)
    slot = WIDTH / max(len(r) for r in rows)
    row_heights = [0.3 + MAX_HEIGHT * 1.35 + 0.1 + LINE * max(len(captions[i]) for i in row) + 0.15
                   for row in rows]
    head = 0.4
    height = head + sum(row_heights)
    figure = plt.figure(figsize=(WIDTH, height))
    axis = figure.add_axes([0.0, 0.0, 1.0, 1.0])
    axis.set_xlim(0, WIDTH)
    axis.set_ylim(-height, 0)
    axis.axis("off")
    top = -head
    for row, row_height in zip(rows, row_heights):
        centre = top - 0.3 - MAX_HEIGHT * 1.35 / 2
        previous_right = None
        for column, index in enumerate(row):
            name, kind, shape, _, towers, _ = items[index]
            x = (column + 0.5) * slot
            left, right = _block(axis, x, centre, shape, kind, towers)
            axis.text(x, top - 0.1, name, ha="center", va="top", fontsize=FONT, fontweight="bold")
            axis.text(x, centre - MAX_HEIGHT * 1.35 / 2 - 0.1, "\n".join(captions[index]),
                      ha="center", va="top",
                      fontsize=FONT, linespacing=1.2)
            if previous_right is not None:
                axis.add_patch(FancyArrowPatch((previous_right + 0.04, centre),
                                               (left - 0.04, centre),
                                               arrowstyle="-|>", mutation_scale=7, color="#555555",
                                               lw=0.7,
                                               shrinkA=0, shrinkB=0))
            previous_right = right
        top -= row_height
    heading = title if title is not None else f"{_model_name(model)} on a {input_label} input"
    axis.text(WIDTH / 2, -0.12, heading, ha="center", va="top", fontsize=FONT + 2)
    figure.alt_text = (f"Figure: {heading}, one block per layer with its output maps: "
                       + ", ".join(f"{item[0]} {shape_label(item[2])}" for item in items) + ".")
    figure.diagram_rows = layers
    figure.diagram_labels = [(layer.name, layer.label) for layer in layers]
    figure.diagram_input = input_label
    return figure


NODE_WIDTH, NODE_HEIGHT, STEP = 1.85, 0.42, 0.72     # inches, for block graphs
GREY = "#555555"


def _node(axis, x: float, y: float, text: str, colour: str, width: float = NODE_WIDTH,
          height: float = NODE_HEIGHT) -> None:
    axis.add_patch(Rectangle((x - width / 2, y - height / 2), width, height, facecolor=colour,
                             edgecolor="#333333", linewidth=0.7))
    axis.text(x, y, text, ha="center", va="center", fontsize=FONT, linespacing=1.1)


def _route(axis, points) -> None:
    """An orthogonal connector through ``points``, with an arrow head on its last segment."""
    if len(points) > 2:
        xs, ys = zip(*points[:-1])
        axis.plot(xs, ys, color=GREY, lw=0.7, solid_capstyle="butt")
    axis.add_patch(FancyArrowPatch(points[-2], points[-1], arrowstyle="-|>", mutation_scale=7,
                                   color=GREY,
                                   lw=0.7, shrinkA=0, shrinkB=0))


def _step_colour(operation: str) -> str:
    if "pool" in operation:
        return COLOURS["pool"]
    return COLOURS["other"] if "zero-pad" in operation else COLOURS["conv"]


def draw_block(module: nn.Module, input_shape: Sequence[int], *, title: Optional[str] = None):
    """A branched module as a block graph, input at the top, output at the bottom: an Inception
    module's four branches and their filter concatenation, or a residual block's path F(x) beside
    its shortcut (identity, 1×1 projection, or option A's zero padding), their sum and the ReLU
    after it. Read from ``module`` itself for an input of ``input_shape`` (with the batch
    dimension)."""
    graph = block_graph(module, input_shape)
    columns = len(graph.branches)
    depth = max(max(len(b.steps) for b in graph.branches), 1)
    spacing = NODE_WIDTH + 0.3
    width = max(columns, 2) * spacing + 0.2
    height = 0.45 + STEP * (depth + 3 + len(graph.after)) + 0.1
    figure = plt.figure(figsize=(width, height))
    axis = figure.add_axes([0.0, 0.0, 1.0, 1.0])
    axis.set_xlim(-width / 2, width / 2)
    axis.set_ylim(-height, 0)
    axis.axis("off")
    half = NODE_HEIGHT / 2
    top = -0.45 - half
    _node(axis, 0, top, f"input\n{shape_label(graph.input_shape)}", COLOURS["input"])
    fork = top - half - 0.12
    merge_y = top - STEP * (depth + 1)
    adding = graph.merge == "add"
    xs = [(index - (columns - 1) / 2) * spacing for index in range(columns)]
    for x, branch in zip(xs, graph.branches):
        # identity shortcut: a bare line around the residual path
        if not branch.steps:
            _route(axis, [(0, top - half), (0, fork), (x, fork), (x, merge_y), (0.17, merge_y)])
            axis.text(x + 0.06, (fork + merge_y) / 2, "identity", fontsize=FONT, rotation=90,
                      va="center")
            continue
        y = top - STEP
        _route(axis, [(0, top - half), (0, fork), (x, fork), (x, y + half)])
        for number, step in enumerate(branch.steps):
            extras = f" + {', '.join(step.extras)}" if step.extras else ""
            _node(axis, x, y, f"{step.operation}{extras}\n{step.label}",
                  _step_colour(step.operation))
            if number + 1 < len(branch.steps):
                _route(axis, [(x, y - half), (x, y - STEP + half)])
                y -= STEP
        if adding:
            side = 0.17 if x > 0 else -0.17
            _route(axis, [(x, y - half), (x, merge_y), (side, merge_y)])
        else:
            _route(axis, [(x, y - half), (x, merge_y + half)])
    if adding:
        axis.add_patch(plt.Circle((0, merge_y), 0.17, facecolor="white", edgecolor="#333333",
                                  lw=0.8))
        axis.text(0, merge_y, "+", ha="center", va="center", fontsize=FONT + 4)
        below = merge_y - 0.17
    elif graph.merge == "concatenate":
        _node(axis, 0, merge_y, f"filter concatenation\n{shape_label(graph.output_shape)}",
              COLOURS["merge"],
              width=width - 0.6)
        below = merge_y - half
    else:                                    # a plain block: the last step is the output
        below = merge_y + half
    y = merge_y
    for extra in graph.after:
        y -= STEP
        _route(axis, [(0, below), (0, y + 0.16)])
        _node(axis, 0, y, extra, COLOURS["other"], width=0.9, height=0.32)
        below = y - 0.16
    y -= STEP
    _route(axis, [(0, below), (0, y + half)])
    _node(axis, 0, y, f"output\n{shape_label(graph.output_shape)}", COLOURS["input"])
    axis.set_aspect("equal")
    heading = title if title is not None else graph.title
    axis.text(0, -0.12, heading, ha="center", va="top", fontsize=FONT + 2)
    branches = "; ".join(f"{b.name}: {', '.join(s.operation for s in b.steps) or 'identity'}"
                         for b in graph.branches)
    figure.alt_text = (f"Figure: {heading}, a block graph from a {shape_label(graph.input_shape)} "
                       f"input to a {shape_label(graph.output_shape)} output; branches: "
                       f"{branches}; merged by {graph.merge}.")
    figure.block_graph = graph
    figure.diagram_labels = graph.labels()
    return figure
