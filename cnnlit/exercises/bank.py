"""Every exercise of the book, chapter by chapter: key, tier, statement, kind of answer, reference.

Tiers: ★ check your understanding (a number), ★★ implement (a function or a module, run against the
reference on random inputs), ★★★ experiment or design (a network checked against the design's constraints;
the experiment that follows is the student's). References are built lazily from :mod:`.solutions`.
"""
from __future__ import annotations

import copy
import math

import torch
import torch.nn.functional as F
from torch import nn

from . import solutions as S
from .checkers import _as_number
from .core import Problem, add_exercise


def _is(value):
    """A mistake that gives exactly ``value`` (a callable of the reference, or a number)."""
    return lambda answer, reference: math.isclose(answer, value(reference) if callable(value) else value,
                                                  rel_tol=1e-9)


def _count(module: nn.Module, kind=nn.Conv2d) -> int:
    return sum(isinstance(m, kind) for m in module.modules())


def _at_least_convs(count: int):
    def constraint(module, input_shape):
        found = _count(module)
        return None if found >= count else f"the design asks for at least {count} convolutional layers " \
                                           f"(nn.Conv2d); yours has {found}"
    return constraint


# =========================================================================== 00 foundations
add_exercise("00.params_fc_224", 1,
             "How many parameters (weights and biases) has one fully connected layer from a 224×224×3 image to "
             "1,000 units?", "number", S.params_fc_224,
             mistakes=[(_is(lambda r: r - 1000), "count one bias per unit as well")])
add_exercise("00.params_conv_224", 1,
             "How many parameters (weights and biases) has a 3×3 convolution from those 3 channels to 64 maps? "
             "Compare with the fully connected layer.", "number", S.params_conv_224,
             mistakes=[(_is(lambda r: r - 64), "count one bias per output map as well"),
                       (_is(lambda r: r * 224 * 224), "the same kernels are shared by every position: the image "
                                                      "size does not enter")])
add_exercise("00.output_size", 1,
             "Output side of a 5×5 convolution with stride 2 and padding 1 on a 32×32 input?", "number",
             S.output_size_5x5_stride2,
             mistakes=[(_is(lambda r: r + 0.5), "the last window must fit inside the padded input: round down"),
                       (_is(lambda r: r + 1), "the last window must fit inside the padded input: round down")])
add_exercise("00.receptive_field", 1,
             "Receptive field (one side, in input pixels) of conv 3×3, conv 3×3, max-pool 2×2 stride 2, "
             "conv 3×3?", "number", S.receptive_field_with_pool,
             mistakes=[(_is(lambda r: r - 2), "after the pooling, neighbouring units are 2 input pixels apart")])


def _conv_inputs():
    return [((torch.randn(2, 3, 7, 7), torch.randn(4, 3, 3, 3), torch.randn(4)), {}),
            ((torch.randn(1, 2, 8, 8), torch.randn(5, 2, 3, 3), torch.randn(5)), {"stride": 2, "padding": 1}),
            ((torch.randn(2, 3, 6, 6), torch.randn(2, 3, 5, 5), torch.randn(2)), {"padding": 2})]


add_exercise("00.conv2d_unfold", 2,
             "Write conv2d(x, weight, bias, stride=1, padding=0) with F.unfold and one matrix product (no "
             "F.conv2d); it must equal F.conv2d, gradients included.", "function", lambda: S.conv2d,
             inputs=_conv_inputs)


def _verify_train_step(answer) -> Problem | None:
    if not callable(answer):
        return Problem("type", f"expected a function train_step(model, optimizer, images, labels), "
                               f"got {type(answer).__name__}")
    from ..train import sgd, training_step      # the reference: the step cnnlit.train.fit takes

    reference = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 6 * 6, 3))
    mine = copy.deepcopy(reference)
    ref_opt, my_opt = sgd(reference.parameters(), lr=0.1), sgd(mine.parameters(), lr=0.1)
    for step in range(3):
        images, labels = torch.randn(8, 1, 8, 8), torch.randint(0, 3, (8,))
        _, loss = training_step(reference, images, labels, nn.CrossEntropyLoss(), ref_opt)
        expected = loss.item()
        got = _as_number(answer(mine, my_opt, images.clone(), labels.clone()))
        if got is None:
            return Problem("type", "train_step should return the batch's loss as a number (loss.item())")
        if not math.isclose(got, expected, rel_tol=1e-4, abs_tol=1e-6):
            return Problem("value", f"the loss returned at step {step + 1} differs: the cross-entropy of the "
                                    f"model's scores on this batch, before the update")
        same = all(torch.allclose(a, b, atol=1e-6) for a, b in zip(mine.parameters(), reference.parameters()))
        if not same:
            if step == 0:
                return Problem("value", "after one step the weights are not those of one SGD step "
                                        "(backward, then optimizer.step())")
            return Problem("value", "the first step is right but a later one is not: gradients add up from "
                                    "step to step unless they are zeroed (optimizer.zero_grad())")
    return None


