"""cnnlit.analysis.summary: hand arithmetic, and property tests against PyTorch's own counters."""
import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from cnnlit.analysis import Cost, count_parameters, depth, summary, totals


def test_grouped_convolution_by_hand():
    model = nn.Sequential(nn.Conv2d(4, 6, 3, groups=2), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                          nn.Linear(6 * 3 * 3, 5))
    table = summary(model, (1, 4, 8, 8))
    assert table.layer.tolist() == ["0", "1", "2", "3", "4"]
    conv, relu, pool, _, fc = (table.iloc[i] for i in range(5))
    assert conv.output_shape == (1, 6, 6, 6)
    assert conv.params == 6 * (4 // 2 * 3 * 3 + 1) == 114
    assert conv.connections == 6 * 6 * 6 * (2 * 9 + 1) == 4104
    assert conv.macs == 6 * 6 * 6 * 2 * 9 == 3888
    assert relu.params == relu.connections == relu.macs == 0
    assert pool.output_shape == (1, 6, 3,
                                 3) and pool.connections == 6 * 3 * 3 * 4 and pool.macs == 0
    assert fc.params == 54 * 5 + 5 and fc.connections == 5 * 55 and fc.macs == 5 * 54
    assert totals(table) == {"params": 114 + 275, "connections": 4104 + 216 + 275,
                             "macs": 3888 + 270}
    assert "total" not in table.layer.tolist()                    # no total row


def test_receptive_field_of_a_chain():
    model = nn.Sequential(nn.Conv2d(1, 1, 3), nn.Conv2d(1, 1, 3), nn.MaxPool2d(2),
                          nn.Conv2d(1, 1, 3),
                          nn.Conv2d(1, 1, 5, stride=2), nn.Conv2d(1, 1, 3, dilation=2))
    rf = summary(model, (1, 1, 64, 64)).receptive_field.tolist()
    # 1+2=3, +2=5, pool: +1 -> 6 (jump 2), +2*2=10, +4*2=18 (jump 4), dilated 3x3 spans 5: +4*4=34
    assert rf == [3, 5, 6, 10, 18, 34]


def test_batch_size_does_not_change_per_image_counts():
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.Flatten(), nn.Linear(4 * 6 * 6, 2))
    one, eight = summary(model, (1, 3, 8, 8)), summary(model, (8, 3, 8, 8))
    assert one.macs.tolist() == eight.macs.tolist()
    assert one.connections.tolist() == eight.connections.tolist()


def test_custom_layer_counts_itself_in_one_row():
    class Scaled(nn.Module):
        def __init__(self):
            super().__init__()
            self.inner = nn.Linear(3, 3)

        def forward(self, x):
            return 2 * self.inner(x)

        def layer_cost(self, inputs, output):
            return Cost(connections=123, macs=45)

    table = summary(nn.Sequential(nn.Flatten(), Scaled()), (1, 1, 1, 3))
    assert table.type.tolist() == ["Flatten", "Scaled"]
    assert (
        table.iloc[1].params == 12 and table.iloc[1].connections == 123 and table.iloc[1].macs == 45
    )


def test_input_size_needs_a_batch_dimension():
    with pytest.raises(ValueError, match="batch dimension"):
        summary(nn.Conv2d(1, 1, 3), (1, 8))


