"""cnnlit.exercises: every check accepts its reference solution and PyTorch's or the package's own version
of the same thing, rejects a plausible wrong answer with a hint of the right kind that does not give the
solution away, and unknown keys list the valid ones."""
import copy
import math
import re

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from cnnlit import exercises as E
from cnnlit.exercises import solutions as S

KEYS = E.keys()


# ----------------------------------------------------------------------------- plausible wrong answers
def conv2d_without_bias(x, weight, bias=None, stride=1, padding=0):
    return S.conv2d(x, weight, None, stride, padding)


def train_step_without_zero_grad(model, optimizer, images, labels):
    loss = F.cross_entropy(model(images), labels)
    loss.backward()
    optimizer.step()
    return loss.item()


def subsample_by_average(x, coefficient, bias):
    return F.avg_pool2d(x, 2) * coefficient[:, None, None] + bias[:, None, None]


def rbf_with_distances(x, codes):
    return torch.cdist(x, codes)                        # not squared


def torch_lrn(a, n=5, alpha=1e-4, beta=0.75, k=2.0):
    return F.local_response_norm(a, n, alpha, beta, k)  # divides alpha by n


def classic_dropout(a, p, training=True):
    if not training:
        return a * (1 - p)
    return a * (torch.rand_like(a) >= p)


def towers_crossed(x, weight, bias, padding=0):
    half_in, half_out = x.shape[1] // 2, weight.shape[0] // 2
    top = F.conv2d(x[:, half_in:], weight[:half_out], bias[:half_out], padding=padding)     # wrong halves
    bottom = F.conv2d(x[:, :half_in], weight[half_out:], bias[half_out:], padding=padding)
    return torch.cat([top, bottom], 1)


def unpool_overwriting(pooled, switches, output_size):
    n, c = pooled.shape[:2]
    out = pooled.new_zeros(n, c, output_size[0] * output_size[1])
    out = out.scatter(2, switches.reshape(n, c, -1), pooled.reshape(n, c, -1))   # shared switches overwrite
    return out.reshape(n, c, *output_size)


def occlusion_from_corner(model, image, label, size, stride, fill=0.5):
    rows, cols = range(0, image.shape[1], stride), range(0, image.shape[2], stride)
    result = torch.zeros(len(rows), len(cols))
    with torch.no_grad():
        for i, r in enumerate(rows):
            for j, c in enumerate(cols):
                covered = image.clone()
                covered[:, r:r + size, c:c + size] = fill                 # the square starts at the centre
                result[i, j] = torch.softmax(model(covered[None]), 1)[0, label]
    return result


def fc_to_conv_wrong_order(linear, channels, side):
    conv = nn.Conv2d(channels, linear.out_features, side)
    with torch.no_grad():            # flattened as (side, side, channels): the channels-last order
        conv.weight.copy_(linear.weight.reshape(-1, side, side, channels).permute(0, 3, 1, 2))
        conv.bias.copy_(linear.bias)
    return conv


def batch_norm_unbiased(x, gamma, beta, eps=1e-5):
    mean = x.mean(dim=(0, 2, 3), keepdim=True)
    var = x.var(dim=(0, 2, 3), keepdim=True, unbiased=True)
    return gamma[None, :, None, None] * (x - mean) / torch.sqrt(var + eps) + beta[None, :, None, None]


def vgg_block_unpadded(in_channels, out_channels, convs):
    layers = []
    for i in range(convs):
        layers += [nn.Conv2d(in_channels if i == 0 else out_channels, out_channels, 3), nn.ReLU()]
    return nn.Sequential(*layers, nn.MaxPool2d(2))


class InceptionOtherOrder(S.InceptionModule):
    def forward(self, x):
        return torch.cat([self.branch2(x), self.branch1(x), self.branch3(x), self.branch4(x)], 1)


