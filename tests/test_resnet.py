"""Chapter 7: ResNet's Table 1, torchvision compatibility, the CIFAR-10 networks and the chapter's
helpers.
"""
import matplotlib
import pytest
import torch
import torchvision
from torch import nn

matplotlib.use("Agg")

from cnnlit.analysis import count_parameters, summary  # noqa: E402
from cnnlit.chapters import resnet as chapter  # noqa: E402
from cnnlit.layers import BasicBlock, Bottleneck  # noqa: E402
from cnnlit.layers.residual import ZeroPadShortcut  # noqa: E402
from cnnlit.models import InputShapeError, get_model  # noqa: E402
from cnnlit.models.resnet import PAPER_CIFAR_PARAMETERS, PAPER_FLOPS, TABLE_1, resnet, resnet_cifar  # noqa: E402
from cnnlit.train import History  # noqa: E402

# torchvision.models.resnetNN(): parameter counts (also in torchvision's documentation)
TORCHVISION_PARAMETERS = {18: 11_689_512, 34: 21_797_672, 50: 25_557_032, 101: 44_549_160,
                          152: 60_192_808}


def _meta(builder, *args, **kwargs):
    with torch.device("meta"):
        return builder(*args, **kwargs)


@pytest.mark.parametrize("depth", sorted(TABLE_1))
def test_torchvision_layout_matches_torchvision(depth):
    ours = _meta(resnet, depth, variant="torchvision")
    theirs = _meta(getattr(torchvision.models, f"resnet{depth}"))
    assert count_parameters(ours) == count_parameters(theirs) == TORCHVISION_PARAMETERS[depth]
    # the same keys and shapes: what a strict load_state_dict checks
    assert {k: v.shape for k, v in ours.state_dict().items()} == {
        k: v.shape for k, v in theirs.state_dict().items()
    }


@pytest.mark.parametrize("depth", [18, 50])
def test_torchvision_state_dict_loads_with_equal_outputs(depth):
    torch.manual_seed(depth)
    theirs = getattr(torchvision.models, f"resnet{depth}")().eval()
    # non-trivial BN statistics, so eval mode really uses them
    for module in theirs.modules():
        if isinstance(module, nn.BatchNorm2d):
            module.running_mean.uniform_(-0.1, 0.1)
            module.running_var.uniform_(0.5, 1.5)
            module.weight.data.uniform_(0.5, 1.5)
    ours = resnet(depth, variant="torchvision").eval()
    ours.load_state_dict(theirs.state_dict())     # strict: every key, every shape
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(ours(x), theirs(x), rtol=1e-4, atol=1e-5)


def test_paper_variant_subsamples_on_the_first_1x1():
    block = _meta(resnet, 50).layer2[0]
    assert block.conv1.stride == (2, 2) and block.conv2.stride == (1, 1)
    block = _meta(resnet, 50, variant="torchvision").layer2[0]
    assert block.conv1.stride == (1, 1) and block.conv2.stride == (2, 2)


def test_multiply_adds_match_table_1_within_two_percent():
    table = chapter.table_1()
    macs = table.attrs["macs"]
    assert macs[18] == 1_814_098_432          # torchvision's published 1.81 GFLOPS for resnet18
    for depth, paper in PAPER_FLOPS.items():
        assert abs(macs[depth] - paper) / paper < 0.02, (depth, macs[depth])
    # the torchvision layout (stride on the 3x3) costs more: 4.09e9 for ResNet-50, beyond the
    # paper's 3.8e9
    assert chapter.multiply_adds(50, "torchvision") == 4_089_284_608
    assert table.loc["conv4_x", "152-layer"] == "[1x1 256, 3x3 256, 1x1 1024] x 36"
    assert table.loc["conv3_x", "34-layer"] == "[3x3 128, 3x3 128] x 4"
    assert list(table["output size"][:6]) == ["112x112", "56x56", "56x56", "28x28", "14x14", "7x7"]


