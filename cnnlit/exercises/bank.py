"""Every exercise of the book, chapter by chapter: key, tier, statement, kind of answer, reference.

Tiers: ★ check your understanding (a number), ★★ implement (a function or a module, run against the
reference on random inputs), ★★★ experiment or design (a network checked against the design's
constraints; the experiment that follows is the student's). A reference is the package code the
chapter teaches with (its layers, models, ``summary``) or a formula; the two modules no chapter
builds (BN-Inception and the pre-activation block) are defined here, for the checker alone. Number
exercises register their plausible slips, each with its own hint, and a hint about the method for
any other wrong number.
"""
from __future__ import annotations

__all__ = ["BNInception", "PreActBlock"]

import copy
import math

import torch
import torch.nn.functional as F
from torch import nn

from .checkers import _as_number
from .core import Problem, Slip, add_exercise


def _params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def _meta(build, *args, **kwargs) -> nn.Module:
    from ..module_tools import on_meta

    return on_meta(build, *args, **kwargs)


def _model(name: str, **kwargs) -> nn.Module:
    from ..models import get_model

    return _meta(get_model, name, **kwargs)


def _conv_output(size: int, kernel: int, stride: int = 1, padding: int = 0) -> int:
    """The output side of a convolution: floor((size + 2·padding − kernel) / stride) + 1."""
    return (size + 2 * padding - kernel) // stride + 1


def _receptive_field(layers) -> int:
    """(kernel, stride) layers: the field grows by (k − 1) × the spacing of the inputs, a stride
    multiplies the spacing."""
    field, jump = 1, 1
    for kernel, stride in layers:
        field, jump = field + (kernel - 1) * jump, jump * stride
    return field


def _count(module: nn.Module, kind=nn.Conv2d) -> int:
    return sum(isinstance(m, kind) for m in module.modules())


def _at_least_convs(count: int):
    def constraint(module, input_shape):
        found = _count(module)
        return (
            None
            if found >= count
            else f"the design asks for at least {count} convolutional layers "
            f"(nn.Conv2d); yours has {found}"
        )
    return constraint


# =========================================================================== 00 foundations
_IMAGE = 224 * 224 * 3
add_exercise("00.params_fc_224", 1,
             "How many parameters (weights and biases) has one fully connected layer from a "
             "224×224×3 image "
             "to 1,000 units?", "number", lambda: _params(nn.Linear(_IMAGE, 1000, device="meta")),
             method="a fully connected unit has one weight per input value (height × width × "
                    "channels) and one bias; then count the units",
             slips=[Slip(lambda r: r - 1000, "count one bias per unit as well"),
                    Slip(lambda r: r - 999, "a bias belongs to each unit, not one to the whole "
                                            "layer"),
                    Slip(224 * 224 * 1000 + 1000, "the image has three colour channels: each unit "
                                                  "reads every value of all three"),
                    Slip(224 * 224 * 1000, "each unit reads all three colour channels, and each "
                                           "has a bias")])
add_exercise("00.params_conv_224", 1,
             "How many parameters (weights and biases) has a 3×3 convolution from those 3 channels "
             "to 64 maps? Compare with the fully connected layer.", "number",
             lambda: _params(nn.Conv2d(3, 64, 3, device="meta")),
             method="a convolution has one k×k×C_in kernel and one bias per output map, shared by "
                    "every position of the image",
             slips=[Slip(lambda r: r - 64, "count one bias per output map as well"),
                    Slip(lambda r: r * 224 * 224, "those are connections over 224×224 positions: "
                                                  "the same kernels are shared by every position, "
                                                  "so the image size does not enter"),
                    Slip(lambda r: r * 222 * 222, "those are connections over the 222×222 output "
                                                  "positions: a shared kernel is counted once"),
                    Slip(64 * (3 * 3 + 1), "each kernel spans all 3 input channels")])
_ROUNDING = [Slip(lambda r: r + 0.5, "a side is a whole number of positions: round the division "
                                     "down"),
             Slip(lambda r: r + 1, "rounding up counts a window that would stick out of the padded "
                                   "input"),
             Slip(lambda r: r - 1, "pad both sides, and count the first window's position "
                                   "(the + 1)")]
add_exercise("00.output_size", 1,
             "Output side of a 5×5 convolution with stride 2 and padding 1 on a 32×32 input?",
             "number",
             lambda: _conv_output(32, 5, stride=2, padding=1),
             method="the room the padded input leaves for the window's positions, divided by the "
                    "stride and rounded down, plus one for the first position",
             slips=_ROUNDING + [Slip(32 + 2 - 5 + 1, "the stride divides the room left for the "
                                                     "window"),
                                Slip((32 - 5) / 2 + 1, "pad both sides, then round down")])
add_exercise("00.receptive_field", 1,
             "Receptive field (one side, in input pixels) of conv 3×3, conv 3×3, max-pool 2×2 "
             "stride 2, "
             "conv 3×3?", "number", lambda: _receptive_field([(3, 1), (3, 1), (2, 2), (3, 1)]),
             method="start from one pixel; each layer widens the field by (k − 1) times the "
                    "spacing of its inputs in pixels, and a stride multiplies that spacing for the "
                    "layers after it",
             slips=[Slip(lambda r: r - 2, "after the pooling, neighbouring units are 2 input "
                                          "pixels apart"),
                    Slip(lambda r: r - 3, "the pooling widens the field and doubles the spacing "
                                          "for the layer after it"),
                    Slip(lambda r: r - 1, "the 2×2 pooling window widens the field too: by "
                                          "(2 − 1)·j"),
                    Slip(3 + 3 + 2 + 3, "adding the kernel sizes counts the overlap of the windows "
                                        "twice"),
                    Slip(_receptive_field([(3, 1), (3, 1)]) * 2 + 2,
                         "the pooling doubles the spacing of the later layers, not the field "
                         "already seen")])


def _conv_inputs():
    return [((torch.randn(2, 3, 7, 7), torch.randn(4, 3, 3, 3), torch.randn(4)), {}),
            ((torch.randn(1, 2, 8, 8), torch.randn(5, 2, 3, 3), torch.randn(5)),
             {"stride": 2, "padding": 1}),
            ((torch.randn(2, 3, 6, 6), torch.randn(2, 3, 5, 5), torch.randn(2)), {"padding": 2})]


def _conv_flipped(x, weight, bias=None, stride=1, padding=0):
    return F.conv2d(x, weight.flip(-1, -2), bias, stride, padding)


def _conv_without_bias(x, weight, bias=None, stride=1, padding=0):
    return F.conv2d(x, weight, None, stride, padding)


add_exercise("00.conv2d_unfold", 2,
             "Write conv2d(x, weight, bias, stride=1, padding=0) with F.unfold and one matrix "
             "product (no F.conv2d); it must equal F.conv2d, "
             "gradients included.", "function", lambda: F.conv2d,
             inputs=_conv_inputs,
             slips=[Slip(_conv_without_bias, "add the bias, one per output map"),
                    Slip(_conv_flipped, "a CNN layer computes a cross-correlation: do not flip the "
                                        "kernel")])


def _verify_train_step(answer) -> Problem | None:
    if not callable(answer):
        return Problem("type", f"expected a function train_step(model, optimizer, images, labels), "
                               f"got {type(answer).__name__}")
    from ..train import sgd, training_step  # the reference: the step cnnlit.train.fit takes

    reference = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 6 * 6, 3))
    mine = copy.deepcopy(reference)
    ref_opt, my_opt = sgd(reference.parameters(), lr=0.1), sgd(mine.parameters(), lr=0.1)
    for step in range(3):
        images, labels = torch.randn(8, 1, 8, 8), torch.randint(0, 3, (8,))
        _, loss = training_step(reference, images, labels, nn.CrossEntropyLoss(), ref_opt)
        expected = loss.item()
        got = _as_number(answer(mine, my_opt, images.clone(), labels.clone()))
        if got is None:
            return Problem("type", "train_step should return the batch's loss as a number "
                                   "(loss.item())")
        if not math.isclose(got, expected, rel_tol=1e-4, abs_tol=1e-6):
            return Problem("value", f"the loss returned at step {step + 1} differs: the "
                                    f"cross-entropy of the "
                                    f"model's scores on this batch, before the update")
        same = all(torch.allclose(a, b, atol=1e-6) for a, b in zip(mine.parameters(),
                                                                   reference.parameters()))
        if not same:
            if step == 0:
                return Problem("value", "after one step the weights are not those of one SGD step "
                                        "(backward, then optimizer.step())")
            return Problem("value", "the first step is right but a later one is not: gradients add "
                                    "up from "
                                    "step to step unless they are zeroed (optimizer.zero_grad())")
    return None