@settings(max_examples=40, deadline=None)
@given(st.data())
def test_summary_matches_pytorch_counters(data):
    channels, side = data.draw(st.integers(1, 4)), data.draw(st.integers(8, 24))
    layers, in_channels, current = [], channels, side
    for _ in range(data.draw(st.integers(1, 4))):
        kind = data.draw(st.sampled_from(["conv", "conv", "maxpool", "avgpool", "relu"]))
        if kind == "conv":
            groups = data.draw(st.sampled_from([g for g in (1, 2) if in_channels % g == 0]))
            out = groups * data.draw(st.integers(1, 3))
            k = data.draw(st.integers(1, min(5, current)))
            stride, padding = data.draw(st.integers(1, 2)), data.draw(st.integers(0, k // 2))
            layers.append(nn.Conv2d(in_channels, out, k, stride, padding, groups=groups,
                                    bias=data.draw(st.booleans())))
            in_channels, current = out, (current + 2 * padding - k) // stride + 1
        elif kind in ("maxpool", "avgpool") and current >= 2:
            layers.append(nn.MaxPool2d(2) if kind == "maxpool" else nn.AvgPool2d(2))
            current //= 2
        else:
            layers.append(nn.ReLU())
    layers += [nn.Flatten(), nn.Linear(in_channels * current * current,
                                       data.draw(st.integers(1, 6)))]
    model = nn.Sequential(*layers)

    table = summary(model, (1, channels, side, side))
    assert table.params.sum() == sum(p.numel() for p in model.parameters())
    with FlopCounterMode(display=False) as counter:
        model(torch.zeros(1, channels, side, side))
    # PyTorch counts 2 FLOPs per multiply-add of convolutions and matrix products; pooling is not
    # counted
    weighted = table[table.type.isin(["Conv2d", "Linear"])].macs.sum()
    assert 2 * weighted == counter.get_total_flops()
    for _, row in table[table.type == "Conv2d"].iterrows():
        # connections = multiply-adds + one bias connection per output unit (none without a bias)
        assert row.connections - row.macs in (0, math.prod(row.output_shape[1:]))


def test_depth_counts_weight_layers_on_the_longest_path():
    plain = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.Conv2d(2, 2, 3), nn.MaxPool2d(2),
                          nn.Flatten(),
                          nn.Linear(2 * 2 * 2, 3), nn.ReLU(), nn.Linear(3, 2))
    assert depth(plain, (1, 1, 8, 8)) == 4

    # y = x + F(x) with two convolutions in F, plus a 1-conv shortcut
    class Residual(nn.Module):
        def __init__(self):
            super().__init__()
            self.f = nn.Sequential(nn.Conv2d(2, 2, 3, padding=1), nn.ReLU(),
                                   nn.Conv2d(2, 2, 3, padding=1))
            self.shortcut = nn.Conv2d(2, 2, 1)

        def forward(self, x):
            return self.shortcut(x) + self.f(x)

    assert depth(nn.Sequential(nn.Conv2d(1, 2, 3), Residual(), Residual()),
                 (1, 1, 8, 8)) == 1 + 2 + 2


def test_depth_does_not_count_a_product_with_a_constant():
    """Local response normalisation sums neighbouring channels with a band-matrix product: not a
    layer.
    """
    from cnnlit.layers import LocalResponseNorm

    with_lrn = nn.Sequential(nn.Conv2d(1, 6, 3), nn.ReLU(), LocalResponseNorm(), nn.Flatten(),
                             nn.Linear(6 * 6 * 6, 2))
    assert depth(with_lrn, (1, 1, 8, 8)) == 2
    no_bias = nn.Sequential(nn.Linear(4, 4, bias=False), nn.ReLU(), nn.Linear(4, 2, bias=False))
    # products with learned weights still count (MmBackward)
    assert depth(no_bias, (2, 4)) == 2


def test_cost_and_window_rules_live_in_costs_keyed_by_layer_type():
    """The layers know nothing of accounting: cnnlit.costs holds their rules, one per type."""
    import inspect

    from cnnlit import layers
    from cnnlit.costs import COST_RULES, WINDOW_RULES, cost_of, window_of

    for name, klass in inspect.getmembers(layers, inspect.isclass):
        assert not hasattr(klass, "layer_cost") and not hasattr(klass, "receptive_field_step"), name
    for klass in (layers.Subsampling, layers.PartialConv2d, layers.EuclideanRBF, layers.Inception):
        assert klass in COST_RULES
    s2 = layers.Subsampling(6)
    assert window_of(s2) == (2, 2) and layers.Subsampling in WINDOW_RULES
    maps = torch.zeros(1, 6, 28, 28)
    assert cost_of(s2, (maps,), s2(maps)) == Cost(5_880, 4_704)      # LeCun et al. 1998: S2
    assert window_of(layers.Inception(192, 64, 96, 128, 16, 32, 32)) == (5, 1)
    assert window_of(nn.Conv2d(3, 8, 3, dilation=2, stride=2)) == (5, 2)
    assert window_of(nn.ReLU()) is None


@pytest.mark.parametrize("pool, shape, window", [(nn.MaxPool1d(2), (1, 2, 8), 2),
                                                 (nn.MaxPool2d(2), (1, 2, 8, 8), 4),
                                                 (nn.MaxPool3d(2), (1, 1, 4, 4, 4), 8)])
def test_max_pooling_connects_each_output_to_its_whole_window_in_1_2_or_3_dimensions(pool, shape,
                                                                                    window):
    from cnnlit.costs import cost_of

    x = torch.zeros(shape)
    output = pool(x)
    assert cost_of(pool, (x,), output).connections == output.numel() * window


def test_parameters_a_composite_module_holds_itself_are_counted_in_a_row_of_their_own():
    class Scaled(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 4, 3)
            self.gamma = nn.Parameter(torch.ones(4, 1, 1))      # 4 parameters of its own

        def forward(self, x):
            return self.gamma * self.conv(x)

    model = nn.Sequential(Scaled(), nn.Flatten(), nn.Linear(4 * 6 * 6, 2))
    frame = summary(model, (1, 3, 8, 8))
    assert totals(frame)["params"] == count_parameters(model) == 112 + 4 + 290
    assert frame.iloc[-1]["type"] == "Scaled (its own parameters)" and frame.iloc[-1]["params"] == 4
