"""Reference solutions of the exercises: what ``check`` compares an answer with.

They live here, in the package, so the notebooks carry the exercises and the checks but not the answers
(``make student`` strips the notebooks' own folded solutions). Each is written the way a student could
write it from the chapter -- the tests check every one against the package's own layers and models.
Numbers are computed (from shapes on PyTorch's "meta" device where a real layer would be too big), never
typed in.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ..module_tools import on_meta


def _parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


# =========================================================================== chapter 0: foundations
def params_fc_224() -> int:
    """A fully connected layer from a 224×224×3 image to 1,000 units: weights and biases."""
    return _parameters(nn.Linear(224 * 224 * 3, 1000, device="meta"))


def params_conv_224() -> int:
    """A 3×3 convolution from 3 to 64 channels, on any image size: 64 × (3·3·3 + 1)."""
    return _parameters(nn.Conv2d(3, 64, 3, device="meta"))


def conv_output_size(input_size: int, kernel: int, stride: int = 1, padding: int = 0) -> int:
    return (input_size + 2 * padding - kernel) // stride + 1


def output_size_5x5_stride2() -> int:
    return conv_output_size(32, 5, stride=2, padding=1)


def receptive_field_with_pool() -> int:
    """conv 3×3, conv 3×3, max-pool 2×2/2, conv 3×3: r <- r + (k - 1) j, j <- j s."""
    field, jump = 1, 1
    for kernel, stride in [(3, 1), (3, 1), (2, 2), (3, 1)]:
        field, jump = field + (kernel - 1) * jump, jump * stride
    return field


def conv2d(x: torch.Tensor, weight: torch.Tensor, bias=None, stride: int = 1, padding: int = 0) -> torch.Tensor:
    """A 2-d convolution (cross-correlation, as in every CNN) as one matrix product: unfold the input into
    columns of k×k×C patches, multiply by the filters laid out as rows, fold the result into maps."""
    n, _, height, width = x.shape
    out_channels, _, kernel, _ = weight.shape
    columns = F.unfold(x, kernel, padding=padding, stride=stride)          # (N, C·k·k, positions)
    out = weight.reshape(out_channels, -1) @ columns                       # (N, out, positions)
    if bias is not None:
        out = out + bias[:, None]
    side_h = (height + 2 * padding - kernel) // stride + 1
    side_w = (width + 2 * padding - kernel) // stride + 1
    return out.reshape(n, out_channels, side_h, side_w)


def train_step(model: nn.Module, optimizer, images: torch.Tensor, labels: torch.Tensor) -> float:
    """One step of mini-batch SGD with cross-entropy: forward, loss, backward, update."""
    model.train()
    optimizer.zero_grad()
    loss = F.cross_entropy(model(images), labels)
    loss.backward()
    optimizer.step()
    return loss.item()


def small_cnn() -> nn.Module:
    """A design under 10,000 parameters for 1×28×28 digits: two convolutions, then a linear classifier."""
    return nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),      # 8 @ 14×14
                         nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),     # 16 @ 7×7
                         nn.AdaptiveAvgPool2d(2), nn.Flatten(), nn.Linear(16 * 4, 10))


# =========================================================================== chapter 1: LeNet-5
def c3_mask() -> torch.Tensor:
    """Table I of LeCun et al. 1998 as a (6, 16) boolean tensor: row = S2 map, column = C3 map.
    Maps 0-5 read 3 contiguous S2 maps, 6-11 read 4 contiguous ones, 12-14 read 4 non-contiguous ones
    (pairs of adjacent maps, e.g. {0, 1, 3, 4}), and 15 reads all six."""
    mask = torch.zeros(6, 16, dtype=torch.bool)
    for column in range(6):
        mask[[(column + i) % 6 for i in range(3)], column] = True
    for column in range(6, 12):
        mask[[(column - 6 + i) % 6 for i in range(4)], column] = True
    for column, start in zip(range(12, 15), range(3)):
        mask[[(start + i) % 6 for i in (0, 1, 3, 4)], column] = True
    mask[:, 15] = True
    return mask


def c3_params() -> int:
    """60 links of 5×5 weights, plus one bias per C3 map."""
    return int(c3_mask().sum()) * 5 * 5 + 16


def c3_connections() -> int:
    """Every one of the 10×10 positions of a C3 map uses all of its weights and its bias once."""
    return 10 * 10 * c3_params()


def subsample(x: torch.Tensor, coefficient: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    """S2/S4: the sum of each non-overlapping 2×2 block, times a coefficient, plus a bias, per map."""
    n, channels, height, width = x.shape
    blocks = x.reshape(n, channels, height // 2, 2, width // 2, 2).sum(dim=(3, 5))
    return blocks * coefficient[:, None, None] + bias[:, None, None]


def rbf(x: torch.Tensor, codes: torch.Tensor) -> torch.Tensor:
    """Eq. 7: y_i = sum_j (x_j - w_ij)^2, for a batch x (N, 84) and codes (10, 84) -> (N, 10)."""
    return ((x[:, None, :] - codes[None, :, :]) ** 2).sum(dim=-1)


def c3_table_design() -> torch.Tensor:
    """Any table that meets the constraints; Table I itself does."""
    return c3_mask()


# =========================================================================== chapter 2: AlexNet
def alexnet_params() -> int:
    """The paper's two-tower AlexNet."""
    from ..models.alexnet import AlexNet

    return _parameters(on_meta(AlexNet))