add_exercise("00.train_step", 2,
             "Write train_step(model, optimizer, images, labels): one step of mini-batch SGD with "
             "cross-entropy (forward, loss, backward, update) that returns the batch's loss as a "
             "float.", "property",
             None, verify=_verify_train_step)
add_exercise("00.small_cnn", 3,
             "Design a CNN for 1×28×28 images (10 scores) with at least two convolutions and under "
             "10,000 parameters; train it with your train_step and compare with a fully connected "
             "network of the same size.", "design", None,
             input_shape=(2, 1, 28, 28), output_shape=(10,), max_params=10_000,
             constraints=[_at_least_convs(2)])

# =========================================================================== 01 LeNet-5
def _c3():
    from ..layers import PartialConv2d
    from ..models.lenet import C3_TABLE

    return PartialConv2d(C3_TABLE)


def _c3_mask() -> torch.Tensor:
    from ..models.lenet import C3_TABLE

    return torch.tensor(C3_TABLE, dtype=torch.bool)


def _c3_connections() -> int:
    from ..analysis import summary

    return int(summary(_c3(), (1, 6, 14, 14)).connections.iloc[0])


_FULL_C3 = 6 * 16 * 25
add_exercise("01.c3_params", 1, "How many trainable parameters has C3 (Table I's 60 links of 5×5 "
                                "kernels, with "
             "biases)?", "number", lambda: _params(_c3()),
             method="each link of Table I is one 5×5 kernel, shared by every position; add one "
                    "bias per C3 map",
             slips=[Slip(lambda r: r - 16, "count one bias per C3 map"),
                    Slip(_FULL_C3 + 16, "C3 is not fully connected: only Table I's links have "
                                        "kernels"),
                    Slip(_FULL_C3, "only Table I's links have kernels, and each C3 map has a bias"),
                    Slip(lambda r: r - 16 + 60, "one bias per C3 map, not one per link"),
                    Slip(lambda r: r * 100, "that counts connections: a shared weight is one "
                                            "parameter however many positions use it")])
add_exercise("01.c3_connections", 1, "How many connections has C3 (weights and biases used, over "
                                     "all 10×10 "
             "positions of its 16 maps)?", "number", _c3_connections,
             method="every unit of C3's 16 maps uses its kernels' weights and its bias once: the "
                    "parameters one unit uses, times the units",
             slips=[Slip(lambda r: r - 1600, "each of the 1,600 output units also has its bias"),
                    Slip(lambda r: r // 100, "those are the parameters: connections count every "
                                             "one of the 10×10 positions"),
                    Slip(lambda r: r // 100 * 196, "C3's maps are 10×10: 5×5 kernels on 14×14 "
                                                   "maps, without padding"),
                    Slip((_FULL_C3 + 16) * 100, "only Table I's links connect S2 maps to C3 maps")])
add_exercise("01.c3_mask", 2,
             "Build Table I as a (6, 16) boolean tensor, mask[i, j] True when S2 map i feeds C3 "
             "map j, from the rule in the text (contiguous triples, contiguous quadruples, "
             "non-contiguous quadruples, all six).",
             "tensor", _c3_mask)


def _subsampling_inputs():
    return [((torch.randn(2, 6, 8, 8), torch.randn(6), torch.randn(6)), {}),
            ((torch.randn(1, 16, 10, 10), torch.randn(16), torch.randn(16)), {})]


def _subsampling(x, coefficient, bias):
    """The package's S2/S4 layer with the given coefficient and bias."""
    from ..layers import Subsampling

    layer = Subsampling(x.shape[1])
    return torch.func.functional_call(layer, {"coefficient": coefficient, "bias": bias}, (x,))


def _subsampling_by(pool):
    return lambda x, coefficient, bias: (pool(x, 2) * coefficient[:, None, None]
                                         + bias[:, None, None])


add_exercise("01.subsampling", 2,
             "Write subsample(x, coefficient, bias): LeNet's S2/S4, the sum of each "
             "non-overlapping 2×2 block times a per-map "
             "coefficient plus a per-map bias.", "function", lambda: _subsampling,
             inputs=_subsampling_inputs,
             slips=[Slip(_subsampling_by(F.avg_pool2d), "S2 adds the four inputs of a block: a "
                                                        "sum, not an average"),
                    Slip(_subsampling_by(F.max_pool2d), "S2 adds the four inputs of a block, it "
                                                        "does not take their maximum")])


def _rbf_inputs():
    return [((torch.randn(4, 84), torch.randn(10, 84).sign()), {}),
            ((torch.randn(3, 12), torch.randn(5, 12)), {})]


def _rbf(x, codes):
    from ..layers import EuclideanRBF

    return EuclideanRBF(codes)(x)


add_exercise("01.rbf", 2,
             "Write rbf(x, codes): the Euclidean RBF output y_i = Σ_j (x_j − w_ij)² for a batch x "
             "(N, F) and codes (classes, F), "
             "returning (N, classes).", "function", lambda: _rbf, inputs=_rbf_inputs,
             slips=[Slip(lambda x, codes: torch.cdist(x, codes), "eq. 7 is the squared distance: "
                                                                 "no square root")])


def _verify_c3_design(answer) -> Problem | None:
    table = torch.as_tensor(answer) if not torch.is_tensor(answer) else answer
    if tuple(table.shape) != (6, 16):
        return Problem("shape", f"a C3 table is (6 S2 maps, 16 C3 maps); yours is "
                                f"{tuple(table.shape)}")
    table = table != 0
    reads = table.sum(dim=0)
    if int(reads.min()) < 3:
        return Problem("design", "every C3 map should read at least 3 S2 maps")
    if int(table.sum()) > 60:
        return Problem("design", f"{int(table.sum())} links: the budget is Table I's 60")
    if len({tuple(column.tolist()) for column in table.t()}) < 16:
        return Problem("design", "two C3 maps read the same S2 maps: they would see the same "
                                 "inputs (break the symmetry)")
    if not table.any(dim=1).all():
        return Problem("design", "an S2 map feeds no C3 map: its features would be wasted")
    from ..models import get_model
    model = get_model("lenet5", table=table.tolist())
    model.eval()
    with torch.no_grad():
        model(torch.zeros(1, 1, 32, 32))
    return None


add_exercise("01.c3_design", 3,
             "Design your own C3 connection table (6×16, at most 60 links, every C3 map reading at "
             "least 3 S2 maps, no two reading the same set) and train LeNet-5 with it against "
             "Table I and a full C3.",
             "property", None, verify=_verify_c3_design)

# =========================================================================== 02 AlexNet
def _alexnet(groups: bool = True) -> nn.Module:
    from ..models.alexnet import PAPER_CONVOLUTIONS, AlexNet

    rows = PAPER_CONVOLUTIONS
    if not groups:
        rows = [row[:5] + (1,) + row[6:] for row in rows]              # groups=1 everywhere
    return _meta(AlexNet, convolutions=rows)


def _biases(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters() if p.ndim == 1)


add_exercise("02.params_one_tower", 1,
             "How many parameters would the paper's AlexNet have if conv2, conv4 and conv5 were "
             "not split into towers (groups=1)?", "number", lambda: _params(_alexnet(groups=False)),
             method="build the paper's AlexNet with groups=1 in conv2, conv4 and conv5 and count "
                    "every weight and bias, or add k·k·C_in·C_out + C_out over its layers "
                    "(C_in·C_out for a linear one)",
             slips=[Slip(lambda r: _params(_alexnet()), "that is the two-tower network of the "
                                                        "paper"),
                    Slip(lambda r: r - _params(_alexnet()), "that is what the towers save; the "
                                                            "question asks for the whole network"),
                    Slip(lambda r: r - _biases(_alexnet(groups=False)), "count the biases as "
                                                                        "well")])