class BNInceptionWith5x5(nn.Module):
    def __init__(self, cin, n1, r3, n3, r5, n5, proj):
        super().__init__()
        self.branch1 = S.ConvBNReLU(cin, n1, 1)
        self.branch2 = nn.Sequential(S.ConvBNReLU(cin, r3, 1), S.ConvBNReLU(r3, n3, 3))
        self.branch3 = nn.Sequential(S.ConvBNReLU(cin, r5, 1), S.ConvBNReLU(r5, n5, 5))
        self.branch4 = nn.Sequential(nn.MaxPool2d(3, 1, 1), S.ConvBNReLU(cin, proj, 1))

    def forward(self, x):
        return torch.cat([self.branch1(x), self.branch2(x), self.branch3(x), self.branch4(x)], 1)


def macs_without_reductions(in_channels, columns, side):
    n1, r3, n3, r5, n5, proj = columns
    return side * side * (in_channels * n1 + (r3 or in_channels) * 9 * n3 + (r5 or in_channels) * 25 * n5)


class BlockWithoutShortcut(nn.Module):
    def __init__(self, in_channels, out_channels, stride=1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)

    def forward(self, x):
        return F.relu(self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x))))))


class BottleneckStrideOn3x3(S.BottleneckOptionB):
    def __init__(self, in_channels, channels, stride=1):
        super().__init__(in_channels, channels, stride)
        self.conv1.stride, self.conv2.stride = (1, 1), (stride, stride)


def shortcut_padded_both_sides(x, out_channels, stride):
    x = x[:, :, ::stride, ::stride]
    extra = out_channels - x.shape[1]
    return F.pad(x, (0, 0, 0, 0, extra // 2, extra - extra // 2))


class PostActivationBlock(nn.Module):
    def __init__(self, channels):
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)

    def forward(self, x):
        return F.relu(x + self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x))))))


def one_tower_net():
    return nn.Sequential(nn.Conv2d(3, 16, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
                         *[m for _ in range(4) for m in (nn.Conv2d(16, 16, 3, padding=1), nn.ReLU())],
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(16, 10))


def big_first_layer():
    return nn.Sequential(nn.Conv2d(1, 16, 11, stride=4, padding=5), nn.ReLU(),
                         *[m for _ in range(4) for m in (nn.Conv2d(16, 16, 3, padding=1), nn.ReLU())],
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(16, 10))


def vgg_with_5x5():
    return nn.Sequential(nn.Conv2d(1, 8, 5, padding=2), nn.ReLU(),
                         *[m for _ in range(5) for m in (nn.Conv2d(8, 8, 3, padding=1), nn.ReLU())],
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 10))


def real_3b_on_256():
    from cnnlit.layers import Inception
    return Inception(256, 128, 128, 192, 32, 96, 64)


def fully_connected_digits():
    return nn.Sequential(nn.Flatten(), nn.Linear(28 * 28, 12), nn.ReLU(), nn.Linear(12, 10))


def full_c3_table():
    return torch.ones(6, 16, dtype=torch.bool)


def macs_ignoring_groups(model, input_shape):
    total = 0

    def hook(module, inputs, output):
        nonlocal total
        reads = module.in_channels * math.prod(module.kernel_size) if isinstance(module, nn.Conv2d) \
            else module.in_features                                       # groups forgotten
        total += output[0].numel() * reads
    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    with torch.no_grad():
        model.eval()(torch.zeros(*input_shape))
    for handle in handles:
        handle.remove()
    return total


def plain_full_resolution():
    return nn.Sequential(nn.Conv2d(3, 16, 3, padding=1), nn.ReLU(),
                         *[m for _ in range(9) for m in (nn.Conv2d(16, 16, 3, padding=1), nn.ReLU())],
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(16, 10))