@pytest.mark.parametrize("depth", [20, 32, 44, 56, 110])
def test_cifar_parameter_counts_match_table_6(depth):
    ours = count_parameters(resnet_cifar(depth))
    assert abs(ours - PAPER_CIFAR_PARAMETERS[depth]) / PAPER_CIFAR_PARAMETERS[depth] < 0.02
    # option A has no parameters: the plain net has exactly as many
    assert count_parameters(resnet_cifar(depth, plain=True)) == ours


def test_cifar_formula_and_layer_count():
    model = resnet_cifar(20)
    convs = [m for name, m in model.named_modules() if isinstance(m, nn.Conv2d)]
    assert len(convs) + 1 == 20                    # 6n + 1 convolutions and the fc layer, n = 3
    # 16-channel first conv (3*9*16 + BN 32), fc 64*10+10; blocks 3x3 convs + BN
    n = 3
    expected = 3 * 9 * 16 + 32 + 640 + 10
    for width_in, width in ((16, 16), (16, 32), (32, 64)):
        expected += (
            9 * width_in * width
            + 2 * width
            + (n - 1) * 2 * (9 * width * width + 2 * width)
            + 9 * width * width
            + 2 * width
        )
    assert count_parameters(model) == expected == 269_722


def test_cifar_shapes_and_channels():
    for channels, side in ((1, 28), (3, 32)):
        model = resnet_cifar(8, in_channels=channels)
        assert model(torch.rand(2, channels, side, side)).shape == (2, 10)
        frame = summary(model, (1, channels, side, side))
        assert frame.loc[frame.layer == "layer3.0.conv2",
                         "output_shape"].item()[-1] == (side + 3) // 4
    with pytest.raises(InputShapeError, match=r"resnet20 \(CIFAR\) expects \(N, 3, H, W\).*got "
                                              r"\(1, 1, 32, 32\)"):
        resnet_cifar(20)(torch.rand(1, 1, 32, 32))
    with pytest.raises(InputShapeError, match="at least 32x32"):
        resnet(18)(torch.rand(1, 3, 16, 16))
    with pytest.raises(ValueError, match="6n\\+2"):
        resnet_cifar(21)
    with pytest.raises(ValueError, match="Table 1"):
        resnet(20)
    with pytest.raises(ValueError, match="shortcut option 'D'"):
        resnet_cifar(20, shortcut="D")
    with pytest.raises(ValueError, match="variant='torchvision' has option-B"):
        resnet(18, variant="torchvision", shortcut="A")


def test_option_b_adds_projections_only_where_the_width_grows():
    a, b = resnet_cifar(20), resnet_cifar(20, shortcut="B")
    # two projections, 16->32 and 32->64: 1x1 weights plus BN
    assert count_parameters(b) - count_parameters(a) == (16 * 32 + 64) + (32 * 64 + 128)
    c = _meta(resnet, 34, shortcut="C")
    # every block
    assert sum(1 for name, _ in c.named_modules() if name.endswith("downsample")) == 16


def test_plain_blocks_have_no_shortcut_and_residual_blocks_add():
    torch.manual_seed(0)
    block = BasicBlock(8, 8).eval()
    x = torch.randn(1, 8, 6, 6)
    with torch.no_grad():
        f = block.bn2(block.conv2(block.relu(block.bn1(block.conv1(x)))))
        torch.testing.assert_close(block(x), torch.relu(f + x))
    plain = resnet_cifar(20, plain=True)
    assert not any(isinstance(m, ZeroPadShortcut) for m in plain.modules())
    assert sum(isinstance(m, ZeroPadShortcut) for m in resnet_cifar(20).modules()) == 2


def test_zero_pad_shortcut():
    x = torch.arange(2 * 4 * 4, dtype=torch.float).reshape(1, 2, 4, 4)
    y = ZeroPadShortcut(2, 5, stride=2)(x)
    assert y.shape == (1, 5, 2, 2)
    torch.testing.assert_close(y[:, :2], x[:, :, ::2, ::2])
    assert y[:, 2:].abs().sum() == 0
    with pytest.raises(ValueError):
        ZeroPadShortcut(4, 2)