add_exercise("02.dropout_expectation", 1,
             "Classic dropout that drops each unit with probability p = 0.3 (the 2012 paper's "
             "kind): by what factor are a unit's "
             "outputs multiplied at test time, so that they equal "
             "their expected value in training?", "number", lambda: 1 - 0.3,
             rel=1e-6,
             method="in training a unit's expected output is its input times the probability that "
                    "the unit is kept; at test time every unit is used, scaled by that same "
                    "probability",
             slips=[Slip(0.3, "p is the probability of dropping a unit, not of keeping it"),
                    Slip(1 / 0.7, "that is inverted dropout's factor, applied in training"),
                    Slip(1 / 0.3, "the factor is a probability of keeping a unit, not its inverse"),
                    Slip(1.0, "classic dropout does scale at test time; it is inverted dropout "
                              "that leaves test outputs alone")])


def _lrn_inputs():
    return [((torch.randn(2, 7, 3, 3) * 3,), {"n": 5, "alpha": 0.1, "beta": 0.75, "k": 2.0}),
            ((torch.randn(1, 4, 2, 2) * 2,), {"n": 3, "alpha": 0.5, "beta": 0.5, "k": 1.0})]


def _lrn(a, n, alpha, beta, k):
    from ..layers import LocalResponseNorm

    return LocalResponseNorm(n, alpha, beta, k)(a)


add_exercise("02.lrn", 2,
             "Write lrn(a, n, alpha, beta, k) from section 3.3's formula: each channel divided by "
             "(k + α·Σ a_j²)^β over the n channels around it (those "
             "that exist).", "function", lambda: _lrn,
             inputs=_lrn_inputs,
             slips=[Slip(lambda a, n, alpha, beta, k: F.local_response_norm(a, n, alpha, beta, k),
                         "that is PyTorch's local_response_norm, which divides α by n; section "
                         "3.3's formula does not")])


def _verify_inverted_dropout(answer) -> Problem | None:
    if not callable(answer):
        return Problem("type", f"expected a function dropout(a, p, training), got "
                               f"{type(answer).__name__}")
    a = torch.rand(200, 500) + 0.5
    same = answer(a.clone(), 0.5, training=False)
    if not torch.is_tensor(same) or tuple(same.shape) != tuple(a.shape):
        return Problem("shape", "dropout must return a tensor of the input's shape")
    if not torch.allclose(same, a):
        return Problem("value", "at test time (training=False) inverted dropout returns its input "
                                "unchanged")
    p = 0.3
    out = answer(a.clone(), p, training=True)
    if not torch.is_tensor(out) or tuple(out.shape) != tuple(a.shape):
        return Problem("shape", "dropout must return a tensor of the input's shape")
    dropped = float((out == 0).double().mean())
    if abs(dropped - p) > 0.01:
        return Problem("value", f"with p = {p} about {p:.0%} of the units should be zero while "
                                f"training; yours zeroed {dropped:.1%}")
    kept = out != 0
    if not torch.allclose(out[kept], a[kept] / (1 - p), rtol=1e-5):
        return Problem("value", "the kept units have the wrong scale: the expected output in "
                                "training should equal the input")
    if torch.equal(kept, answer(a.clone(), p, training=True) != 0):
        return Problem("value", "two calls dropped the same units: draw a new random mask every "
                                "time")
    return None


add_exercise("02.inverted_dropout", 2,
             "Write dropout(a, p, training): inverted dropout, which zeroes each unit with "
             "probability p in training and keeps the expected output equal to a (and leaves a "
             "unchanged at test time).",
             "property", None, verify=_verify_inverted_dropout)


def _towers_inputs():
    return [((torch.randn(2, 8, 9, 9), torch.randn(12, 4, 5, 5), torch.randn(12)), {"padding": 2}),
            ((torch.randn(1, 4, 6, 6), torch.randn(6, 2, 3, 3), torch.randn(6)), {"padding": 1})]


def _towers(x, weight, bias, padding=0):
    return F.conv2d(x, weight, bias, padding=padding, groups=2)


def _towers_crossed(x, weight, bias, padding=0):
    half = x.shape[1] // 2
    return _towers(torch.cat([x[:, half:], x[:, :half]], dim=1), weight, bias, padding)


add_exercise("02.towers", 2,
             "Write towers(x, weight, bias, padding): AlexNet's conv2 on two GPUs, each half of "
             "the filters convolving only its own half of the input maps, the halves concatenated "
             "(without groups=).",
             "function", lambda: _towers, inputs=_towers_inputs,
             slips=[Slip(_towers_crossed, "the first half of the filters reads the first half of "
                                          "the input maps")])


def _grouped(count: int):
    def constraint(module, input_shape):
        found = sum(isinstance(m, nn.Conv2d) and m.groups == 2 for m in module.modules())
        return (
            None
            if found >= count
            else f"use AlexNet's towers: at least {count} convolutions with "
            f"groups=2 (yours has {found})"
        )
    return constraint


add_exercise("02.two_tower_design", 3,
             "Design an AlexNet for 3×32×32 images (10 scores): five convolutions, towers in at "
             "least two of them, under 1M parameters; train it with and without the towers (and "
             "with and without dropout).",
             "design", None, input_shape=(2, 3, 32, 32), output_shape=(10,),
             max_params=1_000_000, constraints=[_at_least_convs(5), _grouped(2)])