# key -> (wrong answer, the kind of problem the hint must name)
WRONG = {
    "00.params_fc_224": (lambda: S.params_fc_224() - 1000, "value"),
    "00.params_conv_224": (lambda: 64 * 27, "value"),
    "00.output_size": (lambda: 16, "value"),
    "00.receptive_field": (lambda: 8, "value"),
    "00.conv2d_unfold": (lambda: conv2d_without_bias, "value"),
    "00.train_step": (lambda: train_step_without_zero_grad, "value"),
    "00.small_cnn": (lambda: fully_connected_digits, "design"),
    "01.c3_params": (lambda: 1500, "value"),
    "01.c3_connections": (lambda: 150_000, "value"),
    "01.c3_mask": (lambda: S.c3_mask().t(), "shape"),
    "01.subsampling": (lambda: subsample_by_average, "value"),
    "01.rbf": (lambda: rbf_with_distances, "value"),
    "01.c3_design": (full_c3_table, "design"),
    "02.params_one_tower": (S.alexnet_params, "value"),
    "02.dropout_expectation": (lambda: 0.3, "value"),
    "02.lrn": (lambda: torch_lrn, "value"),
    "02.inverted_dropout": (lambda: classic_dropout, "value"),
    "02.towers": (lambda: towers_crossed, "value"),
    "02.two_tower_design": (lambda: one_tower_net, "design"),
    "03.conv1_output": (lambda: 109, "value"),
    "03.flat_spectrum_aliasing": (lambda: math.pi / 64, "value"),
    "03.unpool": (lambda: unpool_overwriting, "value"),
    "03.occlusion": (lambda: occlusion_from_corner, "value"),
    "03.zf_design": (lambda: big_first_layer, "design"),
    "04.params_c_vs_d": (lambda: 9 * (256 ** 2 + 2 * 512 ** 2), "value"),
    "04.receptive_field_3x3_stack": (lambda: 9, "value"),
    "04.fc_as_conv": (lambda: fc_to_conv_wrong_order, "value"),
    "04.batch_norm": (lambda: batch_norm_unbiased, "value"),
    "04.vgg_block": (lambda: vgg_block_unpadded, "shape"),
    "04.vgg_budget": (lambda: vgg_with_5x5, "design"),
    "05.inception_params": (lambda: S.inception_3a_params() - 368, "value"),
    "05.naive_3a_channels": (lambda: 224, "value"),
    "05.inception_module": (lambda: InceptionOtherOrder, "value"),
    "05.bn_inception": (lambda: BNInceptionWith5x5, "parameters"),
    "05.inception_macs": (lambda: macs_without_reductions, "value"),
    "05.inception_budget": (lambda: real_3b_on_256, "design"),
    "06.bottleneck_params": (lambda: S.bottleneck_params() + 3072, "value"),
    "06.option_b_extra_params": (lambda: 16 * 32 + 32 * 64, "value"),
    "06.basic_block": (lambda: BlockWithoutShortcut, "parameters"),
    "06.bottleneck": (lambda: BottleneckStrideOn3x3, "value"),
    "06.option_a_shortcut": (lambda: shortcut_padded_both_sides, "value"),
    "06.preact_block": (lambda: PostActivationBlock, "value"),
    "06.deep_budget": (lambda: __import__("cnnlit.models", fromlist=["get_model"]).get_model("resnet32"),
                       "design"),
    "07.fc_share": (S.vgg19_first_fc_share, "value"),
    "07.macs_ratio": (S.vgg19_over_resnet50_params, "value"),
    "07.count_macs": (lambda: macs_ignoring_groups, "value"),
    "07.efficient_design": (lambda: plain_full_resolution, "design"),
}


def test_every_exercise_has_a_wrong_answer_in_this_test():
    assert sorted(WRONG) == sorted(KEYS)


@pytest.mark.parametrize("key", KEYS)
def test_the_reference_solution_is_accepted(key, capsys):
    assert E.check(key, E.get(key).reference()) is True
    assert "✓" in capsys.readouterr().out


def _number_forms(value) -> list:
    if isinstance(value, int):
        return [str(value), f"{value:,}", f"{value:_}"]
    return [f"{value:.{digits}f}" for digits in (2, 3, 4)] + [f"{value:.3g}", f"{value:.0%}", f"{value:.1%}"]


@pytest.mark.parametrize("key", KEYS)
def test_a_wrong_answer_is_rejected_with_a_hint_that_keeps_the_solution(key, capsys):
    make_wrong, kind = WRONG[key]
    problem = E.diagnose(key, make_wrong())
    assert problem is not None, f"{key} accepted a wrong answer"
    assert problem.kind == kind, f"{key}: {problem}"
    assert E.check(key, make_wrong()) is False
    printed = capsys.readouterr().out
    assert key in printed and problem.kind in printed
    exercise = E.get(key)
    if exercise.kind == "number":
        for form in _number_forms(exercise.reference()):
            assert not re.search(rf"(?<![\d.,_]){re.escape(form)}(?![\d])", problem.message), \
                f"{key}: the hint shows the solution ({form}): {problem.message}"
    else:
        assert not re.search(r"\d\.\d{3,}", problem.message), f"{key}: the hint prints values: {problem.message}"


