"""Chapter 4: VGG's Table 1 configurations, their Table 2 parameter counts, torchvision
compatibility, receptive fields against hand computation, and the chapter's plotting helpers."""
from functools import lru_cache

import matplotlib
import pytest
import torch
import torchvision
from torch import nn

from cnnlit.analysis import count_parameters, summary
from cnnlit.chapters import vgg as chapter_vgg
from cnnlit.models import InputShapeError, get_model
from cnnlit.models.vgg import TABLE_1, TORCHVISION_NAMES, WEIGHT_LAYERS, parse_layer, vgg

matplotlib.use("Agg")

# Table 2 ("Number of parameters (in millions)") and torchvision's exact counts for A, B, D, E.
TABLE_2_MILLIONS = {"A": 133, "A-LRN": 133, "B": 133, "C": 134, "D": 138, "E": 144}
TORCHVISION_PARAMETERS = {"A": 132_863_336, "B": 133_047_848, "D": 138_357_544, "E": 143_667_240}


@lru_cache(maxsize=None)
def full_size(config):
    """A paper-size network on the meta device (shapes only), built once per test session."""
    with torch.device("meta"):
        return vgg(config)


@pytest.mark.parametrize("config", list(TABLE_2_MILLIONS))
def test_table_2_parameter_counts_round_to_the_paper(config):
    assert round(count_parameters(full_size(config)) / 1e6) == TABLE_2_MILLIONS[config]


def test_configuration_c_count_by_hand():
    # C is B plus three conv3 layers (D's 256/512/512 positions) replaced by 1x1 convolutions
    d, c = count_parameters(full_size("D")), count_parameters(full_size("C"))
    saved = (9 - 1) * (256 * 256 + 512 * 512 + 512 * 512)
    assert d - c == saved
    assert c == 133_638_952


