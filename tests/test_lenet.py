"""LeNet-5 (LeCun et al. 1998): the paper's per-layer numbers, Table I, the RBF output, the
criterion, the input checks and the chapter's widget callbacks."""
import math

import matplotlib
import pytest
import torch
from torch.nn import functional as F

matplotlib.use("Agg")

from cnnlit.analysis import summary, totals  # noqa: E402
from cnnlit.chapters.lenet import (
    c3_parts,
    lenet_maps,
    plot_c3_map,
    plot_c3_table,
    plot_lenet_maps,  # noqa: E402
    plot_rbf_codes,
)
from cnnlit.layers import EuclideanRBF, PartialConv2d, ScaledTanh, Subsampling  # noqa: E402
from cnnlit.layers.lenet5_layers import full_connection_cost  # noqa: E402
from cnnlit.models import InputShapeError, get_model  # noqa: E402
from cnnlit.models.lenet import (  # noqa: E402
    C3_TABLE,
    MAPCriterion,
    c3_inputs,
    digit_bitmap,
    paper_distortions,
    paper_input,
    rbf_codes,
)

# section II-B of the paper: (layer, trainable parameters, connections); None where the paper gives
# none
PAPER = {"C1": (156, 122_304), "S2": (12, 5_880), "C3": (1_516, 151_600), "S4": (32, 2_000),
         "C5": (None, 48_120), "F6": (10_164, None)}


@pytest.fixture(scope="module")
def table():
    return summary(get_model("lenet5"), (1, 1, 32, 32)).set_index("layer")


@pytest.mark.parametrize("layer", list(PAPER))
def test_per_layer_numbers_match_the_paper(table, layer):
    params, connections = PAPER[layer]
    if params is not None:
        assert table.loc[layer, "params"] == params
    if connections is not None:
        assert table.loc[layer, "connections"] == connections


def test_totals_match_the_paper(table):
    # "340,908 connections, but only 60,000 trainable free parameters" (section II-B)
    assert totals(table.reset_index()) == {"params": 60_000, "connections": 340_908,
                                           "macs": 332_824}
    assert table.loc["C5", "params"] == 48_120 and table.loc["F6", "connections"] == 10_164
    assert table.loc["output", "connections"] == 840 and table.loc["output", "params"] == 0


def test_output_shapes_follow_figure_2(table):
    shapes = table["output_shape"].to_dict()
    assert shapes["C1"] == (1, 6, 28, 28) and shapes["S2"] == (1, 6, 14, 14)
    assert shapes["C3"] == (1, 16, 10, 10) and shapes["S4"] == (1, 16, 5, 5)
    assert shapes["C5"] == (1, 120, 1, 1) and shapes["F6"] == (1,
                                                               84) and shapes["output"] == (1, 10)


def test_c3_table_is_table_one():
    expected = {0: [0, 1, 2], 1: [1, 2, 3], 2: [2, 3, 4], 3: [3, 4, 5], 4: [0, 4, 5], 5: [0, 1, 5],
                6: [0, 1, 2, 3], 7: [1, 2, 3, 4], 8: [2, 3, 4, 5], 9: [0, 3, 4, 5],
                10: [0, 1, 4, 5],
                11: [0, 1, 2, 5], 12: [0, 1, 3, 4], 13: [1, 2, 4, 5], 14: [0, 2, 3, 5],
                15: [0, 1, 2, 3, 4, 5]}
    assert len(C3_TABLE) == 6 and all(len(row) == 16 for row in C3_TABLE)
    assert {m: c3_inputs(m) for m in range(16)} == expected
    assert sum(map(sum, C3_TABLE)) == 60


def test_partial_conv_equals_a_masked_full_convolution():
    torch.manual_seed(0)
    layer = PartialConv2d(C3_TABLE)
    x = torch.randn(2, 6, 14, 14)
    mask = torch.tensor(C3_TABLE).t()[:, :, None, None]              # (16, 6, 1, 1)
    dense = layer.full_weight()
    assert torch.equal(dense * mask, dense)                           # nothing outside the table
    assert layer.weight.numel() == 60 * 25 and layer.bias.numel() == 16
    assert torch.allclose(layer(x), F.conv2d(x, dense, layer.bias), atol=1e-6)
    # C3 map 0 reads S2 maps 0-2 only: changing S2 map 5 leaves it untouched
    y = x.clone()
    y[:, 5] += 1.0
    assert torch.allclose(layer(x)[:, 0],
                          layer(y)[:, 0]) and not torch.allclose(layer(x)[:, 15], layer(y)[:, 15])


def test_a_full_c3_costs_what_the_formula_says():
    full = full_connection_cost(6, 16, 5, positions=100)
    assert full == {"params": 2_416, "connections": 241_600}
    frame = summary(get_model("lenet5", table=[[True] * 16] * 6), (1, 1, 32, 32)).set_index("layer")
    assert frame.loc["C3", "params"] == 2_416 and frame.loc["C3", "connections"] == 241_600