def test_a_wrong_number_names_a_common_mistake():
    assert "bias" in E.diagnose("01.c3_params", 1500).message
    assert "not fully connected" in E.diagnose("01.c3_params", 6 * 16 * 25 + 16).message
    assert "too large" in E.diagnose("01.c3_params", 2000).message
    assert E.diagnose("01.c3_params", "1516").kind == "type"


def test_unknown_keys_list_the_valid_ones():
    with pytest.raises(KeyError) as error:
        E.check("01.c3_maks", None)
    message = str(error.value)
    assert "Did you mean '01.c3_mask'" in message and all(key in message for key in KEYS)
    assert isinstance(error.value, ValueError)
    with pytest.raises(ValueError, match="Valid keys: 00"):
        E.diagnose("lenet", 1)


def test_every_chapter_1_to_6_has_two_implementations_and_an_experiment():
    for chapter in range(1, 7):
        tiers = [entry.tier for entry in E.catalogue(chapter)]
        assert tiers.count(2) >= 2 and tiers.count(3) >= 1 and tiers.count(1) >= 1, (chapter, tiers)
        assert tiers == sorted(tiers)                       # ★ first, then ★★, then ★★★
    rows = E.catalogue()
    assert [r.key for r in rows] == KEYS and all(r.statement and r.stars == "★" * r.tier for r in rows)
    text = E.markdown(4)
    assert all(f'check("{r.key}", answer)' in text for r in E.catalogue(4)) and "05." not in text


def test_chapters_0_and_7_have_every_tier_in_order():
    for chapter in (0, 7):
        tiers = [entry.tier for entry in E.catalogue(chapter)]
        assert set(tiers) == {1, 2, 3} and tiers == sorted(tiers), (chapter, tiers)

def test_checking_leaves_the_random_state_alone():
    torch.manual_seed(123)
    state = torch.random.get_rng_state()
    E.diagnose("02.inverted_dropout", S.inverted_dropout)
    E.diagnose("06.basic_block", S.BasicBlockOptionB)
    assert torch.equal(torch.random.get_rng_state(), state)


def test_gradients_are_checked():
    def detached(x, weight, bias=None, stride=1, padding=0):
        return F.conv2d(x.detach(), weight.detach(), bias.detach(), stride, padding)

    def wrong_backward(x, weight, bias=None, stride=1, padding=0):
        out = F.conv2d(x, weight, bias, stride, padding)
        return out + (out.detach() - out) * 0 + (x.sum() - x.sum().detach()) * 0 + \
            (weight * 0.5).sum() - (weight * 0.5).sum().detach()      # same values, extra gradient on weight
    assert E.diagnose("00.conv2d_unfold", detached).kind == "gradient"
    assert E.diagnose("00.conv2d_unfold", wrong_backward).kind == "gradient"


def test_errors_in_the_answer_are_reported_not_raised():
    def broken(*args, **kwargs):
        raise RuntimeError("not written yet")
    problem = E.diagnose("04.batch_norm", broken)
    assert problem.kind == "error" and "not written yet" in problem.message
    assert E.diagnose("06.preact_block", 42).kind == "type"
    assert E.diagnose("06.preact_block", lambda channels: nn.Identity()).kind == "parameters"


