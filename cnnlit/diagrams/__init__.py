"""Architecture diagrams computed from the models themselves: change the model and the figure
changes.

>>> from cnnlit import diagrams
>>> from cnnlit.layers import BasicBlock
>>> from cnnlit.models import get_model
>>> figure = diagrams.draw(get_model("lenet5"), (1, 1, 32, 32))      # one block per layer
>>> figure.diagram_labels[:3]
[('C1', '6@28×28'), ('S2', '6@14×14'), ('C3', '16@10×10')]
>>> block = diagrams.draw_block(BasicBlock(64, 128, stride=2), (1, 64, 56, 56))   # a block graph
>>> [branch.name for branch in block.block_graph.branches], block.block_graph.shortcut
(['residual', 'shortcut'], 'projection')
>>> diagrams.conv_arithmetic(5, kernel=3, stride=2, padding=1).output_size  # a sliding kernel
3
>>> diagrams.receptive_field([(3, 1), (3, 1), (3, 1)]).receptive_fields[-1]  # three 3×3: 7×7
('layer 3', 7)

Nothing is typed by hand: names, shapes and receptive fields come from
:func:`cnnlit.analysis.summary`, kernels, strides and branches from the module tree. Each figure
keeps what it labelled (``diagram_labels``, ``block_graph``, ``output_size``, ``receptive_fields``)
so tests compare it with the model.
"""
from .arithmetic import (
    Window,
    conv_arithmetic,
    output_size,
    receptive_field,
    receptive_fields,
    windows_of,
)
from .blocks import BlockGraph, Branch, Step, block_graph, representative_blocks
from .draw import draw, draw_block
from .rows import Layer, diagram_rows, shape_label

__all__ = ["BlockGraph", "Branch", "Layer", "Step", "Window", "block_graph", "conv_arithmetic",
           "diagram_rows", "draw", "draw_block", "output_size", "receptive_field",
           "receptive_fields", "representative_blocks", "shape_label", "windows_of"]