def test_subsampling_is_sum_times_coefficient_plus_bias():
    layer = Subsampling(2)
    with torch.no_grad():
        layer.coefficient.copy_(torch.tensor([0.5, -2.0]))
        layer.bias.copy_(torch.tensor([1.0, 0.0]))
    x = torch.arange(32.0).reshape(1, 2, 4, 4)
    out = layer(x)
    assert out.shape == (1, 2, 2, 2)
    assert out[0, 0, 0, 0] == 0.5 * (0 + 1 + 4 + 5) + 1.0
    assert out[0, 1, 1, 1] == -2.0 * (26 + 27 + 30 + 31)
    assert sum(p.numel() for p in layer.parameters()) == 4


def test_scaled_tanh_constants():
    assert ScaledTanh.A == 1.7159 and math.isclose(ScaledTanh.S, 2 / 3)
    f = ScaledTanh()
    a = torch.linspace(-3, 3, 13)
    assert torch.allclose(f(a), 1.7159 * torch.tanh(2 / 3 * a))
    # f(±1) ≈ ±1
    assert torch.allclose(f(torch.tensor([1.0, -1.0])), torch.tensor([1.0, -1.0]), atol=2e-4)


def test_rbf_output_equals_the_formula():
    torch.manual_seed(1)
    codes = torch.randn(10, 84)
    x = torch.randn(3, 84)
    y = EuclideanRBF(codes)(x)
    expected = torch.tensor([[sum((x[n, j] - codes[i,
                                                   j]) ** 2 for j in range(84)) for i in range(10)]
                             for n in range(3)])
    assert torch.allclose(y, expected, rtol=1e-5)
    assert not any(p.requires_grad for p in EuclideanRBF(codes).parameters())


def test_rbf_codes_are_plus_minus_one_bitmaps():
    codes = rbf_codes()
    assert codes.shape == (10, 84) and set(codes.unique().tolist()) == {-1.0, 1.0}
    assert len({tuple(c.tolist()) for c in codes}) == 10                   # ten different codes
    assert digit_bitmap(1).shape == (12, 7)
    assert torch.equal(get_model("lenet5").output.codes, codes)


def test_model_scores_are_negative_penalties():
    model = get_model("lenet5").eval()
    x = torch.randn(4, 1, 32, 32)
    assert torch.allclose(model(x), -model.penalties(x))
    assert torch.allclose(model.penalties(x), torch.cdist(model.f6(x), rbf_codes()) ** 2, rtol=1e-4)


def test_map_criterion_is_equation_nine():
    scores = -torch.tensor([[3.0, 1.0, 7.0], [0.5, 4.0, 2.0]])          # scores = -y
    labels = torch.tensor([1, 0])
    j = 2.0
    y = -scores
    expected = torch.stack([y[p, labels[p]] + torch.log(math.exp(-j) + torch.exp(-y[p]).sum())
                            for p in range(2)]).mean()
    assert torch.allclose(MAPCriterion(j)(scores, labels), expected)
    # j -> infinity: cross-entropy on the scores
    assert torch.allclose(MAPCriterion(1e4)(scores, labels), F.cross_entropy(scores, labels))
    # temperature T: eq. 9 on y / T
    assert torch.allclose(MAPCriterion(j, temperature=4.0)(scores, labels),
                          MAPCriterion(j)(scores / 4, labels))
    with pytest.raises(ValueError):
        MAPCriterion(temperature=0)


def test_paper_input_pads_and_scales():
    digit = torch.zeros(1, 1, 28, 28)
    digit[0, 0, 10, 10] = 1.0
    x = paper_input(digit)
    assert x.shape == (1, 1, 32, 32)
    assert math.isclose(float(x[0, 0, 12, 12]), 1.175, rel_tol=1e-6)
    assert math.isclose(float(x[0, 0, 0, 0]), -0.1, rel_tol=1e-6)


@pytest.mark.parametrize("name", ["lenet5", "lenet5_modern"])
@pytest.mark.parametrize("shape", [(2, 1, 28, 28), (2, 3, 32, 32), (1, 32, 32)])
def test_wrong_input_names_model_expected_and_received_shape(name, shape):
    model = get_model(name)
    with pytest.raises(InputShapeError) as error:
        model(torch.zeros(shape))
    message = str(error.value)
    assert "LeNet-5" in message and "(N, 1, 32, 32)" in message and str(tuple(shape)) in message
    assert "pad" in message and ("grey" in message or "batch" in message)


def test_modern_variant():
    model = get_model("lenet5_modern")
    frame = summary(model, (1, 1, 32, 32)).set_index("layer")
    # full C3 (2,416) + 850 output
    assert totals(frame.reset_index())["params"] == 61_706
    assert frame.loc["C3", "params"] == 2_416 and model(torch.zeros(2, 1, 32, 32)).shape == (2, 10)