# ----------------------------------------------------------------------------- the references are right:
# PyTorch's and the package's own versions pass the same checks
def test_pytorch_and_package_versions_pass_the_function_checks():
    from cnnlit.deconvnet import unpool
    from cnnlit.layers import EuclideanRBF, LocalResponseNorm, Subsampling
    from cnnlit.layers.residual import ZeroPadShortcut
    from cnnlit.occlusion import occlusion_sensitivity

    def package_subsampling(x, coefficient, bias):
        layer = Subsampling(x.shape[1])
        return torch.func.functional_call(layer, {"coefficient": coefficient, "bias": bias}, (x,))

    accepted = {
        "00.conv2d_unfold": F.conv2d,
        "01.subsampling": package_subsampling,
        "01.rbf": lambda x, codes: EuclideanRBF(codes)(x),
        "02.lrn": lambda a, n, alpha, beta, k: LocalResponseNorm(n, alpha, beta, k)(a),
        "02.towers": lambda x, w, b, padding: F.conv2d(x, w, b, padding=padding, groups=2),
        "02.inverted_dropout": F.dropout,
        "03.unpool": unpool,
        "03.occlusion": lambda model, image, label, size, stride, fill: occlusion_sensitivity(
            model, image, label, size=size, stride=stride, fill=fill).probability,
        "04.batch_norm": lambda x, g, b, eps=1e-5: F.batch_norm(x, None, None, g, b, training=True, eps=eps),
        "06.option_a_shortcut": lambda x, out, stride: ZeroPadShortcut(x.shape[1], out, stride)(x),
    }
    for key, answer in accepted.items():
        assert E.diagnose(key, answer) is None, key


def test_package_modules_pass_the_module_checks():
    from cnnlit.layers import BasicBlock, Bottleneck, Inception

    assert E.diagnose("05.inception_module", Inception) is None
    assert E.diagnose("06.basic_block", BasicBlock) is None                 # option B by default
    assert E.diagnose("06.bottleneck", Bottleneck) is None                  # stride on the 1x1, as the paper
    assert E.diagnose("06.bottleneck", lambda i, c, s: Bottleneck(i, c, s, stride_on="3x3")).kind == "value"
    assert E.diagnose("06.basic_block", lambda i, o, s: BasicBlock(i, o, s, shortcut="A")).kind == "parameters"


def test_inception_macs_reference_equals_summary():
    from cnnlit.analysis import summary
    from cnnlit.layers import Inception
    from cnnlit.models.googlenet import COLUMNS

    for name, side, channels in [("inception3a", 28, 192), ("inception4a", 14, 480)]:
        row = summary(Inception(channels, *COLUMNS[name]), (1, channels, side, side)).iloc[0]
        assert S.inception_macs(channels, COLUMNS[name], side) == row.macs
    assert S.inception_macs(480, COLUMNS["inception4a"], 14) == pytest.approx(73e6, rel=0.01)   # Table 1: 73M


def test_number_references_equal_the_models():
    from cnnlit.analysis import count_parameters, summary
    from cnnlit.layers import Bottleneck, Inception, PartialConv2d
    from cnnlit.models.alexnet import PAPER_CONVOLUTIONS, AlexNet
    from cnnlit.models.lenet import C3_TABLE
    from cnnlit.models.vgg import make_features

    assert S.params_fc_224() == 224 * 224 * 3 * 1000 + 1000
    assert S.params_conv_224() == 64 * (3 * 3 * 3 + 1)
    c3 = PartialConv2d(C3_TABLE)
    assert S.c3_params() == count_parameters(c3) == 1516                                  # LeCun et al., II-B
    assert S.c3_connections() == summary(c3, (1, 6, 14, 14)).connections[0] == 151_600
    assert torch.equal(S.c3_mask(), torch.tensor(C3_TABLE))
    assert E.diagnose("01.c3_mask", [[int(v) for v in row] for row in C3_TABLE]) is None   # 0/1 lists too
    one_tower = AlexNet(convolutions=[row[:5] + (1,) + row[6:] for row in PAPER_CONVOLUTIONS])
    assert S.alexnet_one_tower_params() == count_parameters(one_tower)
    assert S.alexnet_params() == count_parameters(AlexNet())
    assert S.vgg_c_vs_d_params() == count_parameters(make_features("D")) - count_parameters(make_features("C"))
    assert S.inception_3a_params() == count_parameters(Inception(192, 64, 96, 128, 16, 32, 32))
    block = Bottleneck(1024, 256)
    batch_norm = sum(p.numel() for m in block.modules() if isinstance(m, nn.BatchNorm2d) for p in m.parameters())
    assert S.bottleneck_params() == count_parameters(block) - batch_norm
    net = nn.Sequential(nn.Conv2d(1, 1, 3), nn.Conv2d(1, 1, 3), nn.MaxPool2d(2), nn.Conv2d(1, 1, 3))
    assert S.receptive_field_with_pool() == summary(net, (1, 1, 32, 32)).receptive_field.iloc[-1]
    stack = nn.Sequential(*[nn.Conv2d(1, 1, 3) for _ in range(3)])
    assert S.receptive_field_3x3_stack() == summary(stack, (1, 1, 16, 16)).receptive_field.iloc[-1] == 7
    assert S.zf_conv1_output() == nn.Conv2d(3, 96, 7, 2, 1)(torch.zeros(1, 3, 224, 224)).shape[-1] == 110
    assert S.naive_3a_channels() == Inception(192, 64, None, 128, None, 32, None).out_channels