add_exercise("00.train_step", 2,
             "Write train_step(model, optimizer, images, labels): one step of mini-batch SGD with cross-entropy "
             "(forward, loss, backward, update) that returns the batch's loss as a float.", "property",
             lambda: S.train_step, verify=_verify_train_step)
add_exercise("00.small_cnn", 3,
             "Design a CNN for 1×28×28 images (10 scores) with at least two convolutions and under 10,000 "
             "parameters; train it with your train_step and compare with a fully connected network of the same "
             "size.", "design", lambda: S.small_cnn,
             input_shape=(2, 1, 28, 28), output_shape=(10,), max_params=10_000, constraints=[_at_least_convs(2)])

# =========================================================================== 01 LeNet-5
add_exercise("01.c3_params", 1, "How many trainable parameters has C3 (Table I's 60 links of 5×5 kernels, with "
             "biases)?", "number", S.c3_params,
             mistakes=[(_is(lambda r: r - 16), "count one bias per C3 map"),
                       (_is(6 * 16 * 25 + 16), "C3 is not fully connected: only Table I's links have kernels")])
add_exercise("01.c3_connections", 1, "How many connections has C3 (weights and biases used, over all 10×10 "
             "positions of its 16 maps)?", "number", S.c3_connections,
             mistakes=[(_is(lambda r: r - 1600), "each of the 1,600 output units also has its bias")])
add_exercise("01.c3_mask", 2,
             "Build Table I as a (6, 16) boolean tensor, mask[i, j] True when S2 map i feeds C3 map j, from the "
             "rule in the text (contiguous triples, contiguous quadruples, non-contiguous quadruples, all six).",
             "tensor", S.c3_mask)


def _subsampling_inputs():
    return [((torch.randn(2, 6, 8, 8), torch.randn(6), torch.randn(6)), {}),
            ((torch.randn(1, 16, 10, 10), torch.randn(16), torch.randn(16)), {})]


add_exercise("01.subsampling", 2,
             "Write subsample(x, coefficient, bias): LeNet's S2/S4, the sum of each non-overlapping 2×2 block "
             "times a per-map coefficient plus a per-map bias.", "function", lambda: S.subsample,
             inputs=_subsampling_inputs)


def _rbf_inputs():
    return [((torch.randn(4, 84), torch.randn(10, 84).sign()), {}),
            ((torch.randn(3, 12), torch.randn(5, 12)), {})]


add_exercise("01.rbf", 2,
             "Write rbf(x, codes): the Euclidean RBF output y_i = Σ_j (x_j − w_ij)² for a batch x (N, F) and "
             "codes (classes, F), returning (N, classes).", "function", lambda: S.rbf, inputs=_rbf_inputs)


def _verify_c3_design(answer) -> Problem | None:
    table = torch.as_tensor(answer) if not torch.is_tensor(answer) else answer
    if tuple(table.shape) != (6, 16):
        return Problem("shape", f"a C3 table is (6 S2 maps, 16 C3 maps); yours is {tuple(table.shape)}")
    table = table != 0
    reads = table.sum(dim=0)
    if int(reads.min()) < 3:
        return Problem("design", "every C3 map should read at least 3 S2 maps")
    if int(table.sum()) > 60:
        return Problem("design", f"{int(table.sum())} links: the budget is Table I's 60")
    if len({tuple(column.tolist()) for column in table.t()}) < 16:
        return Problem("design", "two C3 maps read the same S2 maps: they would see the same inputs "
                                 "(break the symmetry)")
    if not table.any(dim=1).all():
        return Problem("design", "an S2 map feeds no C3 map: its features would be wasted")
    from ..models import get_model
    model = get_model("lenet5", table=table.tolist())
    model.eval()
    with torch.no_grad():
        model(torch.zeros(1, 1, 32, 32))
    return None