def test_both_learn():
    torch.manual_seed(0)
    x, labels = torch.randn(8, 1, 32, 32), torch.randint(0, 10, (8,))
    for model, loss_fn in [(get_model("lenet5"), MAPCriterion()),
                           (get_model("lenet5_modern"), torch.nn.CrossEntropyLoss())]:
        before = float(loss_fn(model(x), labels).detach())
        # plain gradient steps (no torch.optim import)
        for _ in range(2):
            model.zero_grad()
            loss_fn(model(x), labels).backward()
            with torch.no_grad():
                for parameter in model.parameters():
                    parameter -= 1e-3 * parameter.grad
        assert float(loss_fn(model(x), labels).detach()) < before


# --------------------------------------------------------------------------- widget callbacks

def test_c3_table_figure_clamps_and_names_inputs():
    figure = plot_c3_table(3)
    assert figure.axes[0].get_title() == "C3 map 3 reads S2 maps 3, 4, 5 (3 of 6)"
    assert (
        plot_c3_table(99).axes[0].get_title().startswith("C3 map 15 reads S2 maps 0, 1, 2, 3, 4, 5")
    )
    assert plot_c3_table(-4).axes[0].get_title().startswith("C3 map 0 reads S2 maps 0, 1, 2")
    assert "60 links" in plot_c3_table().axes[0].get_title()
    matplotlib.pyplot.close("all")


def test_rbf_code_figure_has_ten_bitmaps():
    figure = plot_rbf_codes()
    assert len(figure.axes) == 10
    assert figure.axes[7].images[0].get_array().shape == (12, 7)
    matplotlib.pyplot.close("all")


def test_feature_map_views():
    model = get_model("lenet5")
    images = torch.randn(3, 1, 32, 32)
    maps = lenet_maps(model, images[0])
    assert maps["C1"].shape == (6, 28, 28) and maps["C3"].shape == (16, 10, 10)
    assert maps["prediction"] in range(10)
    # clamped to 2
    figure = plot_lenet_maps(model, images, index=10, labels=torch.tensor([4, 5, 6]))
    assert "digit #2" in figure.axes[0].get_title() and "label 6" in figure.axes[0].get_title()
    assert len(figure.axes) == 1 + 6 + 16
    assert plot_lenet_maps(get_model("lenet5_modern"), images, index=-1) is not None
    matplotlib.pyplot.close("all")


def test_c3_map_view_shows_what_the_map_computes():
    torch.manual_seed(0)
    model = get_model("lenet5")
    images = torch.randn(2, 1, 32, 32)
    with torch.no_grad():
        s2 = model.tanh2(model.S2(model.tanh1(model.C1(images[1:]))))
        c3 = model.C3(s2)[0]
    for c3_map, inputs in [(0, [0, 1, 2]), (6, [0, 1, 2, 3]), (12, [0, 1, 3, 4]),
                           (15, [0, 1, 2, 3, 4, 5])]:
        parts = c3_parts(model, images[1], c3_map)
        assert parts["inputs"] == inputs == c3_inputs(c3_map)
        assert parts["contributions"].shape == (len(inputs), 10, 10)
        # the parts add up to C3's output
        assert torch.allclose(parts["total"], c3[c3_map], atol=1e-5)
    figure = plot_c3_map(model, images, c3_map=99, index=7)              # both clamped
    assert figure._suptitle.get_text().startswith("C3 map 15 reads S2 maps 0, 1, 2, 3, 4, 5 (6 of "
                                                  "6)")
    assert len(figure.axes) == 3 * (6 + 1) and "digit #1" in figure.axes[6].get_title()
    assert torch.allclose(figure.c3_parts["total"], c3[15], atol=1e-5)
    with pytest.raises(ValueError, match="c3_map must be in 0..15"):
        c3_parts(model, images[0], 16)
    matplotlib.pyplot.close("all")


def test_initialisation_rules():
    paper, lecun = get_model("lenet5"), get_model("lenet5", init="lecun")
    # appendix A: +-2.4 / fan-in
    assert float(paper.C5.weight.detach().abs().max()) <= 2.4 / 400
    assert float(paper.C3.weight.detach()[:18].abs().max()) <= 2.4 / 75    # C3 maps 0-5: F = 3 x 25
    assert float(lecun.C5.weight.detach().abs().max()) <= math.sqrt(3 / 400)
    assert math.isclose(float(lecun.C5.weight.detach().std()), 400 ** -0.5, rel_tol=0.05)
    with pytest.raises(ValueError, match="paper, lecun"):
        get_model("lenet5", init="xavier")


def test_paper_distortions():
    torch.manual_seed(0)
    x = paper_input(torch.rand(5, 1, 28, 28))
    # identity
    assert torch.allclose(paper_distortions(shift=0, scale=0, shear=0)(x), x, atol=1e-6)
    y = paper_distortions()(x)
    assert y.shape == x.shape and not torch.allclose(x, y)
    # interpolation
    assert float(y.min()) >= float(x.min()) - 1e-6 and float(y.max()) <= float(x.max()) + 1e-6
    blank = torch.full((2, 1, 32, 32), -0.1)
    # the background stays background
    assert torch.allclose(paper_distortions()(blank), blank)