def alexnet_one_tower_params() -> int:
    """The paper's AlexNet with conv2, conv4 and conv5 connected to all maps of the layer below."""
    from ..models.alexnet import PAPER_CONVOLUTIONS, AlexNet

    rows = [row[:5] + (1,) + row[6:] for row in PAPER_CONVOLUTIONS]
    return _parameters(on_meta(AlexNet, convolutions=rows))


def dropout_expectation() -> float:
    """Classic dropout, p = 0.3: a unit is kept with probability 0.7, so its expected training output is
    0.7 a; at test time every unit is used and multiplied by 0.7."""
    return 1 - 0.3


def lrn(a: torch.Tensor, n: int = 5, alpha: float = 1e-4, beta: float = 0.75, k: float = 2.0) -> torch.Tensor:
    """Section 3.3: b_i = a_i / (k + alpha sum_{j=i-n/2}^{i+n/2} a_j^2)^beta, over channels in range."""
    channels = a.shape[1]
    squares = a ** 2
    energy = torch.stack([squares[:, max(0, i - n // 2):min(channels, i + (n - 1) // 2 + 1)].sum(dim=1)
                          for i in range(channels)], dim=1)
    return a / (k + alpha * energy) ** beta


def inverted_dropout(a: torch.Tensor, p: float, training: bool = True) -> torch.Tensor:
    """Drop each unit with probability p while training and scale the kept ones by 1/(1-p), so the
    expected output is a; at test time, the identity."""
    if not training or p == 0:
        return a
    keep = (torch.rand_like(a) >= p).to(a.dtype)
    return a * keep / (1 - p)


def towers(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor, padding: int = 0) -> torch.Tensor:
    """AlexNet's conv2 on two GPUs: each half of the filters sees only its own half of the input maps."""
    half_in, half_out = x.shape[1] // 2, weight.shape[0] // 2
    top = F.conv2d(x[:, :half_in], weight[:half_out], bias[:half_out], padding=padding)
    bottom = F.conv2d(x[:, half_in:], weight[half_out:], bias[half_out:], padding=padding)
    return torch.cat([top, bottom], dim=1)


def two_tower_net() -> nn.Module:
    """A design for 3×32×32 images under 1M parameters with AlexNet's towers in conv2, conv4 and conv5."""
    from ..layers import LocalResponseNorm

    return nn.Sequential(
        nn.Conv2d(3, 32, 5, padding=2), nn.ReLU(), LocalResponseNorm(), nn.MaxPool2d(3, 2, 1),       # 16×16
        nn.Conv2d(32, 64, 5, padding=2, groups=2), nn.ReLU(), LocalResponseNorm(), nn.MaxPool2d(3, 2, 1),
        nn.Conv2d(64, 96, 3, padding=1), nn.ReLU(),                                                  # 8×8
        nn.Conv2d(96, 96, 3, padding=1, groups=2), nn.ReLU(),
        nn.Conv2d(96, 64, 3, padding=1, groups=2), nn.ReLU(), nn.MaxPool2d(3, 2, 1),                 # 4×4
        nn.Flatten(), nn.Dropout(0.5), nn.Linear(64 * 4 * 4, 256), nn.ReLU(), nn.Dropout(0.5),
        nn.Linear(256, 10))


# =========================================================================== chapter 3: ZF Net
def zf_conv1_output() -> int:
    """Fig. 3: 224×224 input, 7×7 filters, stride 2 (padding 1 gives the caption's 110)."""
    return conv_output_size(224, 7, stride=2, padding=1)


def flat_spectrum_aliasing() -> float:
    """Share of a flat spectrum on the unit square of frequencies [-1/2, 1/2]^2 above the Nyquist
    frequency of a stride-4 grid (cutoff 1/8): the area outside a disc of radius 1/8."""
    cutoff = 1 / 8
    return 1 - math.pi * cutoff ** 2


def unpool_by_switches(pooled: torch.Tensor, switches: torch.Tensor, output_size) -> torch.Tensor:
    """The deconvnet's unpooling: each pooled value goes back to the position its switch recorded (a flat
    index into the H×W map, as max_pool2d(..., return_indices=True) gives), zeros elsewhere."""
    n, channels = pooled.shape[:2]
    height, width = output_size
    out = pooled.new_zeros(n, channels, height * width)
    out = out.scatter_add(2, switches.reshape(n, channels, -1), pooled.reshape(n, channels, -1))
    return out.reshape(n, channels, height, width)


def occlusion_map(model: nn.Module, image: torch.Tensor, label: int, size: int, stride: int,
                  fill: float = 0.5) -> torch.Tensor:
    """Section 4.2: for each centre (every ``stride`` pixels from (0, 0)) grey out a ``size`` square whose
    top-left corner is centre - size // 2 (clipped at the borders) and record the softmax probability of
    ``label``. Returns the (rows, cols) map."""
    height, width = image.shape[-2:]
    rows = list(range(0, height, stride))
    cols = list(range(0, width, stride))
    result = torch.zeros(len(rows), len(cols))
    model.eval()
    with torch.no_grad():
        for i, row in enumerate(rows):
            for j, col in enumerate(cols):
                covered = image.clone()
                top, left = max(row - size // 2, 0), max(col - size // 2, 0)
                covered[:, top:row - size // 2 + size, left:col - size // 2 + size] = fill
                result[i, j] = torch.softmax(model(covered[None]), dim=1)[0, label]
    return result


def zf_design() -> nn.Module:
    """Five convolutions for 1×64×64 images, ZF's small first layer (7×7, stride 2), under 600k parameters."""
    return nn.Sequential(
        nn.Conv2d(1, 32, 7, stride=2, padding=3), nn.ReLU(), nn.MaxPool2d(3, 2, 1),      # 32 -> 16
        nn.Conv2d(32, 64, 5, padding=2), nn.ReLU(), nn.MaxPool2d(3, 2, 1),               # 8
        nn.Conv2d(64, 96, 3, padding=1), nn.ReLU(),
        nn.Conv2d(96, 96, 3, padding=1), nn.ReLU(),
        nn.Conv2d(96, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(3, 2, 1),               # 4
        nn.Flatten(), nn.Linear(64 * 4 * 4, 256), nn.ReLU(), nn.Linear(256, 10))


# =========================================================================== chapter 4: VGG
def vgg_c_vs_d_params() -> int:
    """D minus C: three 3×3 layers (256, 512, 512 wide, same width in and out) become 1×1 layers: each
    keeps its bias and loses 9 - 1 = 8 weights per input-output pair."""
    return sum((3 * 3 - 1) * width * width for width in (256, 512, 512))


def receptive_field_3x3_stack() -> int:
    field = 1
    for _ in range(3):
        field += 3 - 1
    return field


def fc_to_conv(linear: nn.Linear, channels: int, side: int) -> nn.Conv2d:
    """Sec. 3.2: the FC layer on a flattened channels×side×side map is a side×side convolution with the
    same weights, reshaped; it then slides over larger maps."""
    conv = nn.Conv2d(channels, linear.out_features, side)
    with torch.no_grad():
        conv.weight.copy_(linear.weight.reshape(linear.out_features, channels, side, side))
        conv.bias.copy_(linear.bias)
    return conv


def batch_norm(x: torch.Tensor, gamma: torch.Tensor, beta: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    """Training-mode batch normalisation of (N, C, H, W): per channel, the mean and the (biased) variance
    over the batch and the positions, then the scale gamma and shift beta."""
    mean = x.mean(dim=(0, 2, 3), keepdim=True)
    variance = ((x - mean) ** 2).mean(dim=(0, 2, 3), keepdim=True)
    return gamma[None, :, None, None] * (x - mean) / torch.sqrt(variance + eps) + beta[None, :, None, None]


def vgg_block(in_channels: int, out_channels: int, convs: int) -> nn.Sequential:
    """``convs`` 3×3 convolutions (stride 1, padding 1) with ReLUs, then a 2×2 max-pooling with stride 2."""
    layers = []
    for index in range(convs):
        layers += [nn.Conv2d(in_channels if index == 0 else out_channels, out_channels, 3, padding=1),
                   nn.ReLU()]
    return nn.Sequential(*layers, nn.MaxPool2d(2, 2))


def vgg_budget() -> nn.Module:
    """Six 3×3 convolutions for 1×28×28 images, under 100k parameters, global average pooling on top."""
    return nn.Sequential(vgg_block(1, 16, 2), vgg_block(16, 32, 2), vgg_block(32, 64, 2),    # 28 -> 3
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, 10))


# =========================================================================== chapter 5: GoogLeNet
def inception_3a_params() -> int:
    """Inception (3a) on 192 channels, biases included: #1x1 64, #3x3 reduce 96, #3x3 128, #5x5 reduce 16,
    #5x5 32, pool proj 32."""
    def conv(cin, cout, k):
        return cout * (cin * k * k + 1)
    return (conv(192, 64, 1) + conv(192, 96, 1) + conv(96, 128, 3) + conv(192, 16, 1) + conv(16, 32, 5)
            + conv(192, 32, 1))


def naive_3a_channels() -> int:
    """Figure 2(a) on 192 channels: 64 + 128 + 32, and the pooling branch passes all 192 maps through."""
    return 64 + 128 + 32 + 192


class ConvThenReLU(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, kernel: int):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel, padding=kernel // 2)

    def forward(self, x):
        return F.relu(self.conv(x))


class InceptionModule(nn.Module):
    """Figure 2(b): four branches on the same input, concatenated in the order of Table 1's columns."""

    def __init__(self, in_channels, n1x1, n3x3_reduce, n3x3, n5x5_reduce, n5x5, pool_proj):
        super().__init__()
        self.branch1 = ConvThenReLU(in_channels, n1x1, 1)
        self.branch2 = nn.Sequential(ConvThenReLU(in_channels, n3x3_reduce, 1), ConvThenReLU(n3x3_reduce, n3x3, 3))
        self.branch3 = nn.Sequential(ConvThenReLU(in_channels, n5x5_reduce, 1), ConvThenReLU(n5x5_reduce, n5x5, 5))
        self.branch4 = nn.Sequential(nn.MaxPool2d(3, stride=1, padding=1), ConvThenReLU(in_channels, pool_proj, 1))

    def forward(self, x):
        return torch.cat([self.branch1(x), self.branch2(x), self.branch3(x), self.branch4(x)], dim=1)


class ConvBNReLU(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, kernel: int):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel, padding=kernel // 2, bias=False)
        self.bn = nn.BatchNorm2d(out_channels)

    def forward(self, x):
        return F.relu(self.bn(self.conv(x)))


class BNInception(nn.Module):
    """Ioffe & Szegedy 2015: batch norm after every convolution (which then needs no bias), and the 5×5
    convolution replaced by two stacked 3×3 convolutions."""

    def __init__(self, in_channels, n1x1, n3x3_reduce, n3x3, double_reduce, double_3x3, pool_proj):
        super().__init__()
        self.branch1 = ConvBNReLU(in_channels, n1x1, 1)
        self.branch2 = nn.Sequential(ConvBNReLU(in_channels, n3x3_reduce, 1), ConvBNReLU(n3x3_reduce, n3x3, 3))
        self.branch3 = nn.Sequential(ConvBNReLU(in_channels, double_reduce, 1),
                                     ConvBNReLU(double_reduce, double_3x3, 3), ConvBNReLU(double_3x3, double_3x3, 3))
        self.branch4 = nn.Sequential(nn.MaxPool2d(3, stride=1, padding=1), ConvBNReLU(in_channels, pool_proj, 1))

    def forward(self, x):
        return torch.cat([self.branch1(x), self.branch2(x), self.branch3(x), self.branch4(x)], dim=1)


def inception_macs(in_channels: int, columns, side: int) -> int:
    """Multiply-adds of an Inception module's convolutions on side×side maps (stride 1, 'same' padding).
    ``columns`` = (#1x1, #3x3 reduce, #3x3, #5x5 reduce, #5x5, pool proj); None = no such layer (naive)."""
    n1, r3, n3, r5, n5, proj = columns
    positions = side * side
    macs = in_channels * n1
    macs += (in_channels * r3 + r3 * 9 * n3) if r3 is not None else in_channels * 9 * n3
    macs += (in_channels * r5 + r5 * 25 * n5) if r5 is not None else in_channels * 25 * n5
    macs += in_channels * proj if proj is not None else 0
    return positions * macs


def inception_budget() -> nn.Module:
    """256 -> 480 channels on 28×28 maps, ~2/3 of (3b)'s cost: narrower reductions."""
    from ..layers import Inception as PackageInception

    return PackageInception(256, 128, 64, 192, 16, 96, 64)


# =========================================================================== chapter 6: ResNet
def bottleneck_params() -> int:
    """A conv4_x bottleneck on a 1024-wide input, without batch norm: 1×1 1024->256, 3×3 256->256,
    1×1 256->1024, no biases (BN follows every convolution)."""
    return 1024 * 256 + 3 * 3 * 256 * 256 + 256 * 1024


def option_b_extra_params() -> int:
    """ResNet-20 on CIFAR-10: option B's projections (1×1 conv + BN) where the width doubles."""
    from ..models import get_model

    return _parameters(get_model("resnet_cifar", depth=20, shortcut="B")) - \
        _parameters(get_model("resnet_cifar", depth=20, shortcut="A"))


def option_b_shortcut(in_channels: int, out_channels: int, stride: int) -> nn.Module:
    """Option B (Sec. 3.3): the identity where the shapes agree, else a 1×1 projection with batch norm."""
    if stride == 1 and in_channels == out_channels:
        return nn.Identity()
    return nn.Sequential(nn.Conv2d(in_channels, out_channels, 1, stride, bias=False), nn.BatchNorm2d(out_channels))


class BasicBlockOptionB(nn.Module):
    """Fig. 5 (left) with option B: a 1×1 projection (and BN) on the shortcut only where the shape changes."""

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.shortcut = option_b_shortcut(in_channels, out_channels, stride)

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.shortcut(x))


class BottleneckOptionB(nn.Module):
    """Fig. 5 (right): 1×1 reduce (carrying the stride, as the paper), 3×3, 1×1 to 4× the width; option B."""

    expansion = 4

    def __init__(self, in_channels: int, channels: int, stride: int = 1):
        super().__init__()
        out_channels = channels * self.expansion
        self.conv1 = nn.Conv2d(in_channels, channels, 1, stride, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.conv2 = nn.Conv2d(channels, channels, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)
        self.conv3 = nn.Conv2d(channels, out_channels, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(out_channels)
        self.shortcut = option_b_shortcut(in_channels, out_channels, stride)

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = F.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return F.relu(out + self.shortcut(x))


def shortcut_a(x: torch.Tensor, out_channels: int, stride: int) -> torch.Tensor:
    """Option A: keep every stride-th pixel, append zero channels up to ``out_channels``."""
    x = x[:, :, ::stride, ::stride]
    zeros = x.new_zeros(x.shape[0], out_channels - x.shape[1], *x.shape[2:])
    return torch.cat([x, zeros], dim=1)


class PreActBlock(nn.Module):
    """He et al. 2016b ("Identity mappings in deep residual networks"): BN and ReLU before each
    convolution, nothing after the addition, so the shortcut path is a pure identity."""

    def __init__(self, channels: int):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(channels)
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)

    def forward(self, x):
        out = self.conv1(F.relu(self.bn1(x)))
        out = self.conv2(F.relu(self.bn2(out)))
        return x + out


def deep_budget() -> nn.Module:
    """20 weight layers under 300k parameters: the paper's ResNet-20 (0.27M)."""
    from ..models import get_model

    return get_model("resnet_cifar", depth=20)


# =========================================================================== chapter 7: comparison
def _vgg19_meta() -> nn.Module:
    from ..models import get_model
    from ..module_tools import on_meta

    return on_meta(get_model, "vgg19")


def vgg19_fc_share() -> float:
    """The share of VGG-19's parameters in its three fully connected layers (Simonyan and Zisserman, Table 2:
    144 million in all)."""
    model = _vgg19_meta()
    linear = sum(_parameters(m) for m in model.modules() if isinstance(m, nn.Linear))
    return linear / _parameters(model)


def vgg19_first_fc_share() -> float:
    """The first fully connected layer alone (7·7·512 → 4096): a common slip for the question above."""
    model = _vgg19_meta()
    first = next(m for m in model.modules() if isinstance(m, nn.Linear))
    return _parameters(first) / _parameters(model)


def count_macs(model: nn.Module, input_shape) -> int:
    """Multiply-adds of one forward pass of ``model`` on an input of ``input_shape`` (batch of one), counted
    by forward hooks on its convolutions and fully connected layers: per output unit, one multiply-add for
    each input it reads (C_in / groups · k · k for a convolution, in_features for a linear layer)."""
    from ..module_tools import evaluating

    total = 0

    def conv(module, inputs, output):
        nonlocal total
        total += output[0].numel() * module.in_channels // module.groups * math.prod(module.kernel_size)

    def linear(module, inputs, output):
        nonlocal total
        total += output[0].numel() * module.in_features

    handles = [m.register_forward_hook(conv if isinstance(m, nn.Conv2d) else linear)
               for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    device = next(model.parameters()).device
    try:
        with evaluating(model), torch.no_grad():
            model(torch.zeros(*input_shape, device=device))
    finally:
        for handle in handles:
            handle.remove()
    return total


def vgg19_over_resnet50_macs() -> float:
    """How many times ResNet-50's multiply-adds VGG-19 needs on one 224×224 crop."""
    from ..models import get_model
    from ..module_tools import on_meta

    shape = (1, 3, 224, 224)
    return count_macs(_vgg19_meta(), shape) / count_macs(on_meta(get_model, "resnet50"), shape)


def vgg19_over_resnet50_params() -> float:
    """The same ratio for parameters: a common slip for the question above."""
    from ..models import get_model
    from ..module_tools import on_meta

    return _parameters(_vgg19_meta()) / _parameters(on_meta(get_model, "resnet50"))


def efficient_design() -> nn.Module:
    """Ten weight layers on 3×32×32 within 5M multiply-adds and 100k parameters: 3×3 convolutions only
    (VGG), a stride-2 first layer and stride-2 convolutions instead of pooling (ResNet), batch norm, and global
    average pooling before one small fully connected layer (GoogLeNet)."""
    def conv(cin: int, cout: int, stride: int = 1) -> list:
        return [nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU()]

    return nn.Sequential(*conv(3, 16, 2), *conv(16, 16), *conv(16, 16), *conv(16, 16),     # 16 @ 16×16
                         *conv(16, 32, 2), *conv(32, 32), *conv(32, 32),                    # 32 @ 8×8
                         *conv(32, 64, 2), *conv(64, 64),                                   # 64 @ 4×4
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, 10))
