"""cnnlit.diagrams: every figure is read off its model, so its labels must equal the model's own
layers (names and output shapes from summary() and from forward hooks), and change when the model
changes."""
import gc
import re

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from matplotlib.text import Text  # noqa: E402
from torch import nn  # noqa: E402

from cnnlit import diagrams  # noqa: E402
from cnnlit.analysis import summary  # noqa: E402
from cnnlit.layers import BasicBlock, Bottleneck, Inception  # noqa: E402
from cnnlit.models import available_models, get_model  # noqa: E402

INITIALISERS = ("uniform_", "normal_", "trunc_normal_", "constant_", "zeros_", "ones_",
                "kaiming_uniform_",
                "kaiming_normal_", "xavier_uniform_", "xavier_normal_")


@pytest.fixture
def no_init(monkeypatch):
    """A diagram needs shapes, not weights: skip the initialisers (VGG's 140M weights take seconds
    to draw).
    """
    for name in INITIALISERS:
        monkeypatch.setattr(torch.nn.init, name, lambda tensor, *args, **kwargs: tensor)


# layers that carry the weights or change the shape: each must appear in the diagram (the
# element-wise ones -- activations, normalisations, dropout -- are written under the block they
# follow)
DRAWN_TYPES = {"Conv2d", "PartialConv2d", "MaxPool2d", "AvgPool2d", "AdaptiveAvgPool2d",
               "Subsampling", "Linear",
               "EuclideanRBF", "Inception"}


def input_shape(model: nn.Module) -> tuple:
    """A valid input for a registered network, read off its input check (``expected_input``): the
    size it fixes (the paper's), or its smallest size, at least 32, to keep the test quick."""
    match = re.match(r"\(N, (\d+), (?:(\d+), \d+\)|H, W\)(?: with H, W >= (\d+))?)",
                     model.expected_input)
    assert match, f"cannot read an input size from {model.expected_input!r}"
    channels, size, least = match.groups()
    return (1, int(channels), int(size or max(32, int(least or 0))),
            int(size or max(32, int(least or 0))))


def build(name: str) -> nn.Module:
    try:
        return get_model(name)
    except TypeError:                      # a family entry that needs an argument, e.g. the depth
        return get_model(name, depth=18)


def module_outputs(model: nn.Module, shape) -> dict:
    """Output shape (per image) and type of every named module on one forward pass, recorded by
    hooks in the order the modules finish (a module called twice keeps its last output)."""
    outputs, handles = {}, []
    for name, module in model.named_modules():
        if name:
            def record(m, i, o, name=name):
                outputs.pop(name, None)
                outputs[name] = (tuple(o.shape[1:]) if torch.is_tensor(o) else None,
                                 type(m).__name__)
            handles.append(module.register_forward_hook(record))
    model.eval()
    with torch.no_grad():
        model(torch.zeros(*shape))
    for handle in handles:
        handle.remove()
    return outputs


def text_sizes(figure) -> list:
    return [t.get_fontsize() for t in figure.findobj(Text) if t.get_text().strip()]


@pytest.mark.parametrize("name", available_models())
def test_labels_are_the_models_layers(name, no_init):
    model = build(name)
    shape = input_shape(model)
    figure = diagrams.draw(model, shape)
    try:
        labels = figure.diagram_labels
        assert labels == [(layer.name, layer.label) for layer in figure.diagram_rows]
        # every label names a module of the model and writes that module's real output shape
        outputs = module_outputs(model, shape)
        for layer_name, label in labels:
            assert layer_name in outputs, f"{layer_name} is not a module of {name}"
            assert label == diagrams.shape_label(outputs[layer_name][0]), layer_name
        # every layer with weights or a window is drawn, and the diagram follows the order they run
        # in
        drawn = [n for n, _ in labels]
        owners = []
        for module_name, (_, kind) in outputs.items():
            if kind in DRAWN_TYPES:
                owner = next(
                    (d for d in drawn if module_name == d or module_name.startswith(d + ".")), None
                )
                assert owner is not None, f"{module_name} ({kind}) is not in the diagram of {name}"
                if not owners or owners[-1] != owner:
                    owners.append(owner)
        assert owners == [d for d in drawn if d in owners]
        # readable at notebook width
        assert figure.get_figwidth() <= 10.0 + 1e-9
        assert min(text_sizes(figure)) >= 8
    finally:
        plt.close(figure)
        del model
        gc.collect()


