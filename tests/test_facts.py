"""Facts the book states about its networks, computed from the package: each test backs a sentence
or docstring that once said something else (issue 27)."""
from __future__ import annotations

import torch
import torchvision

from cnnlit.analysis import count_parameters, depth
from cnnlit.chapters.vgg import layer_costs
from cnnlit.layers.lenet5_layers import ScaledTanh
from cnnlit.models import get_model
from cnnlit.module_tools import on_meta


def test_scaled_tanh_slope_is_largest_at_zero_and_curvature_near_one():
    # LeCun et al. 1998, appendix A: f(+-1) = +-1; |f''| is largest at about +-1, not the gain f'
    a = torch.linspace(-3.0, 3.0, 60_001, dtype=torch.float64, requires_grad=True)
    slope, = torch.autograd.grad(ScaledTanh()(a).sum(), a, create_graph=True)
    curvature, = torch.autograd.grad(slope.sum(), a)
    a, slope = a.detach(), slope.detach()
    ones = torch.tensor([-1.0, 1.0])
    assert torch.allclose(ScaledTanh()(ones), ones, atol=1e-4)
    assert abs(float(a[slope.argmax()])) < 1e-3
    assert abs(float(slope.max()) - ScaledTanh.A * ScaledTanh.S) < 1e-6     # f'(0) = A S = 1.14
    assert abs(abs(float(a[curvature.abs().argmax()])) - 1.0) < 0.05       # |f''| peaks at ~ +-1
    at_one = float(slope[(a.abs() - 1.0).abs().argmin()])
    assert at_one < 0.8 * float(slope.max())                                 # f'(1) = 0.75


def test_two_tower_alexnet_has_slightly_fewer_parameters_than_torchvisions():
    paper = count_parameters(on_meta(get_model, "alexnet", variant="paper"))
    one_tower = count_parameters(on_meta(torchvision.models.alexnet, weights=None))
    assert 0 < one_tower - paper < 200_000                  # 60,965,224 against 61,100,840


def test_torchvision_alexnet_widths_differ_from_the_one_weird_trick_footnote_in_conv4():
    model = on_meta(get_model, "alexnet", variant="torchvision")
    widths = [m.out_channels for m in model.features if isinstance(m, torch.nn.Conv2d)]
    footnote = [64, 192, 384, 384, 256]                     # Krizhevsky 2014, footnote 1
    assert widths == [64, 192, 384, 256, 256]
    assert [i for i, (ours, paper) in enumerate(zip(widths, footnote)) if ours != paper] == [3]


def test_vgg_receptive_field_grows_by_k_minus_1_times_the_strides_below():
    costs = layer_costs("D", input_size=224)
    conv = costs.kind.str.startswith("conv")
    grows = costs.receptive_field.diff()[conv & conv.shift(fill_value=False)]
    assert list(grows.unique()) == [2, 4, 8, 16, 32]     # chapter 00: (k - 1) x the strides below
    assert costs.receptive_field[costs.kind == "maxpool"].iloc[-1] == 212


def test_depth_did_not_grow_from_alexnet_to_zf_net():
    sizes = {"lenet5": (1, 1, 32, 32), "alexnet": (1, 3, 227, 227), "zfnet": (1, 3, 224, 224)}
    depths = {name: depth(get_model(name).eval(), size) for name, size in sizes.items()}
    assert depths["lenet5"] < depths["alexnet"] == depths["zfnet"] == 8