add_exercise("01.c3_design", 3,
             "Design your own C3 connection table (6×16, at most 60 links, every C3 map reading at least 3 S2 "
             "maps, no two reading the same set) and train LeNet-5 with it against Table I and a full C3.",
             "property", S.c3_table_design, verify=_verify_c3_design)

# =========================================================================== 02 AlexNet
add_exercise("02.params_one_tower", 1,
             "How many parameters would the paper's AlexNet have if conv2, conv4 and conv5 were not split into "
             "towers (groups=1)?", "number", S.alexnet_one_tower_params,
             mistakes=[(_is(lambda r: S.alexnet_params()), "that is the two-tower network of the paper")])
add_exercise("02.dropout_expectation", 1,
             "Classic dropout with p = 0.3 (the 2012 paper's kind): by what factor are a unit's outputs multiplied "
             "at test time, so that they equal their expected value in training?", "number", S.dropout_expectation,
             rel=1e-6, mistakes=[(_is(0.3), "p is the probability of dropping a unit, not of keeping it"),
                                 (_is(1 / 0.7), "that is inverted dropout's factor, applied in training")])


def _lrn_inputs():
    return [((torch.randn(2, 7, 3, 3) * 3,), {"n": 5, "alpha": 0.1, "beta": 0.75, "k": 2.0}),
            ((torch.randn(1, 4, 2, 2) * 2,), {"n": 3, "alpha": 0.5, "beta": 0.5, "k": 1.0})]


add_exercise("02.lrn", 2,
             "Write lrn(a, n, alpha, beta, k) from section 3.3's formula: each channel divided by "
             "(k + α·Σ a_j²)^β over the n channels around it (those that exist).", "function", lambda: S.lrn,
             inputs=_lrn_inputs)


def _verify_inverted_dropout(answer) -> Problem | None:
    if not callable(answer):
        return Problem("type", f"expected a function dropout(a, p, training), got {type(answer).__name__}")
    a = torch.rand(200, 500) + 0.5
    same = answer(a.clone(), 0.5, training=False)
    if not torch.is_tensor(same) or tuple(same.shape) != tuple(a.shape):
        return Problem("shape", "dropout must return a tensor of the input's shape")
    if not torch.allclose(same, a):
        return Problem("value", "at test time (training=False) inverted dropout returns its input unchanged")
    p = 0.3
    out = answer(a.clone(), p, training=True)
    if not torch.is_tensor(out) or tuple(out.shape) != tuple(a.shape):
        return Problem("shape", "dropout must return a tensor of the input's shape")
    dropped = float((out == 0).double().mean())
    if abs(dropped - p) > 0.01:
        return Problem("value", f"with p = {p} about {p:.0%} of the units should be zero while training; "
                                f"yours zeroed {dropped:.1%}")
    kept = out != 0
    if not torch.allclose(out[kept], a[kept] / (1 - p), rtol=1e-5):
        return Problem("value", "the kept units have the wrong scale: the expected output in training "
                                "should equal the input")
    if torch.equal(kept, answer(a.clone(), p, training=True) != 0):
        return Problem("value", "two calls dropped the same units: draw a new random mask every time")
    return None


add_exercise("02.inverted_dropout", 2,
             "Write dropout(a, p, training): inverted dropout, which zeroes each unit with probability p in "
             "training and keeps the expected output equal to a (and leaves a unchanged at test time).",
             "property", lambda: S.inverted_dropout, verify=_verify_inverted_dropout)


def _towers_inputs():
    return [((torch.randn(2, 8, 9, 9), torch.randn(12, 4, 5, 5), torch.randn(12)), {"padding": 2}),
            ((torch.randn(1, 4, 6, 6), torch.randn(6, 2, 3, 3), torch.randn(6)), {"padding": 1})]


add_exercise("02.towers", 2,
             "Write towers(x, weight, bias, padding): AlexNet's conv2 on two GPUs, each half of the filters "
             "convolving only its own half of the input maps, the halves concatenated (without groups=).",
             "function", lambda: S.towers, inputs=_towers_inputs)