def test_lenet5_is_figure_2():
    figure = diagrams.draw(get_model("lenet5"), (1, 1, 32, 32))
    plt.close(figure)
    # LeCun et al. 1998, Fig. 2: C1 6@28x28, S2 6@14x14, C3 16@10x10, S4 16@5x5, C5 120, F6 84,
    # output 10
    assert figure.diagram_labels == [("C1", "6@28×28"), ("S2", "6@14×14"), ("C3", "16@10×10"),
                                     ("S4", "16@5×5"), ("C5", "120@1×1"), ("F6", "84"), ("output",
                                                                                         "10")]
    rows = {layer.name: layer for layer in figure.diagram_rows}
    assert rows["C1"].operation == "conv 5×5/1" and rows["C1"].extras == ("tanh",)
    assert rows["C3"].operation == "conv 5×5, 60 links"            # Table I: 60 links
    assert rows["S2"].operation == "sub-sampling 2×2/2"
    assert rows["output"].operation == "Euclidean RBF"


def test_alexnet_grouped_convolutions_are_two_towers(no_init):
    figure = diagrams.draw(get_model("alexnet"), (1, 3, 227, 227))
    plt.close(figure)
    rows = {layer.name.split(".")[-1]: layer for layer in figure.diagram_rows}
    # conv2, conv4 and conv5 only see their own GPU's maps (groups=2); conv3 and the FC layers see
    # both
    assert {n: rows[n].towers for n in ("conv1", "conv2", "conv3", "conv4", "conv5")} == \
        {"conv1": 1, "conv2": 2, "conv3": 1, "conv4": 2, "conv5": 2}
    assert rows["pool2"].towers == 2 and rows["pool5"].towers == 2 and rows["fc6"].towers == 1
    assert [rows[n].label for n in ("conv1", "conv2", "conv3", "pool5", "fc8")] == \
        ["96@55×55", "256@27×27", "384@13×13", "256@6×6", "1000"]
    assert rows["conv1"].operation == "conv 11×11/4" and rows["conv1"].extras == ("ReLU", "LRN")


def test_changing_the_model_changes_the_figure(no_init):
    a = diagrams.diagram_rows(get_model("vgg", config="A"), (1, 3, 32, 32))
    e = diagrams.diagram_rows(get_model("vgg", config="E"), (1, 3, 32, 32))
    # Table 1
    assert sum(r.kind == "conv" for r in a) == 8 and sum(r.kind == "conv" for r in e) == 16
    narrow = diagrams.diagram_rows(get_model("vgg", config="A", width=2), (1, 3, 32, 32))
    assert [r.name for r in narrow] == [r.name for r in a]
    assert a[0].label == "64@32×32" and narrow[0].label == "32@32×32"
    at_224 = diagrams.diagram_rows(get_model("vgg", config="A", width=8, hidden=16),
                                   (1, 3, 224, 224))
    assert at_224[0].label == "8@224×224"
    # 5th pool, avgpool
    assert [r.label for r in at_224 if r.kind == "pool"][-2:] == ["64@7×7", "64@7×7"]


def test_deep_residual_networks_are_drawn_by_stage(no_init):
    rows = diagrams.diagram_rows(get_model("resnet110"), (1, 3, 32, 32))
    assert [(r.name, r.label) for r in rows if r.kind == "stage"] == \
        [("layer1", "16@32×32"), ("layer2", "32@16×16"), ("layer3", "64@8×8")]
    assert rows[1].operation == "18 × BasicBlock"                  # n = 18: 6n + 2 = 110
    blocks = diagrams.diagram_rows(get_model("resnet110"), (1, 3, 32, 32), level="blocks")
    assert sum(r.kind == "residual" for r in blocks) == 54
    shallow = diagrams.diagram_rows(get_model("resnet34"), (1, 3, 64, 64))
    residual = [r for r in shallow if r.kind == "residual"]
    assert len(residual) == 16                                     # 3 + 4 + 6 + 3 blocks (Table 1)
    assert [r.name for r in residual if "projection" in r.operation] == ["layer2.0", "layer3.0",
                                                                         "layer4.0"]
    option_a = diagrams.diagram_rows(get_model("resnet34", shortcut="A"), (1, 3, 64, 64))
    assert [r.name for r in option_a if "zero-pad" in r.operation] == ["layer2.0", "layer3.0",
                                                                       "layer4.0"]
    with pytest.raises(ValueError, match="level"):
        diagrams.diagram_rows(get_model("resnet20"), (1, 3, 32, 32), level="layers")