def test_bottleneck_widths():
    block = Bottleneck(256, 64)
    assert [block.conv1.out_channels, block.conv2.out_channels,
            block.conv3.out_channels] == [64, 64, 256]
    assert block.downsample is None                  # same shape: identity shortcut
    assert Bottleneck(64, 64).downsample is not None  # 64 -> 256 needs a projection (option B)


def test_registry_names():
    assert count_parameters(get_model("resnet20",
                                      in_channels=1)) == count_parameters(get_model("plain20",
                                                                                    in_channels=1))
    assert get_model("plain56").plain and get_model("resnet56").depth == 56
    assert _meta(get_model, "resnet152", variant="torchvision").variant == "torchvision"
    assert count_parameters(_meta(get_model, "resnet1202")) == 19_421_274     # Table 6: 19.4M


def test_chain_gradients_vanish_in_plain_stack_not_residual():
    plain = chapter.chain_gradient_norms(30, 0.5, residual=False)
    residual = chapter.chain_gradient_norms(30, 0.5, residual=True)
    assert len(plain) == len(residual) == 31
    assert plain[-1] == pytest.approx(1.0) and residual[-1] == pytest.approx(1.0)   # unit vector g
    assert plain[0] < 1e-6          # a product of 30 contracting Jacobians
    assert residual[0] >= 1.0       # (I + J_30)...(I + J_1) keeps the identity's gradient


def test_single_residual_layer_jacobian_is_identity_plus_branch():
    torch.manual_seed(0)
    weight = torch.randn(4, 4) * 0.1
    x = torch.randn(4)
    jacobian = torch.autograd.functional.jacobian(lambda v: v + torch.tanh(weight @ v), x)
    branch = torch.autograd.functional.jacobian(lambda v: torch.tanh(weight @ v), x)
    torch.testing.assert_close(jacobian, torch.eye(4) + branch)


def test_plot_chain_gradients_clamps():
    figure = chapter.plot_chain_gradients(depth=10_000, weight_scale=-5)
    assert len(figure.axes[0].lines[0].get_xdata()) == chapter.MAX_CHAIN_DEPTH + 1
    assert "0.05" in figure.axes[0].get_title()


def test_gradient_norms_per_layer():
    torch.manual_seed(0)
    model = resnet_cifar(8, in_channels=1)
    frame = chapter.gradient_norms(model, torch.rand(8, 1, 12, 12), torch.randint(0, 10, (8,)))
    assert list(frame["depth"]) == list(range(1, 8))         # 6n + 1 = 7 convolutions
    assert (frame["grad_norm"] > 0).all()
    assert all(p.grad is None for p in model.parameters())
    figure = chapter.plot_gradient_norms({"resnet-8": frame, "plain-8": frame})
    assert len(figure.axes[0].lines) == 2
    with pytest.raises(ValueError):
        chapter.plot_gradient_norms({})


def test_training_error_plot_and_table():
    plain = History(epoch=[1, 2], loss=[1, 0.5], accuracy=[0.5, 0.75], seconds=[1, 1],
                    val_loss=[1, 1],
                    val_accuracy=[0.4, 0.6])
    residual = History(epoch=[1, 2], loss=[1, 0.5], accuracy=[0.6, 0.9], seconds=[1, 1])
    figure = chapter.plot_training_error({"plain-20": plain, "resnet-20": residual})
    left, right = figure.axes
    assert len(left.lines) == 2 and len(right.lines) == 1
    assert list(left.lines[0].get_ydata()) == [50.0, 25.0]
    table = chapter.final_errors({"plain-20": plain, "resnet-20": residual})
    assert table.loc["plain-20", "final training error %"] == 25.0
    assert table.loc["plain-20", "final validation error %"] == 40.0
    assert table.loc["resnet-20", "final training error %"] == 10.0