def _grouped(count: int):
    def constraint(module, input_shape):
        found = sum(isinstance(m, nn.Conv2d) and m.groups == 2 for m in module.modules())
        return None if found >= count else f"use AlexNet's towers: at least {count} convolutions with " \
                                           f"groups=2 (yours has {found})"
    return constraint


add_exercise("02.two_tower_design", 3,
             "Design an AlexNet for 3×32×32 images (10 scores): five convolutions, towers in at least two of them, "
             "under 1M parameters; train it with and without the towers (and with and without dropout).",
             "design", lambda: S.two_tower_net, input_shape=(2, 3, 32, 32), output_shape=(10,),
             max_params=1_000_000, constraints=[_at_least_convs(5), _grouped(2)])

# =========================================================================== 03 ZF Net
add_exercise("03.conv1_output", 1,
             "Side of ZF Net's first feature maps for a 224×224 crop: 7×7 filters, stride 2, padding 1?",
             "number", S.zf_conv1_output,
             mistakes=[(_is(lambda r: r - 1), "count the padding on both sides")])
add_exercise("03.flat_spectrum_aliasing", 1,
             "For a filter with a flat spectrum over frequencies [−½, ½]², which share of its energy lies above "
             "the Nyquist frequency of a stride-4 grid (a disc of radius 1/8)?", "number", S.flat_spectrum_aliasing,
             rel=1e-3, mistakes=[(_is(lambda r: 1 - r), "that is the share below the cutoff"),
                                 (_is(1 - math.pi / 16), "a stride of 4 samples every 4 pixels: its Nyquist "
                                                         "frequency is 1/(2·4) cycles per pixel")])


def _unpool_inputs():
    x = torch.randn(2, 3, 8, 8)
    pooled, switches = F.max_pool2d(x, 2, return_indices=True)
    y = torch.randn(1, 2, 9, 9)
    y[:, :, 2, 2] = 10.0          # the maximum of four overlapping 3×3 windows: one switch shared four times
    overlapping, shared = F.max_pool2d(y, 3, stride=2, return_indices=True)
    return [((pooled, switches, (8, 8)), {}), ((overlapping, shared, (9, 9)), {})]


add_exercise("03.unpool", 2,
             "Write unpool(pooled, switches, output_size): put each pooled value back at its switch (a flat index "
             "into the H×W map, from max_pool2d(..., return_indices=True)), zeros elsewhere; values sharing a "
             "switch add up.", "function", lambda: S.unpool_by_switches, inputs=_unpool_inputs)


def _occlusion_inputs():
    model = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(2), nn.Flatten(),
                          nn.Linear(16, 5))
    image = torch.rand(3, 12, 12)
    return [((model, image, 2, 4, 3), {"fill": 0.5}), ((model, image, 4, 5, 4), {"fill": 0.0})]


add_exercise("03.occlusion", 2,
             "Write occlusion_map(model, image, label, size, stride, fill): for square centres every stride pixels "
             "from (0, 0), set the size×size square with top-left corner centre − size//2 (clipped) to fill and "
             "record the softmax probability of label; return the (rows, cols) map.", "function",
             lambda: S.occlusion_map, inputs=_occlusion_inputs, grad=False)


def _small_first_layer(module, input_shape):
    first = next((m for m in module.modules() if isinstance(m, nn.Conv2d)), None)
    kernel, stride = first.kernel_size[0], first.stride[0]
    if kernel > 7 or stride > 2:
        return f"ZF's lesson: a first layer of at most 7×7 with stride at most 2 (yours: {kernel}×{kernel}, " \
               f"stride {stride})"
    return None


add_exercise("03.zf_design", 3,
             "Design a ZF-style network for 1×64×64 images (10 scores): five convolutions, a first layer of at most "
             "7×7 with stride at most 2, under 600k parameters; compare its first-layer filters and accuracy with "
             "an 11×11 stride-4 first layer.", "design", lambda: S.zf_design, input_shape=(2, 1, 64, 64),
             output_shape=(10,), max_params=600_000, constraints=[_at_least_convs(5), _small_first_layer])