def test_inception_block_graph_lists_its_four_branches():
    module = Inception(192, 64, 96, 128, 16, 32, 32)               # inception (3a), Table 1
    figure = diagrams.draw_block(module, (1, 192, 28, 28))
    plt.close(figure)
    graph = figure.block_graph
    assert [b.name for b in graph.branches] == ["branch1", "branch2", "branch3", "branch4"]
    assert tuple(b.channels for b in graph.branches) == module.branch_channels == (64, 128, 32, 32)
    assert figure.diagram_labels == [
        ("branch1", ("1×1 conv, 64",), "64@28×28"),
        ("branch2", ("1×1 conv, 96", "3×3 conv, 128"), "128@28×28"),
        ("branch3", ("1×1 conv, 16", "5×5 conv, 32"), "32@28×28"),
        ("branch4", ("3×3 max pool/1", "1×1 conv, 32"), "32@28×28")]
    assert graph.merge == "concatenate" and graph.output_shape == (256, 28, 28)
    assert all(
        step.extras == ("ReLU",)
        for b in graph.branches
        for step in b.steps
        if "conv" in step.operation
    )
    assert min(text_sizes(figure)) >= 8 and figure.get_figwidth() <= 10.0


def test_naive_inception_has_no_reductions_and_passes_the_pooled_input_through():
    module = Inception(192, 64, None, 128, None, 32, None)         # Figure 2(a)
    graph = diagrams.block_graph(module, (1, 192, 28, 28))
    assert [len(b.steps) for b in graph.branches] == [1, 1, 1, 1]
    assert graph.branches[3].steps[0].operation == "3×3 max pool/1"
    assert [b.channels for b in graph.branches] == [64, 128, 32, 192]
    assert graph.output_shape == (64 + 128 + 32 + 192, 28, 28) and "naive" in graph.title
    wider = diagrams.block_graph(Inception(192, 96, None, 128, None, 32, None), (1, 192, 28, 28))
    assert wider.branches[0].channels == 96 and wider.output_shape[0] == 448


def test_torchvision_style_inception_reads_its_batch_norm():
    from cnnlit.layers.inception import BasicConv2d
    graph = diagrams.block_graph(Inception(32, 8, 4, 8, 4, 8, 8, conv_block=BasicConv2d,
                                           wide_kernel=3),
                                 (1, 32, 8, 8))
    assert graph.branches[2].steps[-1].operation == "3×3 conv, 8"
    assert graph.branches[0].steps[0].extras == ("BN", "ReLU")


@pytest.mark.parametrize("block, shape, shortcut, path, shortcut_steps", [
    (BasicBlock(64, 64), (1, 64, 56, 56), "identity", ["3×3 conv, 64", "3×3 conv, 64"], []),
    (BasicBlock(64, 128, 2), (1, 64, 56, 56), "projection", ["3×3 conv, 128, /2", "3×3 conv, 128"],
     ["1×1 conv, 128, /2"]),
    (BasicBlock(16, 32, 2, shortcut="A"), (1, 16, 32, 32), "zero-pad",
     ["3×3 conv, 32, /2", "3×3 conv, 32"],
     ["zero-pad 16→32, /2"]),
    (Bottleneck(256, 64), (1, 256, 56, 56), "identity", ["1×1 conv, 64", "3×3 conv, 64",
                                                         "1×1 conv, 256"], []),
    (Bottleneck(256, 128, 2), (1, 256, 56, 56), "projection",
     ["1×1 conv, 128, /2", "3×3 conv, 128", "1×1 conv, 512"], ["1×1 conv, 512, /2"]),
    (Bottleneck(256, 128, 2, stride_on="3x3"), (1, 256, 56, 56), "projection",
     ["1×1 conv, 128", "3×3 conv, 128, /2", "1×1 conv, 512"], ["1×1 conv, 512, /2"]),
])
def test_residual_block_graphs(block, shape, shortcut, path, shortcut_steps):
    figure = diagrams.draw_block(block, shape)
    plt.close(figure)
    graph = figure.block_graph
    assert graph.shortcut == shortcut and graph.merge == "add" and graph.after == ("ReLU",)
    residual, bypass = graph.branches
    assert [s.operation for s in residual.steps] == path
    assert [s.operation for s in bypass.steps] == shortcut_steps
    assert residual.shape == bypass.shape == graph.output_shape          # F(x) and x must add up
    assert residual.steps[0].extras == ("BN", "ReLU") and residual.steps[-1].extras == ("BN",)
    if shortcut == "projection":
        assert bypass.steps[0].extras == ("BN",)
    assert min(text_sizes(figure)) >= 8