def test_flat_spectrum_share_agrees_with_a_discrete_spectrum():
    side = 400                                   # frequencies on a fine grid over [-1/2, 1/2)^2
    f = torch.arange(side) / side - 0.5
    radius = torch.sqrt(f[:, None] ** 2 + f[None, :] ** 2)
    assert float((radius > 1 / 8).double().mean()) == pytest.approx(S.flat_spectrum_aliasing(), abs=2e-3)


def test_designs_and_references_build():
    from cnnlit.analysis import depth

    assert depth(S.deep_budget(), (1, 3, 32, 32)) == 20
    shallow = nn.Sequential(nn.Conv2d(3, 8, 3), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 10))
    assert E.diagnose("06.deep_budget", shallow).kind == "design"
    assert E.diagnose("06.deep_budget", lambda: nn.Linear(3, 10)).kind == "error"
    assert E.diagnose("04.vgg_budget", lambda: nn.Sequential(nn.Flatten(), nn.Linear(784, 5))).kind == "shape"
    preact = S.PreActBlock(4)
    x = torch.randn(2, 4, 5, 5)
    with torch.no_grad():
        for conv in (preact.conv1, preact.conv2):
            conv.weight.zero_()
    assert torch.equal(preact(x), x)             # the shortcut path is a pure identity
    assert copy.deepcopy(S.BNInception(16, 8, 6, 10, 3, 5, 4))(torch.randn(2, 16, 6, 6)).shape == (2, 27, 6, 6)


def test_chapter_7_references_equal_summary():
    from cnnlit.analysis import count_parameters, summary, totals
    from cnnlit.models import get_model
    from cnnlit.module_tools import on_meta

    for name, kwargs, shape in [("alexnet", {"variant": "paper"}, (1, 3, 227, 227)),
                                ("googlenet", {"variant": "paper", "aux_logits": False}, (1, 3, 224, 224)),
                                ("resnet50", {}, (1, 3, 224, 224))]:
        model = on_meta(get_model, name, **kwargs)
        frame = summary(model, shape, device="meta")
        averaging = frame[frame.type.str.contains("AvgPool")].macs.sum()   # summary counts it, the hooks not
        assert S.count_macs(model, shape) == totals(frame)["macs"] - averaging, name
    vgg19, resnet50 = on_meta(get_model, "vgg19"), on_meta(get_model, "resnet50")
    macs = [totals(summary(m, (1, 3, 224, 224), device="meta"))["macs"] for m in (vgg19, resnet50)]
    assert S.vgg19_over_resnet50_macs() == pytest.approx(macs[0] / macs[1], rel=1e-4)
    assert S.vgg19_over_resnet50_params() == count_parameters(vgg19) / count_parameters(resnet50)
    assert count_parameters(vgg19) == 143_667_240                          # Table 2: 144 million
    assert S.vgg19_fc_share() == pytest.approx(count_parameters(vgg19.classifier) / count_parameters(vgg19))
    assert E.diagnose("07.fc_share", 100 * S.vgg19_fc_share()).message.endswith("not a percentage")
    assert E.diagnose("07.count_macs", lambda model, shape: totals(summary(model, shape))["macs"]) is None