@pytest.mark.parametrize("config", list(TABLE_1))
def test_weight_layer_count_matches_table_1_header(config):
    model = full_size(config)
    weights = [m for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    assert len(weights) == WEIGHT_LAYERS[config]
    pools = [m for m in model.features if isinstance(m, nn.MaxPool2d)]
    assert len(pools) == 5
    assert all(m.kernel_size in (1, 3, (1, 1), (3, 3)) for m in weights if isinstance(m, nn.Conv2d))


def test_only_c_has_1x1_and_only_a_lrn_has_lrn():
    from cnnlit.layers import LocalResponseNorm

    for config in TABLE_1:
        model = full_size(config)
        ones = [m for m in model.features if isinstance(m, nn.Conv2d) and m.kernel_size == (1, 1)]
        assert len(ones) == (3 if config == "C" else 0)
        lrn = [m for m in model.features if isinstance(m, LocalResponseNorm)]
        assert len(lrn) == (1 if config == "A-LRN" else 0)
    # after the first conv3-64 + ReLU
    assert isinstance(full_size("A-LRN").features[2], LocalResponseNorm)


def _torchvision(config, batch_norm, device="meta"):
    name = TORCHVISION_NAMES[config] + ("_bn" if batch_norm else "")
    with torch.device(device):
        return getattr(torchvision.models, name)(weights=None)


@pytest.mark.parametrize("config", list(TORCHVISION_NAMES))
@pytest.mark.parametrize("batch_norm", [False, True])
def test_torchvision_state_dict_names_and_shapes(config, batch_norm):
    # on the meta device: strict loading checks every name and shape without allocating 138M numbers
    reference = _torchvision(config, batch_norm)
    with torch.device("meta"):
        ours = vgg(config, batch_norm=batch_norm)
    ours.load_state_dict(reference.state_dict())
    assert count_parameters(ours) == count_parameters(reference)
    if not batch_norm:
        assert count_parameters(ours) == TORCHVISION_PARAMETERS[config]


@pytest.mark.parametrize("config, batch_norm", [("A", False), ("E", True)])
def test_torchvision_weights_give_equal_outputs(config, batch_norm):
    # a randomly filled torchvision model (no download); ours takes over its very tensors
    torch.manual_seed(0)
    reference = _torchvision(config, batch_norm).to_empty(device="cpu").eval()
    with torch.no_grad():
        for parameter in reference.parameters():
            parameter.normal_(0.0, 0.02)
        for name, buffer in reference.named_buffers():
            if name.endswith("running_var"):
                buffer.uniform_(0.5, 1.5)
            elif name.endswith("running_mean"):
                buffer.normal_(0.0, 0.1)
            else:
                buffer.zero_()
    with torch.device("meta"):
        ours = vgg(config, batch_norm=batch_norm)
    ours.load_state_dict(reference.state_dict(), assign=True)
    ours.eval()
    x = torch.rand(2, 3, 32, 32)
    with torch.no_grad():
        expected, got = reference(x), ours(x)
    assert got.shape == (2, 1000) and expected.abs().sum() > 0
    assert torch.equal(got, expected)


def test_registry_names():
    for name, config in [("vgg11", "A"), ("vgg13", "B"), ("vgg16", "D"), ("vgg19", "E")]:
        model = get_model(name, num_classes=10, width=16, hidden=32, pool_size=1)
        assert model.config == config
        assert model.classifier[-1].out_features == 10
    assert get_model("vgg", config="C", width=16, hidden=32).config == "C"
    with pytest.raises(ValueError, match="A-LRN"):
        vgg("F")


def test_input_check_names_model_and_shapes():
    model = vgg("A", width=16, hidden=32, pool_size=1, num_classes=10)
    assert model(torch.zeros(2, 3, 32, 32)).shape == (2, 10)
    with pytest.raises(InputShapeError, match=r"VGG-A expects \(N, 3, H, W\) with H, W >= 32.*\(2, "
                                              r"3, 28, 28\)"):
        model(torch.zeros(2, 3, 28, 28))
    with pytest.raises(InputShapeError, match=r"\(2, 1, 32, 32\)"):
        model(torch.zeros(2, 1, 32, 32))
    grey = vgg("E", in_channels=1, width=16, hidden=32, pool_size=1, num_classes=10)
    assert grey(torch.zeros(1, 1, 32, 32)).shape == (1, 10)


def test_width_divides_channels_and_init_choices():
    model = vgg("D", width=8, hidden=64, pool_size=1, num_classes=10, init="paper")
    convs = [m.out_channels for m in model.features if isinstance(m, nn.Conv2d)]
    assert convs == [8, 8, 16, 16, 32, 32, 32, 64, 64, 64, 64, 64, 64]
    assert model.classifier[0].in_features == 64
    std = torch.cat(
        [m.weight.detach().flatten() for m in model.modules() if isinstance(m, nn.Conv2d)]
    ).std()
    # N(0, 10^-2): "10^-2 variance", Sec. 3.1
    assert abs(float(std) - 0.1) < 0.01
    with pytest.raises(ValueError, match="paper, glorot, kaiming"):
        vgg("A", init="zeros")
    with pytest.raises(ValueError, match="not a Table 1 entry"):
        parse_layer("conv3x64")
    assert parse_layer("conv1-512") == ("conv", 1, 512)


# ----------------------------------------------------------------------------- receptive field

def _rf(layers, size=32):
    frame = summary(nn.Sequential(*layers), (1, 1, size, size))
    return list(frame["receptive_field"])


def test_receptive_field_of_stacked_3x3_by_hand():
    conv = lambda: nn.Conv2d(1, 1, 3, padding=1)            # noqa: E731
    assert _rf([conv()]) == [3]
    assert _rf([conv(), nn.ReLU(), conv()]) == [3, 3, 5]          # two 3x3 see 5x5
    assert _rf([conv(), conv(), conv()]) == [3, 5, 7]             # three 3x3 see 7x7
    assert _rf([nn.Conv2d(1, 1, 7, padding=3)]) == [7]


def test_receptive_field_with_pooling_between_by_hand():
    conv = lambda: nn.Conv2d(1, 1, 3, padding=1)            # noqa: E731
    # r_out = r_in + (k - 1) * jump; jump *= stride.  3 -> pool: 3 + 1*1 = 4 (jump 2) -> 4 + 2*2 = 8
    # -> 12
    assert _rf([conv(), nn.MaxPool2d(2, 2), conv(), conv()]) == [3, 4, 8, 12]
    # then another pool (12 + 1*2 = 14, jump 4) and a 3x3 (14 + 2*4 = 22)
    assert _rf([conv(), nn.MaxPool2d(2, 2), conv(), conv(), nn.MaxPool2d(2, 2),
                conv()]) == [3, 4, 8, 12, 14, 22]
    # a 1x1 convolution adds nothing
    assert _rf([conv(), nn.Conv2d(1, 1, 1)]) == [3, 3]


def test_receptive_field_of_vgg16_features():
    frame = chapter_vgg.layer_costs("D", input_size=224)
    rf = dict(zip(frame["layer"], frame["receptive_field"]))
    assert rf["features.2"] == 5                                  # conv1_2
    assert rf["features.4"] == 6                                  # pool1
    assert rf["features.28"] == 196                               # conv5_3
    assert rf["features.30"] == 212                               # pool5
    assert rf["classifier.0"] == 224                              # an FC unit sees the whole image


# ----------------------------------------------------------------------------- chapter helpers

def test_configuration_table_reads_like_table_1():
    table = chapter_vgg.configuration_table()
    assert list(table.columns) == ["A", "A-LRN", "B", "C", "D", "E"]
    assert list(table.iloc[0]) == [f"{n} weight layers" for n in (11, 11, 13, 16, 16, 19)]
    assert (table == "maxpool").all(axis=1).sum() == 5
    assert table.iloc[3].tolist() == ["", "LRN", "conv3-64", "conv3-64", "conv3-64", "conv3-64"]
    assert (
        table["C"].tolist().count("conv1-512") == 2 and table["C"].tolist().count("conv1-256") == 1
    )
    assert table["E"].tolist().count("conv3-512") == 8
    assert list(table.iloc[-4]) == ["FC-4096"] * 6 and list(table.iloc[-1]) == ["soft-max"] * 6
    assert len(table) == 2 + (2 + 2 + 4 + 4 + 4) + 5 + 4


def test_layer_costs_memory_and_macs():
    frame = chapter_vgg.layer_costs("D", input_size=224)
    first = frame.iloc[0]
    assert (first["kind"], first["channels"], first["side"]) == ("conv3-64", 64, 224)
    assert first["activations"] == 64 * 224 * 224
    assert first["memory_MB"] == pytest.approx(64 * 224 * 224 * 4 / 1e6)
    assert first["macs"] == 224 * 224 * 64 * 3 * 9
    assert frame.iloc[1]["macs"] == 224 * 224 * 64 * 64 * 9
    assert frame["params"].sum() == 138_357_544
    # FC-4096: 103M of 138M
    assert frame.iloc[-3]["params"] == 512 * 7 * 7 * 4096 + 4096
    sides = frame[frame["kind"] == "maxpool"]["side"].tolist()
    assert sides == [112, 56, 28, 14, 7]


def test_plots_clamp_and_fall_back():
    figure = chapter_vgg.plot_shape_flow("D", 224, 1)
    assert figure.axes and len(figure.axes[0].lines) == 1
    # 13 convolutions + 5 poolings of D
    assert len(figure.axes[0].lines[0].get_xdata()) == 18
    matplotlib.pyplot.close(figure)
    # out-of-range values are clamped, an unknown configuration falls back to D: no traceback
    figure = chapter_vgg.plot_shape_flow("Z", input_size=5, width=10_000)
    assert "VGG-D at 32x32" in figure.axes[0].get_title()
    matplotlib.pyplot.close(figure)
    figure = chapter_vgg.plot_costs("b", input_size=10_000)
    assert "VGG-B at 512x512" in figure.axes[0].get_title()
    assert len(figure.axes) == 3
    matplotlib.pyplot.close(figure)


def test_dense_windows_tile_the_image_every_32_pixels():
    windows = chapter_vgg.dense_windows(384, 224, 32)
    # VGG at 384x384: the map after pool5 is 12x12, a 7x7 "fc6" convolution leaves 12 - 7 + 1 = 6
    assert len(windows) == 6 * 6 and windows[0] == (0, 0, 0, 0)
    assert windows[-1] == (5, 5, 160, 160) and 160 + 224 == 384          # the last window ends
    assert chapter_vgg.dense_windows(224) == [(0, 0, 0, 0)]                # the training crop: one
    with pytest.raises(ValueError, match="at least the window"):
        chapter_vgg.dense_windows(200)


def test_dense_evaluation_figure_outlines_the_windows_of_the_chosen_positions():
    from matplotlib.patches import Rectangle

    figure = chapter_vgg.plot_dense_evaluation(384, 224, 32, show=[(0, 0), (5, 5)])
    image, scores = figure.axes
    outlined = [p for p in image.patches if isinstance(p, Rectangle) and not p.get_fill()]
    assert [(p.get_x(), p.get_y(), p.get_width()) for p in outlined] == [(0, 0, 224),
                                                                       (160, 160, 224)]
    assert len(image.lines[0].get_xdata()) == 36                           # one centre a window
    assert image.get_xlabel() and image.get_ylabel() and "384×384" in image.get_title()
    assert len(scores.patches) == 2 and "6×6" in scores.get_title()
    assert scores.get_xlabel() == "output column" and scores.get_ylabel() == "output row"
    matplotlib.pyplot.close(figure)