# =========================================================================== 04 VGG
add_exercise("04.params_c_vs_d", 1,
             "Configuration C replaces three of D's 3×3 convolutions (256, 512 and 512 wide) by 1×1: how many "
             "parameters fewer has C?", "number", S.vgg_c_vs_d_params,
             mistakes=[(_is(lambda r: r // 8 * 9), "a 1×1 convolution still has a C×C matrix of weights")])
add_exercise("04.receptive_field_3x3_stack", 1,
             "Receptive field (one side) of three stacked 3×3 convolutions with stride 1?", "number",
             S.receptive_field_3x3_stack,
             mistakes=[(_is(9), "the windows overlap: each layer widens the field by k − 1 = 2 pixels")])


def _fc_inputs():
    return [((nn.Linear(4 * 3 * 3, 6), torch.randn(2, 4, 3, 3), 4, 3), {}),
            ((nn.Linear(4 * 3 * 3, 6), torch.randn(2, 4, 5, 5), 4, 3), {}),
            ((nn.Linear(2 * 2 * 2, 3), torch.randn(1, 2, 4, 6), 2, 2), {})]


def _run_fc_to_conv(function, linear, x, channels, side):
    return function(linear, channels, side)(x)


add_exercise("04.fc_as_conv", 2,
             "Write fc_to_conv(linear, channels, side): the nn.Conv2d that computes a fully connected layer on a "
             "flattened channels×side×side map with the same weights (Sec. 3.2), so that it also slides over "
             "larger maps.", "function", lambda: S.fc_to_conv, inputs=_fc_inputs, adapter=_run_fc_to_conv)


def _bn_inputs():
    return [((torch.randn(4, 3, 2, 2) * 2 + 1, torch.randn(3), torch.randn(3)), {}),
            ((torch.randn(2, 5, 3, 3), torch.rand(5) + 0.5, torch.randn(5)), {"eps": 1e-3})]


add_exercise("04.batch_norm", 2,
             "Write batch_norm(x, gamma, beta, eps=1e-5): batch normalisation of (N, C, H, W) in training mode, "
             "per channel over the batch and the positions, then scale and shift.", "function",
             lambda: S.batch_norm, inputs=_bn_inputs)
add_exercise("04.vgg_block", 2,
             "Write vgg_block(in_channels, out_channels, convs): convs 3×3 convolutions (stride 1, padding 1) with "
             "ReLUs, then 2×2 max-pooling with stride 2, as an nn.Sequential.", "module", lambda: S.vgg_block,
             build=((3, 8, 2), {}), input_shape=(2, 3, 16, 16))


def _vgg_rule(module, input_shape):
    for m in module.modules():
        if isinstance(m, nn.Conv2d) and (m.kernel_size not in ((3, 3), (1, 1)) or m.stride != (1, 1)):
            return f"VGG's rule: only 3×3 (or 1×1) convolutions with stride 1; yours has " \
                   f"{m.kernel_size[0]}×{m.kernel_size[1]} with stride {m.stride[0]}"
    return None


add_exercise("04.vgg_budget", 3,
             "Design a VGG for 1×28×28 images (10 scores): at least six convolutions, only 3×3 (or 1×1) with "
             "stride 1, under 100k parameters; train it with and without batch norm.", "design",
             lambda: S.vgg_budget, input_shape=(2, 1, 28, 28), output_shape=(10,), max_params=100_000,
             constraints=[_at_least_convs(6), _vgg_rule])

# =========================================================================== 05 GoogLeNet
add_exercise("05.inception_params", 1,
             "How many parameters (with biases) has inception (3a): 192 channels in, #1×1 64, #3×3 reduce 96, "
             "#3×3 128, #5×5 reduce 16, #5×5 32, pool proj 32?", "number", S.inception_3a_params,
             mistakes=[(_is(lambda r: r - 368), "count one bias per filter as well")])
add_exercise("05.naive_3a_channels", 1,
             "How many channels does the naive module (Figure 2a) with 3a's #1×1, #3×3 and #5×5 output on a "
             "192-channel input?", "number", S.naive_3a_channels,
             mistakes=[(_is(64 + 128 + 32), "the pooling branch passes every input channel through"),
                       (_is(256), "the naive module has no pool projection")])
_INCEPTION_BUILD = ((16, 8, 6, 10, 3, 5, 4), {})
add_exercise("05.inception_module", 2,
             "Write Inception(in_channels, n1x1, n3x3_reduce, n3x3, n5x5_reduce, n5x5, pool_proj): Figure 2(b), "
             "every convolution followed by a ReLU, the branches concatenated in Table 1's order.", "module",
             lambda: S.InceptionModule, build=_INCEPTION_BUILD, input_shape=(2, 16, 8, 8))
add_exercise("05.bn_inception", 2,
             "Write BNInception(in_channels, n1x1, n3x3_reduce, n3x3, double_reduce, double_3x3, pool_proj): batch "
             "norm after every convolution (no biases), the 5×5 replaced by two 3×3 (Ioffe & Szegedy, 2015).",
             "module", lambda: S.BNInception, build=_INCEPTION_BUILD, input_shape=(4, 16, 6, 6), train_mode=True,
             parameter_hint="(a convolution followed by batch norm needs no bias)")


def _macs_inputs():
    return [((192, (64, 96, 128, 16, 32, 32), 28), {}), ((480, (192, 96, 208, 16, 48, 64), 14), {}),
            ((192, (64, None, 128, None, 32, None), 28), {})]


add_exercise("05.inception_macs", 2,
             "Write inception_macs(in_channels, columns, side): the multiply-adds of an Inception module's "
             "convolutions on side×side maps; columns as in Table 1, None where the naive module has no layer.",
             "function", lambda: S.inception_macs, inputs=_macs_inputs, grad=False)


def _macs_budget(limit: int):
    def constraint(module, input_shape):
        from ..analysis import summary, totals
        macs = totals(summary(module, (1,) + tuple(input_shape[1:])))["macs"]
        return None if macs <= limit else f"{macs / 1e6:.0f}M multiply-adds per image: over the budget of " \
                                          f"{limit / 1e6:.0f}M"
    return constraint


def _kernel_sizes(count: int):
    def constraint(module, input_shape):
        sizes = {m.kernel_size for m in module.modules() if isinstance(m, nn.Conv2d)}
        return None if len(sizes) >= count else f"an Inception module mixes filter sizes: use at least {count}"
    return constraint


add_exercise("05.inception_budget", 3,
             "Design a module from 256 to 480 channels on 28×28 maps (as 3b) within 200M multiply-adds per image "
             "(3b: 304M), mixing at least two filter sizes; put it in the small GoogLeNet and compare.", "design",
             lambda: S.inception_budget, input_shape=(1, 256, 28, 28), output_shape=(480, 28, 28),
             constraints=[_macs_budget(200_000_000), _kernel_sizes(2)])

# =========================================================================== 06 ResNet
add_exercise("06.bottleneck_params", 1,
             "How many weights has a conv4_x bottleneck block on a 1024-wide input (1×1 256, 3×3 256, 1×1 1024; "
             "no biases, ignore batch norm)?", "number", S.bottleneck_params,
             mistakes=[(_is(lambda r: r + 2 * (256 + 256 + 1024)), "ignore batch norm's scales and shifts"),
                       (_is(lambda r: r + 256 + 256 + 1024), "no biases: batch norm follows every convolution")])
add_exercise("06.option_b_extra_params", 1,
             "How many parameters does option B add to the CIFAR-10 ResNet-20 compared with option A?", "number",
             S.option_b_extra_params,
             mistakes=[(_is(16 * 32 + 32 * 64), "each projection is followed by batch norm (a scale and a shift "
                                                "per channel)")])
add_exercise("06.basic_block", 2,
             "Write BasicBlock(in_channels, out_channels, stride): two 3×3 convolutions with batch norm (no "
             "biases), ReLU, and option B: a 1×1 projection with batch norm on the shortcut only where the shape "
             "changes.", "module", lambda: S.BasicBlockOptionB, build=((8, 16, 2), {}), input_shape=(4, 8, 8, 8),
             train_mode=True,
             parameter_hint="(no biases before batch norm; a projection only where the shape changes)")
add_exercise("06.bottleneck", 2,
             "Write Bottleneck(in_channels, channels, stride): 1×1 (carrying the stride, as the paper), 3×3, 1×1 to "
             "4·channels, batch norm after each (no biases), option B shortcut.", "module",
             lambda: S.BottleneckOptionB, build=((8, 4, 2), {}), input_shape=(4, 8, 8, 8), train_mode=True,
             parameter_hint="(no biases before batch norm; a projection only where the shape changes)")


def _shortcut_inputs():
    return [((torch.randn(2, 4, 8, 8), 8, 2), {}), ((torch.randn(2, 4, 7, 7), 6, 2), {}),
            ((torch.randn(1, 3, 5, 5), 3, 1), {})]


add_exercise("06.option_a_shortcut", 2,
             "Write shortcut_a(x, out_channels, stride): option A, every stride-th pixel of x with zero channels "
             "appended after the old ones up to out_channels.", "function", lambda: S.shortcut_a,
             inputs=_shortcut_inputs)
add_exercise("06.preact_block", 2,
             "Write PreActBlock(channels): BN, ReLU, 3×3 conv, BN, ReLU, 3×3 conv (no biases), plus the input — "
             "nothing after the addition (He et al., 2016, 'Identity mappings').", "module",
             lambda: S.PreActBlock, build=((8,), {}), input_shape=(4, 8, 6, 6), train_mode=True)


def _depth_at_least(count: int):
    def constraint(module, input_shape):
        from ..analysis import depth
        found = depth(module, (1,) + tuple(input_shape[1:]))
        return None if found >= count else f"{found} weight layers on the longest path; the design asks for " \
                                           f"at least {count}"
    return constraint


add_exercise("06.deep_budget", 3,
             "Design a CIFAR-10 network (3×32×32, 10 scores) of at least 20 weight layers on its longest path under "
             "300k parameters; train it with and without shortcuts and compare the training errors.", "design",
             lambda: S.deep_budget, input_shape=(2, 3, 32, 32), output_shape=(10,), max_params=300_000,
             constraints=[_depth_at_least(20)])

# =========================================================================== 07 comparison
def _near(value):
    """A mistake that gives about ``value`` (a callable of nothing, evaluated when checking)."""
    return lambda answer, reference: math.isclose(answer, value(), rel_tol=0.01)


add_exercise("07.fc_share", 1,
             "What share of VGG-19's parameters sit in its three fully connected layers (a fraction between 0 "
             "and 1)?", "number", S.vgg19_fc_share, rel=0.005,
             mistakes=[(_near(S.vgg19_first_fc_share), "count all three fully connected layers"),
                       (_near(lambda: 1 - S.vgg19_fc_share()), "that is the convolutions' share"),
                       (_near(lambda: 100 * S.vgg19_fc_share()), "give a fraction between 0 and 1, not a "
                                                                  "percentage")])
add_exercise("07.macs_ratio", 1,
             "Add ResNet-50 to the table: how many times ResNet-50's multiply-adds does VGG-19 need on one "
             "224×224 crop?", "number", S.vgg19_over_resnet50_macs, rel=0.01,
             mistakes=[(_near(S.vgg19_over_resnet50_params), "that is the ratio of their parameters"),
                       (_near(lambda: 1 / S.vgg19_over_resnet50_macs()), "the other way round: VGG-19's over "
                                                                          "ResNet-50's")])


def _macs_inputs():
    from ..layers import BasicBlock, Inception

    grouped = nn.Sequential(nn.Conv2d(3, 8, 5), nn.ReLU(), nn.MaxPool2d(2),
                            nn.Conv2d(8, 16, 3, padding=1, groups=2), nn.ReLU(),
                            nn.Flatten(), nn.Linear(16 * 14 * 14, 10))
    return [((grouped, (1, 3, 32, 32)), {}), ((Inception(16, 8, 6, 10, 3, 5, 4), (1, 16, 8, 8)), {}),
            ((BasicBlock(8, 16, stride=2), (1, 8, 8, 8)), {})]


add_exercise("07.count_macs", 2,
             "Write count_macs(model, input_shape): the multiply-adds of one forward pass on an input of "
             "input_shape (batch of one) through the model's nn.Conv2d and nn.Linear layers, counted with "
             "forward hooks (register_forward_hook); groups count.", "function", lambda: S.count_macs,
             inputs=_macs_inputs, grad=False)
add_exercise("07.efficient_design", 3,
             "Design a network for 3×32×32 images (10 scores) with at least 10 weight layers on its longest path, "
             "within 5M multiply-adds and 100k parameters; train it and a network of ten times its multiply-adds, "
             "and plot their test errors against multiply-adds as in this chapter.", "design",
             lambda: S.efficient_design, input_shape=(2, 3, 32, 32), output_shape=(10,), max_params=100_000,
             constraints=[_macs_budget(5_000_000), _depth_at_least(10)])