# =========================================================================== 03 ZF Net
add_exercise("03.conv1_output", 1,
             "Side of ZF Net's first feature maps for a 224×224 crop: 7×7 filters, stride 2, "
             "padding 1?",
             "number", lambda: _conv_output(224, 7, stride=2, padding=1),
             method="the room the padded input leaves for the window's positions, divided by the "
                    "stride and rounded down, plus one for the first position",
             slips=_ROUNDING + [Slip(224 + 2 - 7 + 1, "the stride divides the room left for the "
                                                      "window"),
                                Slip((224 - 7) / 2 + 1, "pad both sides, then round down"),
                                Slip(224 // 2, "halving the input leaves out the 7×7 window")])
_NYQUIST_DISC = math.pi * (1 / 8) ** 2
add_exercise("03.flat_spectrum_aliasing", 1,
             "For a filter with a flat spectrum over frequencies [−½, ½]², which share of its "
             "energy lies above the Nyquist frequency of a stride-4 grid (a disc of "
             "radius 1/8)?", "number",
             lambda: 1 - _NYQUIST_DISC, rel=1e-3,
             method="with a flat spectrum a share of the energy is a share of the area of the unit "
                    "square of frequencies: the area outside the disc of the cutoff radius",
             slips=[Slip(lambda r: 1 - r, "that is the share below the cutoff"),
                    Slip(1 - math.pi / 16, "a stride of 4 samples every 4 pixels: its Nyquist "
                                           "frequency is 1/(2·4) cycles per pixel"),
                    Slip(1 - (2 / 8) ** 2, "the question takes the cutoff as a disc of radius "
                                           "1/8 (a radial frequency), not a square"),
                    Slip(1 - (1 / 8) ** 2, "a disc of radius r has the area π·r²"),
                    Slip(lambda r: 100 * r, "give a fraction between 0 and 1, not a percentage")])


def _unpool_inputs():
    x = torch.randn(2, 3, 8, 8)
    pooled, switches = F.max_pool2d(x, 2, return_indices=True)
    y = torch.randn(1, 2, 9, 9)
    # the maximum of four overlapping 3×3 windows: one switch shared four times
    y[:, :, 2, 2] = 10.0
    overlapping, shared = F.max_pool2d(y, 3, stride=2, return_indices=True)
    return [((pooled, switches, (8, 8)), {}), ((overlapping, shared, (9, 9)), {})]


def _unpool(pooled, switches, output_size):
    from ..deconvnet import unpool

    return unpool(pooled, switches, output_size)


def _unpool_overwriting(pooled, switches, output_size):
    n, channels = pooled.shape[:2]
    out = pooled.new_zeros(n, channels, output_size[0] * output_size[1])
    out = out.scatter(2, switches.reshape(n, channels, -1), pooled.reshape(n, channels, -1))
    return out.reshape(n, channels, *output_size)


add_exercise("03.unpool", 2,
             "Write unpool(pooled, switches, output_size): put each pooled value back at its "
             "switch (a flat index into the H×W map, from max_pool2d(..., return_indices=True)), "
             "zeros elsewhere; values sharing "
             "a switch add up.", "function", lambda: _unpool, inputs=_unpool_inputs,
             slips=[Slip(_unpool_overwriting, "values that share a switch add up (scatter_add, not "
                                              "scatter)")])


def _occlusion_inputs():
    model = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(2),
                          nn.Flatten(),
                          nn.Linear(16, 5))
    image = torch.rand(3, 12, 12)
    return [((model, image, 2, 4, 3), {"fill": 0.5}), ((model, image, 4, 5, 4), {"fill": 0.0})]


def _occlusion(model, image, label, size, stride, fill=0.5):
    from ..occlusion import occlusion_sensitivity

    occluded = occlusion_sensitivity(model, image, label, size=size, stride=stride, fill=fill)
    return occluded.probability


def _corner_map(model, image, label, size, stride, fill=0.5):
    """The slip of putting the square's corner, not its centre, at each position."""
    rows, cols = range(0, image.shape[1], stride), range(0, image.shape[2], stride)
    result = torch.zeros(len(rows), len(cols))
    for i, row in enumerate(rows):
        for j, col in enumerate(cols):
            covered = image.clone()
            covered[:, row:row + size, col:col + size] = fill
            result[i, j] = torch.softmax(model(covered[None]), dim=1)[0, label]
    return result


add_exercise("03.occlusion", 2,
             "Write occlusion_map(model, image, label, size, stride, fill): for square centres "
             "every stride pixels from (0, 0), set the size×size square with top-left corner "
             "centre − size//2 (clipped) to fill and record the softmax probability of label; "
             "return the (rows, cols) map.", "function",
             lambda: _occlusion, inputs=_occlusion_inputs, grad=False,
             slips=[Slip(_corner_map, "the square is centred on each position: its top-left corner "
                                      "is centre − size//2")])


def _small_first_layer(module, input_shape):
    first = next((m for m in module.modules() if isinstance(m, nn.Conv2d)), None)
    kernel, stride = first.kernel_size[0], first.stride[0]
    if kernel > 7 or stride > 2:
        return (
            f"ZF's lesson: a first layer of at most 7×7 with stride at most 2 (yours: "
            f"{kernel}×{kernel}, stride {stride})"
        )
    return None


add_exercise("03.zf_design", 3,
             "Design a ZF-style network for 1×64×64 images (10 scores): five convolutions, a first "
             "layer of at most 7×7 with stride at most 2, under 600k parameters; compare its "
             "first-layer filters and accuracy with "
             "an 11×11 stride-4 first layer.", "design", None, input_shape=(2, 1, 64, 64),
             output_shape=(10,), max_params=600_000, constraints=[_at_least_convs(5),
                                                                  _small_first_layer])

# =========================================================================== 04 VGG
_C_WIDTHS = (256, 512, 512)        # the three layers C makes 1×1 (Table 1)
add_exercise("04.params_c_vs_d", 1,
             "Configuration C replaces three of D's 3×3 convolutions (256, 512 and 512 wide) by "
             "1×1: how many parameters fewer has C?", "number",
             lambda: _params(_vgg_features("D")) - _params(_vgg_features("C")),
             method="for each of the three layers, compare the weights of a 3×3 and a 1×1 "
                    "convolution of the same width (the biases are the same in both)",
             slips=[Slip(lambda r: r // 8 * 9, "a 1×1 convolution still has a C×C matrix of "
                                               "weights"),
                    Slip(lambda r: r // 8, "each pair of channels loses 3·3 − 1 weights, not one"),
                    Slip(lambda r: r + sum(_C_WIDTHS), "a 1×1 layer keeps its bias")])


def _vgg_features(config: str, **kwargs) -> nn.Module:
    from ..models.vgg import make_features

    return _meta(make_features, config, **kwargs)


add_exercise("04.receptive_field_3x3_stack", 1,
             "Receptive field (one side) of three stacked 3×3 convolutions with stride 1?",
             "number",
             lambda: _receptive_field([(3, 1)] * 3),
             method="start from one pixel; each 3×3 layer with stride 1 widens the field by k − 1 "
                    "pixels",
             slips=[Slip(9, "the windows overlap: each layer widens the field by k − 1 = 2 pixels"),
                    Slip(27, "fields do not multiply: each layer adds k − 1 pixels"),
                    Slip(_receptive_field([(3, 1)] * 2), "count all three layers: two stacked 3×3 "
                                                         "layers see 5×5"),
                    Slip(3 * 2, "start from a single pixel, then each layer adds k − 1")])


# VGG's configuration A (Table 1): 3x3 convolutions at stride 1, and a 2x2 max-pooling at stride 2
# after each of its five blocks of 1, 1, 2, 2 and 2 convolutions
_VGG_A_LAYERS = [layer for convs in (1, 1, 2, 2, 2) for layer in [(3, 1)] * convs + [(2, 2)]]

add_exercise("04.receptive_field_a", 1,
             "Receptive field (one side) of VGG-11's (configuration A's) last max-pooling?",
             "number",
             lambda: _receptive_field(_VGG_A_LAYERS),
             method="follow r ← r + (k − 1)·j and j ← j·s through every layer in order, the "
                    "poolings included",
             slips=[Slip(_receptive_field([(k, 1) for k, _ in _VGG_A_LAYERS]),
                         "a pooling with stride 2 doubles the spacing j of everything after it"),
                    Slip(_receptive_field([layer for layer in _VGG_A_LAYERS if layer != (2, 2)]),
                         "the poolings widen the field and double the spacing j"),
                    Slip(_receptive_field([(1, 2) if layer == (2, 2) else layer
                                           for layer in _VGG_A_LAYERS]),
                         "the poolings widen the field too: (2 − 1)·j each"),
                    Slip(_receptive_field(_VGG_A_LAYERS[:-1]),
                         "the question asks for the field after the last pooling, not before it")])


def _fc_inputs():
    return [((nn.Linear(4 * 3 * 3, 6), torch.randn(2, 4, 3, 3), 4, 3), {}),
            ((nn.Linear(4 * 3 * 3, 6), torch.randn(2, 4, 5, 5), 4, 3), {}),
            ((nn.Linear(2 * 2 * 2, 3), torch.randn(1, 2, 4, 6), 2, 2), {})]


def _run_fc_to_conv(function, linear, x, channels, side):
    return function(linear, channels, side)(x)


def _fc_as_conv(linear: nn.Linear, channels: int, side: int):
    """The formula: a side×side convolution whose kernels are the rows of the linear layer's
    weights, unflattened in flatten()'s order (channel, row, column)."""
    kernels = linear.weight.reshape(linear.out_features, channels, side, side)
    return lambda x: F.conv2d(x, kernels, linear.bias)


def _fc_as_conv_channels_last(linear: nn.Linear, channels: int, side: int):
    kernels = linear.weight.reshape(linear.out_features, side, side, channels).permute(0, 3, 1, 2)
    return lambda x: F.conv2d(x, kernels, linear.bias)


add_exercise("04.fc_as_conv", 2,
             "Write fc_to_conv(linear, channels, side): the nn.Conv2d that computes a fully "
             "connected layer on a flattened channels×side×side map with the same weights (Sec. "
             "3.2), so that it also slides over larger maps.", "function", lambda: _fc_as_conv,
             inputs=_fc_inputs, adapter=_run_fc_to_conv,
             slips=[Slip(_fc_as_conv_channels_last, "flatten() lays a map out channel by channel, "
                                                    "then row by row: unflatten the weights in "
                                                    "that order")])


def _vgg_block_d(in_channels: int, out_channels: int, convs: int) -> nn.Module:
    """Table 1's first block of D (two 3×3 convolutions, a 2×2 max-pooling), out_channels wide."""
    from ..models.vgg import make_features

    if convs != 2:
        raise ValueError("the reference is configuration D's first block: two convolutions")
    return make_features("D", in_channels=in_channels, width=64 // out_channels)[:2 * convs + 1]


add_exercise("04.vgg_block", 2,
             "Write vgg_block(in_channels, out_channels, convs): convs 3×3 convolutions (stride 1, "
             "padding 1) with ReLUs, then 2×2 max-pooling with "
             "stride 2, as an nn.Sequential.", "module", lambda: _vgg_block_d,
             build=((3, 8, 2), {}), input_shape=(2, 3, 16, 16))


def _vgg_rule(module, input_shape):
    for m in module.modules():
        if isinstance(m, nn.Conv2d) and (m.kernel_size not in ((3, 3),
                                                               (1, 1)) or m.stride != (1, 1)):
            return f"VGG's rule: only 3×3 (or 1×1) convolutions with stride 1; yours has " \
                   f"{m.kernel_size[0]}×{m.kernel_size[1]} with stride {m.stride[0]}"
    return None


add_exercise("04.vgg_budget", 3,
             "Design a VGG for 1×28×28 images (10 scores): at least six convolutions, only 3×3 (or "
             "1×1) with stride 1, under 100k parameters; train it with and without "
             "batch norm.", "design",
             None, input_shape=(2, 1, 28, 28), output_shape=(10,), max_params=100_000,
             constraints=[_at_least_convs(6), _vgg_rule])

# =========================================================================== 05 initialisation and
# normalisation
_HE_FAN_IN = 3 * 3 * 256           # a 3×3 convolution on 256 channels: inputs of one output unit

add_exercise("05.he_std", 1,
             "He's initialisation: the standard deviation of the weights of a 3×3 convolution "
             "with 256 input channels?", "number",
             lambda: math.sqrt(2 / _HE_FAN_IN), rel=1e-3,     # within 0.1%, slips too
             method="He's rule sets Var[w] = 2/n, with n the inputs of one output unit (kernel "
                    "height × width × input channels); the standard deviation is the square root "
                    "of the variance",
             slips=[Slip(math.sqrt(2 / 256), "n counts every input of a unit: the 3·3 positions of "
                                             "the kernel times the channels"),
                    Slip(math.sqrt(2 / 9), "n counts the input channels as well as the kernel's "
                                           "positions"),
                    Slip(2 / _HE_FAN_IN, "2/n is the variance; the question asks for the standard "
                                         "deviation"),
                    Slip(math.sqrt(1 / _HE_FAN_IN), "1/n is Glorot's variance for equal widths; a "
                                                    "ReLU zeroes half of its inputs, and He's rule "
                                                    "makes up for that half")])


def _bn_inputs():
    return [((torch.randn(4, 3, 2, 2) * 2 + 1, torch.randn(3), torch.randn(3)), {}),
            ((torch.randn(2, 5, 3, 3), torch.rand(5) + 0.5, torch.randn(5)), {"eps": 1e-3})]


def _batch_norm(x, gamma, beta, eps=1e-5):
    return F.batch_norm(x, None, None, gamma, beta, training=True, eps=eps)


def _batch_norm_by(statistics, *, affine: bool = True, eps_inside: bool = True):
    """A batch norm that makes one slip: its mean and variance from ``statistics``, no scale and
    shift, or eps added after the square root."""
    def slip(x, gamma, beta, eps=1e-5):
        mean, variance = statistics(x)
        spread = torch.sqrt(variance + eps) if eps_inside else torch.sqrt(variance) + eps
        normalised = (x - mean) / spread
        if not affine:
            return normalised
        return gamma[None, :, None, None] * normalised + beta[None, :, None, None]
    return slip


def _over(dims, unbiased=False):
    return lambda x: (x.mean(dim=dims, keepdim=True),
                      x.var(dim=dims, keepdim=True, unbiased=unbiased))


add_exercise("05.batch_norm", 2,
             "Write batch_norm(x, gamma, beta, eps=1e-5): batch normalisation of (N, C, H, W) in "
             "training mode, per channel over the batch and the positions, then scale "
             "and shift.", "function",
             lambda: _batch_norm, inputs=_bn_inputs,
             slips=[Slip(_batch_norm_by(_over((0, 2, 3), unbiased=True)),
                         "training-mode batch norm divides by the biased variance: the mean of the "
                         "squared deviations over the N·H·W values (torch.var's default is the "
                         "unbiased one)"),
                    Slip(_batch_norm_by(_over((0,))), "a channel's statistics are taken over the "
                                                      "batch and every position, not per position"),
                    Slip(_batch_norm_by(_over((1, 2, 3))), "the statistics are per channel (over "
                                                           "the batch and the positions), not per "
                                                           "example"),
                    Slip(_batch_norm_by(_over((0, 2, 3)), affine=False), "scale by gamma and shift "
                                                                         "by beta after "
                                                                         "normalising"),
                    Slip(_batch_norm_by(_over((0, 2, 3)), eps_inside=False), "eps goes inside the "
                                                                             "square root, with "
                                                                             "the variance")])


def _bn_eval_inputs():
    return [((torch.randn(4, 3, 2, 2) * 2 + 1, torch.randn(3), torch.randn(3), torch.randn(3),
              torch.rand(3) + 0.5), {}),
            ((torch.randn(2, 5, 3, 3), torch.rand(5) + 0.5, torch.randn(5), torch.randn(5),
              torch.rand(5) * 3 + 0.1), {"eps": 1e-3})]


def _batch_norm_eval(x, gamma, beta, running_mean, running_var, eps=1e-5):
    return F.batch_norm(x, running_mean, running_var, gamma, beta, training=False, eps=eps)


def _batch_norm_eval_by(*, batch: bool = False, root: bool = True, eps_inside: bool = True,
                        affine: bool = True):
    """An evaluation-mode batch norm that makes one slip: the batch's own statistics, the
    variance used as a spread, eps added after the square root, or no scale and shift."""
    def slip(x, gamma, beta, running_mean, running_var, eps=1e-5):
        shape = (1, -1, 1, 1)
        if batch:
            mean, variance = _over((0, 2, 3))(x)
        else:
            mean, variance = running_mean.view(shape), running_var.view(shape)
        if not root:
            spread = variance + eps
        else:
            spread = torch.sqrt(variance + eps) if eps_inside else torch.sqrt(variance) + eps
        normalised = (x - mean) / spread
        return gamma.view(shape) * normalised + beta.view(shape) if affine else normalised
    return slip


add_exercise("05.batch_norm_eval", 2,
             "Write batch_norm_eval(x, gamma, beta, running_mean, running_var, eps=1e-5): batch "
             "normalisation of (N, C, H, W) in evaluation mode, with the running averages kept "
             "during training.", "function",
             lambda: _batch_norm_eval, inputs=_bn_eval_inputs,
             grad=False,                   # running averages are buffers, not trained: no gradient
             slips=[Slip(_batch_norm_eval_by(batch=True),
                         "in evaluation the statistics are the running averages kept during "
                         "training, not the batch's own: one image's answer must not depend on the "
                         "others"),
                    Slip(_batch_norm_eval_by(root=False), "running_var is a variance: divide by "
                                                          "the square root of running_var + eps"),
                    Slip(_batch_norm_eval_by(eps_inside=False), "eps goes inside the square "
                                                                "root, with the running variance"),
                    Slip(_batch_norm_eval_by(affine=False), "scale by gamma and shift by beta "
                                                            "after normalising")])


def _paper_factor(channels: int) -> float:
    # VGG Sec. 3.1: weights drawn from N(0, 10^-2); He et al. (2015): a ReLU layer multiplies the
    # variance by (1/2) n Var[w], with n = 3 * 3 * channels inputs per unit
    return 0.5 * 9 * channels * 1e-2


add_exercise("05.staged_he", 3,
             "Train the staged E with He's rule for its random layers, from the same seeds; and "
             "write paper_factor(channels), the factor (1/2)·n·Var[w] by which VGG's N(0, 10⁻²) "
             "initialisation multiplies the variance at a 3×3 layer with `channels` inputs.",
             "function", lambda: _paper_factor,
             inputs=lambda: [((channels,), {}) for channels in (8, 64, 256, 512)],
             slips=[Slip(lambda channels: 9 * channels * 1e-2,
                         "a ReLU passes half of the variance on: the factor has a 1/2"),
                    Slip(lambda channels: 0.5 * channels * 1e-2,
                         "n counts every input of a unit: 3·3 positions times the channels"),
                    Slip(lambda channels: 0.5 * 9 * channels * 1e-4,
                         "10⁻² is the variance of the weights (the paper's words), not their "
                         "standard deviation")])


# =========================================================================== 05 GoogLeNet
_3A = (64, 96, 128, 16, 32, 32)        # Table 1's row for inception (3a), on 192 channels


def _inception(in_channels: int, *columns) -> nn.Module:
    from ..layers import Inception

    return _meta(Inception, in_channels, *columns)


def _conv_params(in_channels: int, out_channels: int, kernel: int) -> int:
    return out_channels * (in_channels * kernel * kernel + 1)


add_exercise("06.inception_params", 1,
             "How many parameters (with biases) has inception (3a): 192 channels in, #1×1 64, #3×3 "
             "reduce 96, #3×3 128, #5×5 reduce "
             "16, #5×5 32, pool proj 32?", "number", lambda: _params(_inception(192, *_3A)),
             method="add the six convolutions of Table 1's row: k·k·C_in weights and one bias per "
                    "filter, with C_in the channels each one reads",
             slips=[Slip(lambda r: r - 368, "count one bias per filter as well"),
                    Slip(lambda r: _params(_inception(192, 64, None, 128, None, 32, 32)),
                         "the 3×3 and 5×5 read the reductions' outputs, not the 192 input "
                         "channels"),
                    Slip(lambda r: r - _conv_params(192, 96, 1) - _conv_params(192, 16, 1),
                         "the two reductions are 1×1 convolutions with weights and biases too"),
                    Slip(lambda r: r - _conv_params(192, 32, 1), "the pooling branch has its 1×1 "
                                                                 "pool projection")])
add_exercise("06.naive_3a_channels", 1,
             "How many channels does the naive module (Figure 2a) with 3a's #1×1, #3×3 and #5×5 "
             "output on a 192-channel input?", "number",
             lambda: _inception(192, 64, None, 128, None, 32, None).out_channels,
             method="the module concatenates its branches: add the channels each branch outputs "
                    "(what does a 3×3 max-pooling do to the number of channels?)",
             slips=[Slip(64 + 128 + 32, "the pooling branch passes every input channel through"),
                    Slip(64 + 128 + 32 + 32, "the naive module has no pool projection"),
                    Slip(192, "the branches' outputs are concatenated: add the channels of all "
                              "four")])


def _inception_module(*columns) -> nn.Module:
    from ..layers import Inception

    return Inception(*columns)


class _ConvBNReLU(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, kernel: int):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel, padding=kernel // 2, bias=False)
        self.bn = nn.BatchNorm2d(out_channels)

    def forward(self, x):
        return F.relu(self.bn(self.conv(x)))


class BNInception(nn.Module):
    """Ioffe and Szegedy (2015): batch norm after every convolution (which then needs no bias), and
    the 5×5 convolution replaced by two stacked 3×3. No chapter builds it: it is the reference of
    06.bn_inception."""

    def __init__(self, in_channels, n1x1, n3x3_reduce, n3x3, double_reduce, double_3x3, pool_proj):
        super().__init__()
        self.branch1 = _ConvBNReLU(in_channels, n1x1, 1)
        self.branch2 = nn.Sequential(_ConvBNReLU(in_channels, n3x3_reduce, 1),
                                     _ConvBNReLU(n3x3_reduce, n3x3, 3))
        self.branch3 = nn.Sequential(_ConvBNReLU(in_channels, double_reduce, 1),
                                     _ConvBNReLU(double_reduce, double_3x3, 3),
                                     _ConvBNReLU(double_3x3, double_3x3, 3))
        self.branch4 = nn.Sequential(nn.MaxPool2d(3, stride=1, padding=1),
                                     _ConvBNReLU(in_channels, pool_proj, 1))

    def forward(self, x):
        branches = (self.branch1, self.branch2, self.branch3, self.branch4)
        return torch.cat([branch(x) for branch in branches], dim=1)


_INCEPTION_BUILD = ((16, 8, 6, 10, 3, 5, 4), {})
add_exercise("06.inception_module", 2,
             "Write Inception(in_channels, n1x1, n3x3_reduce, n3x3, n5x5_reduce, n5x5, pool_proj): "
             "Figure 2(b), every convolution followed by a ReLU, the branches concatenated in "
             "Table 1's order.", "module",
             lambda: _inception_module, build=_INCEPTION_BUILD, input_shape=(2, 16, 8, 8))
add_exercise("06.bn_inception", 2,
             "Write BNInception(in_channels, n1x1, n3x3_reduce, n3x3, double_reduce, double_3x3, "
             "pool_proj): batch norm after every convolution (no biases), the 5×5 replaced by two "
             "3×3 (Ioffe & Szegedy, 2015).",
             "module", lambda: BNInception, build=_INCEPTION_BUILD, input_shape=(4, 16, 6, 6),
             train_mode=True,
             parameter_hint="(a convolution followed by batch norm needs no bias)")


def _macs_inputs():
    return [((192, (64, 96, 128, 16, 32, 32), 28), {}), ((480, (192, 96, 208, 16, 48, 64), 14), {}),
            ((192, (64, None, 128, None, 32, None), 28), {})]


def _inception_macs(in_channels: int, columns, side: int) -> int:
    """The multiply-adds summary() counts for the package's Inception module on side×side maps."""
    from ..analysis import summary

    module = _inception(in_channels, *columns)
    return int(summary(module, (1, in_channels, side, side), device="meta").macs.sum())


def _macs_without_reduction_layers(in_channels: int, columns, side: int) -> int:
    n1, r3, n3, r5, n5, proj = columns
    convolutions = in_channels * n1 + (r3 or in_channels) * 9 * n3 + (r5 or in_channels) * 25 * n5
    return side * side * (convolutions + in_channels * (proj or 0))


add_exercise("06.inception_macs", 2,
             "Write inception_macs(in_channels, columns, side): the multiply-adds of an Inception "
             "module's convolutions on side×side maps; columns as in Table 1, None where the naive "
             "module has no layer.",
             "function", lambda: _inception_macs, inputs=_macs_inputs, grad=False,
             slips=[Slip(_macs_without_reduction_layers, "the 1×1 reductions cost multiply-adds "
                                                         "too")])


def _macs_budget(limit: int):
    def constraint(module, input_shape):
        from ..analysis import summary, totals
        macs = totals(summary(module, (1,) + tuple(input_shape[1:])))["macs"]
        return (
            None
            if macs <= limit
            else f"{macs / 1e6:.0f}M multiply-adds per image: over the budget of {limit / 1e6:.0f}M"
        )
    return constraint


def _kernel_sizes(count: int):
    def constraint(module, input_shape):
        sizes = {m.kernel_size for m in module.modules() if isinstance(m, nn.Conv2d)}
        return None if len(sizes) >= count else (f"an Inception module mixes filter sizes: use at "
                                                 f"least {count}")
    return constraint


add_exercise("06.inception_budget", 3,
             "Design a module from 256 to 480 channels on 28×28 maps (as 3b) within 200M "
             "multiply-adds per image (3b: 304M), mixing at least two filter sizes; put it in the "
             "small GoogLeNet and compare.", "design",
             None, input_shape=(1, 256, 28, 28), output_shape=(480, 28, 28),
             constraints=[_macs_budget(200_000_000), _kernel_sizes(2)])

# =========================================================================== 06 ResNet
_BOTTLENECK_WIDTHS = 256 + 256 + 1024         # conv4_x: 1×1 256, 3×3 256, 1×1 1024


def _bottleneck_weights() -> int:
    from ..layers import Bottleneck

    block = _meta(Bottleneck, 1024, 256)
    return sum(m.weight.numel() for m in block.modules() if isinstance(m, nn.Conv2d))


add_exercise("07.bottleneck_params", 1,
             "How many weights has a conv4_x bottleneck block on a 1024-wide input (1×1 256, 3×3 "
             "256, 1×1 1024; no biases, ignore batch norm)?", "number", _bottleneck_weights,
             method="add the three convolutions' k·k·C_in·C_out, with C_in the channels each one "
                    "reads",
             slips=[Slip(lambda r: r + 2 * _BOTTLENECK_WIDTHS, "ignore batch norm's scales and "
                                                               "shifts"),
                    Slip(lambda r: r + _BOTTLENECK_WIDTHS, "no biases: batch norm follows every "
                                                           "convolution"),
                    Slip(lambda r: r - 8 * 256 * 256, "the 3×3 convolution has 3·3 weights per "
                                                      "pair of channels"),
                    Slip(lambda r: r + 1024 * 1024, "the input is already 1024 wide: the shortcut "
                                                    "is the identity, without weights")])


def _resnet20_parameters(shortcut: str) -> int:
    return _params(_model("resnet_cifar", depth=20, shortcut=shortcut))


_PROJECTIONS = ((16, 32), (32, 64))          # where ResNet-20's width doubles
add_exercise("07.option_b_extra_params", 1,
             "How many parameters does option B add to the CIFAR-10 ResNet-20 compared with option "
             "A (where the width doubles, a 1×1 projection without bias, followed by batch norm)?",
             "number",
             lambda: _resnet20_parameters("B") - _resnet20_parameters("A"),
             method="build both networks and subtract their parameter counts, or count what option "
                    "B adds where the shape changes: a 1×1 projection and its batch norm",
             slips=[Slip(16 * 32 + 32 * 64, "each projection is followed by batch norm (a scale "
                                            "and a shift per channel)"),
                    Slip(lambda r: r + 32 + 64, "the projections have no bias: batch norm follows "
                                                "them"),
                    Slip(lambda r: r + 2 * (32 + 64), "batch norm's running mean and variance are "
                                                      "buffers, not trainable parameters"),
                    Slip(16 * 32 + 2 * 32, "the width doubles twice: count the 32→64 projection "
                                           "too"),
                    Slip(32 * 64 + 2 * 64, "the width doubles twice: count the 16→32 projection "
                                           "too")])


def _block(kind: str):
    def build(*args):
        from .. import layers

        return getattr(layers, kind)(*args)
    return build


add_exercise("07.basic_block", 2,
             "Write BasicBlock(in_channels, out_channels, stride): two 3×3 convolutions with batch "
             "norm (no biases), ReLU, and option B: a 1×1 projection with batch norm on the "
             "shortcut only where the shape changes.", "module", lambda: _block("BasicBlock"),
             build=((8, 16, 2), {}), input_shape=(4, 8, 8, 8), train_mode=True,
             parameter_hint="(no biases before batch norm; a projection only where the shape "
                            "changes)")
add_exercise("07.bottleneck", 2,
             "Write Bottleneck(in_channels, channels, stride): 1×1 (carrying the stride, as the "
             "paper), 3×3, 1×1 to 4·channels, batch norm after each (no biases), option "
             "B shortcut.", "module",
             lambda: _block("Bottleneck"), build=((8, 4, 2), {}), input_shape=(4, 8, 8, 8),
             train_mode=True,
             parameter_hint="(no biases before batch norm; a projection only where the shape "
                            "changes)")


def _shortcut_inputs():
    return [((torch.randn(2, 4, 8, 8), 8, 2), {}), ((torch.randn(2, 4, 7, 7), 6, 2), {}),
            ((torch.randn(1, 3, 5, 5), 3, 1), {})]


def _shortcut_a(x, out_channels, stride):
    from ..layers.residual import ZeroPadShortcut

    return ZeroPadShortcut(x.shape[1], out_channels, stride)(x)


def _zeros_at(where: str, offset: int = 0):
    """Option A with a slip: the zero channels before the old ones or split on both sides, or the
    kept pixels starting at ``offset``."""
    def slip(x, out_channels, stride):
        x = x[:, :, offset::stride, offset::stride]
        extra = out_channels - x.shape[1]
        before = {"before": extra, "both": extra // 2, "after": 0}[where]
        return F.pad(x, (0, 0, 0, 0, before, extra - before))
    return slip


add_exercise("07.option_a_shortcut", 2,
             "Write shortcut_a(x, out_channels, stride): option A, every stride-th pixel of x with "
             "zero channels appended after the old ones up to "
             "out_channels.", "function", lambda: _shortcut_a,
             inputs=_shortcut_inputs,
             slips=[Slip(_zeros_at("before"), "the zero channels go after the old ones (appended), "
                                              "so that channel i of the input stays channel i"),
                    Slip(_zeros_at("both"), "all the zero channels go after the old ones, none "
                                            "before them (some CIFAR code splits them between both "
                                            "sides)"),
                    Slip(_zeros_at("after", offset=1), "keep the pixels at 0, stride, 2·stride…: "
                                                       "start at the first one")])


class PreActBlock(nn.Module):
    """He et al. (2016), "Identity mappings in deep residual networks": batch norm and ReLU before
    each convolution, nothing after the addition. No chapter builds it: it is the reference of
    07.preact_block."""

    def __init__(self, channels: int):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(channels)
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)

    def forward(self, x):
        out = self.conv1(F.relu(self.bn1(x)))
        return x + self.conv2(F.relu(self.bn2(out)))


add_exercise("07.preact_block", 2,
             "Write PreActBlock(channels): BN, ReLU, 3×3 conv, BN, ReLU, 3×3 conv (no biases), "
             "plus the input — nothing after the addition (He et al., 2016, 'Identity "
             "mappings').", "module",
             lambda: PreActBlock, build=((8,), {}), input_shape=(4, 8, 6, 6), train_mode=True)


def _depth_at_least(count: int):
    def constraint(module, input_shape):
        from ..analysis import depth
        found = depth(module, (1,) + tuple(input_shape[1:]))
        return (
            None
            if found >= count
            else f"{found} weight layers on the longest path; the design asks for at least {count}"
        )
    return constraint


add_exercise("07.deep_budget", 3,
             "Design a CIFAR-10 network (3×32×32, 10 scores) of at least 20 weight layers on its "
             "longest path under 300k parameters; train it with and without shortcuts and compare "
             "the training errors.", "design",
             None, input_shape=(2, 3, 32, 32), output_shape=(10,), max_params=300_000,
             constraints=[_depth_at_least(20)])

# =========================================================================== 08 transfer learning
_PETS = 37                                   # Oxford-IIIT Pet: 37 breeds of cats and dogs


def _resnet18_features() -> int:
    return _model("resnet18", variant="torchvision").fc.in_features


add_exercise("08.trainable_params_probe", 1,
             "A linear probe on torchvision's ImageNet ResNet-18 for the 37 breeds of the "
             "Oxford-IIIT Pet dataset: how many parameters does it train?", "number",
             lambda: _params(nn.Linear(_resnet18_features(), _PETS, device="meta")),
             method="the probe trains the new head alone: one weight per feature for each class, "
                    "and one bias per class; the frozen body trains nothing",
             slips=[Slip(lambda r: r - _PETS, "count the new head's biases as well, one per class"),
                    Slip(lambda r: _resnet18_features() * 1000 + 1000,
                         "that is ImageNet's head: the probe replaces it with one for the new "
                         "classes"),
                    Slip(lambda r: _params(_model("resnet18", variant="torchvision")),
                         "that is every parameter of ResNet-18: fine-tuning trains them all, the "
                         "probe only its new head"),
                    Slip(lambda r: _params(_model("resnet18", variant="torchvision"))
                         - _resnet18_features() * 1000 - 1000 + r,
                         "that counts the frozen body too: requires_grad is off for everything "
                         "but the head")])


def _trainable(model: nn.Module) -> set:
    return {name for name, parameter in model.named_parameters() if parameter.requires_grad}


def _verify_freeze(answer) -> Problem | None:
    from ..models.resnet import resnet_cifar

    if not callable(answer):
        return Problem("type", f"expected a function freeze_all_but(model, names), got "
                               f"{type(answer).__name__}")
    for names in (["fc"], ["layer3", "fc"]):
        model = resnet_cifar(8, in_channels=1, num_classes=5)
        returned = answer(model, names)
        if returned is not None and returned is not model:
            return Problem("type", "freeze_all_but changes the model it is given (and may return "
                                   "it); it returned something else")
        everything = {name for name, _ in model.named_parameters()}
        kept = {n for n in everything if any(n.startswith(f"{part}.") for part in names)}
        got = _trainable(model)
        if got == kept:
            continue
        if got == everything:
            return Problem("value", f"for names={names} every parameter is still trainable: set "
                                    "requires_grad to False outside the named parts")
        if not got:
            return Problem("value", f"for names={names} nothing is left to train: the named parts "
                                    "keep requires_grad=True")
        if got - kept and all(n.endswith("bias") or ".bn" in n or n.startswith("bn")
                              for n in got - kept):
            return Problem("value", f"for names={names} some parameters outside the named parts "
                                    "still train: batch norm's scales and shifts and the biases "
                                    "are parameters too")
        return Problem("value", f"for names={names} the trainable parameters are not those whose "
                                "name starts with one of the names (a module's path)")
    return None


add_exercise("08.freeze", 2,
             "Write freeze_all_but(model, names): requires_grad False for every parameter except "
             "those of the modules named (e.g. ['fc'], or ['layer3', 'fc']); return the model.",
             "property", None, verify=_verify_freeze)


def _labels_inputs():
    def shuffled(per_class: int, classes: int):
        return torch.arange(classes).repeat(per_class)[torch.randperm(per_class * classes)]
    return [((shuffled(6, 5), 3), {}), ((shuffled(4, 3), 1), {}), ((shuffled(9, 10), 4), {})]


def _first_per_class(labels, k):
    from ..data import first_per_class

    return first_per_class(labels, k)


def _first_overall(labels, k):
    return torch.arange(k * (int(labels.max()) + 1))


def _by_class(labels, k):
    return torch.cat([torch.nonzero(labels == c).flatten()[:k]
                      for c in range(int(labels.max()) + 1)])


def _one_more(labels, k):
    return _first_per_class(labels, k + 1)


add_exercise("08.k_per_class", 2,
             "Write k_per_class(labels, k): the indices of the first k images of every class in "
             "labels (a 1-d tensor of class numbers 0…C−1), as one tensor in ascending order.",
             "function", lambda: _first_per_class, inputs=_labels_inputs, grad=False,
             slips=[Slip(_first_overall, "the first k·C images need not hold k of each class: "
                                         "count the images of each class separately"),
                    Slip(_by_class, "the right images, but grouped by class: return the indices "
                                    "in ascending order"),
                    Slip(_one_more, "keep an image only until its class has reached k: that "
                                    "makes k per class, not k + 1")])

_WAYS = ("linear probe", "fine-tune", "scratch")


def _verify_labels_curve(answer) -> Problem | None:
    if not isinstance(answer, dict) or set(answer) != set(_WAYS):
        return Problem("type", f"expected a dict with the three ways {list(_WAYS)} as keys, each "
                               "mapping labels per class to a test accuracy")
    counts = None
    for way, points in answer.items():
        if not isinstance(points, dict) or len(points) < 3:
            return Problem("design", f"'{way}': give at least three numbers of labels per class, "
                                     "as {k: accuracy}")
        if not all(isinstance(k, int) and k >= 1 for k in points):
            return Problem("design", f"'{way}': the keys are labels per class, whole numbers >= 1")
        if not all(_as_number(a) is not None and 0 <= _as_number(a) <= 1
                   for a in points.values()):
            return Problem("design", f"'{way}': accuracies are fractions between 0 and 1")
        if counts is not None and set(points) != counts:
            return Problem("design", "measure every way at the same numbers of labels per class")
        counts = set(points)
    return None


add_exercise("08.labels_curve", 3,
             "Measure the test accuracy of the linear probe, fine-tuning and training from scratch "
             "at three or more numbers of labels per class (e.g. 2, 5, 20); plot them and say "
             "where pretraining pays.", "property", None, verify=_verify_labels_curve)

# =========================================================================== 07 comparison
def _vgg19_shares() -> tuple[float, float]:
    """The shares of VGG-19's parameters in its fully connected layers and in the first alone."""
    model = _model("vgg19")
    linear = [_params(m) for m in model.modules() if isinstance(m, nn.Linear)]
    return sum(linear) / _params(model), linear[0] / _params(model)


def _macs(name: str, **kwargs) -> int:
    from ..analysis import summary, totals

    return totals(summary(_model(name, **kwargs), (1, 3, 224, 224), device="meta"))["macs"]


add_exercise("09.fc_share", 1,
             "What share of VGG-19's parameters sit in its three fully connected layers (a "
             "fraction between 0 and 1)?", "number", lambda: _vgg19_shares()[0], rel=0.005,
             method="add the weights and biases of VGG-19's three nn.Linear layers and divide by "
                    "all of its parameters",
             slips=[Slip(lambda r: _vgg19_shares()[1], "count all three fully connected layers"),
                    Slip(lambda r: 1 - r, "that is the convolutions' share"),
                    Slip(lambda r: 100 * r, "give a fraction between 0 and 1, not a percentage"),
                    Slip(lambda r: r / (1 - r), "a share divides by all the parameters, not by the "
                                                "convolutions' alone")])
add_exercise("09.macs_ratio", 1,
             "Add ResNet-50 to the table (get_model(\"resnet50\"): the paper's layout, the stride "
             "on the first 1×1): how many times ResNet-50's multiply-adds does VGG-19 need on one "
             "224×224 crop?", "number", lambda: _macs("vgg19") / _macs("resnet50"), rel=0.02,
             method="measure both networks' multiply-adds the same way on a 1×3×224×224 input "
                    "(summary() does) and divide VGG-19's by ResNet-50's",
             slips=[Slip(lambda r: _params(_model("vgg19")) / _params(_model("resnet50")),
                         "that is the ratio of their parameters"),
                    Slip(lambda r: 1 / r, "the other way round: VGG-19's over ResNet-50's"),
                    Slip(lambda r: _macs("vgg19") / _macs("resnet50", variant="torchvision"),
                         "that is torchvision's ResNet-50, with the stride on the 3×3: the "
                         "question asks for the paper's")])


def _count_macs_inputs():
    from ..layers import BasicBlock, Inception

    grouped = nn.Sequential(nn.Conv2d(3, 8, 5), nn.ReLU(), nn.MaxPool2d(2),
                            nn.Conv2d(8, 16, 3, padding=1, groups=2), nn.ReLU(),
                            nn.Flatten(), nn.Linear(16 * 14 * 14, 10))
    return [((grouped, (1, 3, 32, 32)), {}), ((Inception(16, 8, 6, 10, 3, 5, 4), (1, 16, 8, 8)),
                                              {}),
            ((BasicBlock(8, 16, stride=2), (1, 8, 8, 8)), {})]


def _count_macs(model: nn.Module, input_shape) -> int:
    """summary()'s multiply-adds, less the averaging it also counts (the exercise counts the
    convolutions and the fully connected layers)."""
    from ..analysis import summary, totals

    frame = summary(model, input_shape)
    return totals(frame)["macs"] - int(frame[frame.type.str.contains("AvgPool")].macs.sum())


def _macs_ignoring_groups(model: nn.Module, input_shape) -> int:
    """The slip of letting every filter of a grouped convolution read all C_in channels."""
    from ..module_tools import evaluating

    extra = 0

    def hook(module, inputs, output):
        nonlocal extra
        unread = module.in_channels - module.in_channels // module.groups
        extra += output[0].numel() * unread * math.prod(module.kernel_size)

    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, nn.Conv2d)]
    try:
        with evaluating(model), torch.no_grad():
            model(torch.zeros(*input_shape))
    finally:
        for handle in handles:
            handle.remove()
    return _count_macs(model, input_shape) + extra


add_exercise("09.count_macs", 2,
             "Write count_macs(model, input_shape): the multiply-adds of one forward pass on an "
             "input of input_shape (batch of one) through the model's nn.Conv2d and nn.Linear "
             "layers, counted with forward hooks "
             "(register_forward_hook); groups count.", "function", lambda: _count_macs,
             inputs=_count_macs_inputs, grad=False,
             slips=[Slip(_macs_ignoring_groups, "a filter of a grouped convolution reads C_in / "
                                                "groups channels")])
add_exercise("09.efficient_design", 3,
             "Design a network for 3×32×32 images (10 scores) with at least 10 weight layers on "
             "its longest path, within 5M multiply-adds and 100k parameters; train it and a "
             "network of ten times its multiply-adds, and plot their test errors against "
             "multiply-adds as in this chapter.", "design",
             None, input_shape=(2, 3, 32, 32), output_shape=(10,), max_params=100_000,
             constraints=[_macs_budget(5_000_000), _depth_at_least(10)])
