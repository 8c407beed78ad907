"""Chapter 5 (initialisation and normalisation): VGG's layers by the paper's names, the spread and
the distribution of the signal at every ReLU, and the chapter's figures."""
import matplotlib
import pytest
import torch
from torch import nn

from cnnlit.chapters import normalisation as chapter
from cnnlit.models.vgg import vgg

matplotlib.use("Agg")
RELU_OF_NORMAL = (0.5 - 1 / (2 * torch.pi)) ** 0.5      # std of max(0, z), z ~ N(0, 1)


def test_conv_layers_are_named_by_block_and_position():
    a, e = vgg("A", width=16, hidden=8, pool_size=1), vgg("E", width=16, hidden=8, pool_size=1)
    a_names, e_names = chapter.conv_layers(a), chapter.conv_layers(e)
    assert list(a_names)[:4] == ["conv1_1", "conv2_1", "conv3_1", "conv3_2"]
    assert len(a_names) == 8 and len(e_names) == 16 and "conv5_4" in e_names
    # A's first four layers fit the places of the same names in E (Sec. 3.1's staged initialisation)
    for name in list(a_names)[:4]:
        assert a_names[name].weight.shape == e_names[name].weight.shape
    lrn = chapter.conv_layers(vgg("A-LRN", width=16, hidden=8, pool_size=1))
    assert list(lrn) == list(a_names)
    with pytest.raises(ValueError, match="unknown VGG configuration"):
        chapter.conv_layers(nn.Sequential(nn.Conv2d(1, 1, 3)))


def _bn_net():
    torch.manual_seed(0)
    return vgg("A", batch_norm=True, width=16, hidden=8, pool_size=1, in_channels=1, num_classes=3)


def test_activation_spread_one_number_per_relu_and_nothing_changes():
    net = _bn_net()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    spreads = chapter.activation_spread(net, torch.randn(8, 1, 32, 32))
    # eight convolutions, two hidden FC layers
    assert len(spreads) == 8 + 2
    # train-mode batch norm: every conv's output standardised, so a ReLU of N(0, 1)
    assert all(abs(s - RELU_OF_NORMAL) < 0.08 for s in spreads[:6])
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())


def test_relu_inputs_are_what_enters_the_in_place_relus():
    net = _bn_net()
    images = torch.randn(8, 1, 32, 32)
    values = chapter.relu_inputs(net, images, layers=[1, 8])
    assert list(values) == [1, 8]
    first = values[1]
    # batch norm's output, before the ReLU: negative values too, mean 0 and std 1 per channel
    assert first.numel() == 8 * 4 * 32 * 32 and (first < 0).any()
    assert abs(float(first.mean())) < 1e-4 and abs(float(first.std()) - 1) < 0.01
    # the ReLU of those inputs is the output activation_spread measures
    assert float(first.clamp(min=0).std()) == pytest.approx(
        chapter.activation_spread(net, images)[0], rel=1e-5)
    assert len(chapter.relu_inputs(net, images)) == 10


def test_second_moments_figure():
    figure = chapter.plot_second_moments({"Glorot": [2.0 ** -k for k in range(16)],
                                          "He": [2.0] * 16}, predicted=[1.0] * 16)
    axis = figure.axes[0]
    assert [len(line.get_xdata()) for line in axis.lines] == [16, 16, 16]
    assert axis.get_yscale() == "log" and axis.get_xlabel() == "layer"
    assert axis.get_ylabel() and axis.get_title()
    matplotlib.pyplot.close(figure)


def test_activation_spread_figure_one_panel_per_moment():
    panels = {"at initialisation": {"Glorot": [1.0] * 18, "He": [1.0] * 18},
              "after 30 SGD steps": {"Glorot": [0.5] * 18, "He": [0.5] * 18}}
    figure = chapter.plot_activation_spread(panels, title="VGG-E")
    assert len(figure.axes) == 2
    assert [len(axis.lines) for axis in figure.axes] == [2, 2]
    assert "after 30 SGD steps" in figure.axes[1].get_title()
    assert figure.axes[0].get_ylabel() and figure.axes[0].get_xlabel()
    matplotlib.pyplot.close(figure)


def test_activation_histograms_one_row_per_network_one_column_per_layer():
    torch.manual_seed(0)
    values = {"Glorot": {1: torch.randn(1000), 8: 0.01 * torch.randn(1000)},
              "Glorot + batch norm": {1: torch.randn(1000), 8: torch.randn(1000)}}
    figure = chapter.plot_activation_histograms(values, bins=20)
    assert len(figure.axes) == 4
    faded, normalised = figure.axes[1], figure.axes[3]        # ReLU 8 without and with batch norm
    heights = [patch.get_data()[0] for patch in faded.patches]
    assert len(heights[0]) == 20 and float(heights[0][9:11].sum()) > 0.99  # a spike at 0
    assert float(normalised.patches[0].get_data()[0].max()) < 0.3      # still spread out
    assert figure.axes[0].get_ylabel() == "Glorot" and "ReLU 8" in faded.get_title()
    assert figure.axes[2].get_xlabel() == "value entering the ReLU"
    assert figure.axes[0].get_xlim() == figure.axes[3].get_xlim()      # one horizontal axis
    matplotlib.pyplot.close(figure)