def test_plain_block_has_no_shortcut():
    graph = diagrams.block_graph(BasicBlock(16, 16, residual=False), (1, 16, 8, 8))
    assert graph.shortcut == "none" and graph.merge == "none" and len(graph.branches) == 1
    assert graph.branches[0].steps[-1].extras == ("BN", "ReLU")
    with pytest.raises(TypeError, match="Inception modules and residual blocks"):
        diagrams.block_graph(nn.Conv2d(3, 3, 3), (1, 3, 8, 8))


def test_representative_blocks_of_whole_networks(no_init):
    kinds = diagrams.representative_blocks(get_model("resnet34"), (1, 3, 64, 64))
    # identity first, then a projection
    assert list(kinds) == ["layer1.0", "layer2.0"]
    module, shape = kinds["layer2.0"]
    assert shape == (1, 64, 16, 16) and diagrams.block_graph(module, shape).shortcut == "projection"
    cifar = diagrams.representative_blocks(get_model("resnet20"), (1, 3, 32, 32))
    assert [diagrams.block_graph(m,
                                 s).shortcut for m, s in cifar.values()] == ["identity", "zero-pad"]
    googlenet = diagrams.representative_blocks(get_model("googlenet"), (1, 3, 224, 224))
    assert list(googlenet) == ["inception3a"] and googlenet["inception3a"][1] == (1, 192, 28, 28)


@pytest.mark.parametrize("size, kernel, stride, padding", [(5, 3, 1, 0), (5, 3, 2, 1), (7, 3, 2, 0),
                                                           (6, 3, 2, 1), (227, 11, 4, 0), (224, 7,
                                                                                           2, 3)])
def test_conv_arithmetic_matches_pytorch(size, kernel, stride, padding):
    figure = diagrams.conv_arithmetic(size, kernel, stride, padding)
    plt.close(figure)
    conv = nn.Conv2d(1, 1, kernel, stride, padding)
    expected = conv(torch.zeros(1, 1, size, size)).shape[-1]
    assert figure.output_size == expected == diagrams.output_size(size, kernel, stride, padding)
    assert len(figure.windows) == expected ** 2
    *_, top, left = figure.windows[-1]
    # last window fits
    assert top + kernel <= size + 2 * padding and left + kernel <= size + 2 * padding
    assert figure.shown[-1] == figure.windows[-1] and str(expected) in figure.formula
    assert min(text_sizes(figure)) >= 8 and figure.get_figwidth() <= 10.0


def test_conv_arithmetic_rejects_kernels_that_do_not_fit():
    with pytest.raises(ValueError, match="does not fit"):
        diagrams.conv_arithmetic(3, 5)
    with pytest.raises(ValueError, match="stride"):
        diagrams.output_size(8, 3, stride=0)


def test_receptive_field_of_stacked_3x3_layers():
    figure = diagrams.receptive_field([(3, 1), (3, 1), (3, 1)])
    plt.close(figure)
    assert [field for _, field in figure.receptive_fields] == [3, 5, 7]     # VGG: three 3x3 see 7x7
    assert min(text_sizes(figure)) >= 8


@pytest.mark.parametrize("name, shape", [("lenet5", (1, 1, 32, 32)), ("vgg16", (1, 3, 32, 32))])
def test_receptive_field_figure_equals_summary(name, shape, no_init):
    model = get_model(name)
    figure = diagrams.receptive_field(model, shape)
    plt.close(figure)
    table = summary(model, shape).set_index("layer")
    assert figure.receptive_fields == [
        (n, int(table.receptive_field[n])) for n, _ in figure.receptive_fields
    ]
    if name == "lenet5":
        assert figure.receptive_fields == [("C1", 5), ("S2", 6), ("C3", 14), ("S4", 16), ("C5", 32)]
    else:
        assert figure.receptive_fields[-1][1] == 212                  # VGG-16's last pooling


def test_receptive_field_needs_an_input_shape_for_a_model():
    with pytest.raises(ValueError, match="input_shape"):
        diagrams.receptive_field(nn.Conv2d(1, 1, 3))
    with pytest.raises(ValueError, match="kernel, stride"):
        diagrams.receptive_field([(3,)])
