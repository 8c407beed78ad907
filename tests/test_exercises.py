"""cnnlit.exercises: every check accepts its reference and PyTorch's or the package's own version of
the same thing, rejects a plausible wrong answer with a hint of the right kind that does not give
the solution away, names every registered slip with its own hint, gives any other wrong number a
hint without a direction, and unknown keys list the valid ones."""
import copy
import importlib
import math
import re
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from cnnlit import exercises as E
from cnnlit.exercises.core import Slip

KEYS = E.keys()


# ----------------------------------------------------------------------------- plausible wrong
# answers
def reference(key):
    return E.get(key).reference()


def conv2d_without_bias(x, weight, bias=None, stride=1, padding=0):
    return F.conv2d(x, weight, None, stride, padding)


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
    # wrong halves
    top = F.conv2d(x[:, half_in:], weight[:half_out], bias[:half_out], padding=padding)
    bottom = F.conv2d(x[:, :half_in], weight[half_out:], bias[half_out:], padding=padding)
    return torch.cat([top, bottom], 1)


def unpool_overwriting(pooled, switches, output_size):
    n, c = pooled.shape[:2]
    out = pooled.new_zeros(n, c, output_size[0] * output_size[1])
    # shared switches overwrite
    out = out.scatter(2, switches.reshape(n, c, -1), pooled.reshape(n, c, -1))
    return out.reshape(n, c, *output_size)


def occlusion_from_corner(model, image, label, size, stride, fill=0.5):
    rows, cols = range(0, image.shape[1], stride), range(0, image.shape[2], stride)
    result = torch.zeros(len(rows), len(cols))
    with torch.no_grad():
        for i, r in enumerate(rows):
            for j, c in enumerate(cols):
                covered = image.clone()
                # the square starts at the centre
                covered[:, r:r + size, c:c + size] = fill
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
    return gamma[None, :, None,
                 None] * (x - mean) / torch.sqrt(var + eps) + beta[None, :, None, None]


def vgg_block_unpadded(in_channels, out_channels, convs):
    layers = []
    for i in range(convs):
        layers += [nn.Conv2d(in_channels if i == 0 else out_channels, out_channels, 3), nn.ReLU()]
    return nn.Sequential(*layers, nn.MaxPool2d(2))


def inception_other_order(*columns):
    from cnnlit.layers import Inception

    class OtherOrder(Inception):
        def forward(self, x):
            first, second, third, fourth = self.branches(x)
            return torch.cat([second, first, third, fourth], 1)
    return OtherOrder(*columns)


def conv_bn_relu(cin, cout, kernel):
    return nn.Sequential(nn.Conv2d(cin, cout, kernel, padding=kernel // 2, bias=False),
                         nn.BatchNorm2d(cout),
                         nn.ReLU())


class BNInceptionWith5x5(nn.Module):
    def __init__(self, cin, n1, r3, n3, r5, n5, proj):
        super().__init__()
        self.branch1 = conv_bn_relu(cin, n1, 1)
        self.branch2 = nn.Sequential(conv_bn_relu(cin, r3, 1), conv_bn_relu(r3, n3, 3))
        self.branch3 = nn.Sequential(conv_bn_relu(cin, r5, 1), conv_bn_relu(r5, n5, 5))
        self.branch4 = nn.Sequential(nn.MaxPool2d(3, 1, 1), conv_bn_relu(cin, proj, 1))

    def forward(self, x):
        return torch.cat([self.branch1(x), self.branch2(x), self.branch3(x), self.branch4(x)], 1)


def macs_without_reductions(in_channels, columns, side):
    n1, r3, n3, r5, n5, proj = columns
    return (
        side
        * side
        * (in_channels * n1 + (r3 or in_channels) * 9 * n3 + (r5 or in_channels) * 25 * n5)
    )


class BlockWithoutShortcut(nn.Module):
    def __init__(self, in_channels, out_channels, stride=1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)

    def forward(self, x):
        return F.relu(self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x))))))


def bottleneck_stride_on_3x3(in_channels, channels, stride=1):
    from cnnlit.layers import Bottleneck

    return Bottleneck(in_channels, channels, stride, stride_on="3x3")


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
                         *[m for _ in range(4) for m in (nn.Conv2d(16, 16, 3, padding=1),
                                                         nn.ReLU())],
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(16, 10))


def big_first_layer():
    return nn.Sequential(nn.Conv2d(1, 16, 11, stride=4, padding=5), nn.ReLU(),
                         *[m for _ in range(4) for m in (nn.Conv2d(16, 16, 3, padding=1),
                                                         nn.ReLU())],
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
        reads = (
            module.in_channels * math.prod(module.kernel_size)
            if isinstance(module, nn.Conv2d)
            else module.in_features
        )                                       # groups forgotten
        total += output[0].numel() * reads
    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, (nn.Conv2d,
                                                                                        nn.Linear))]
    with torch.no_grad():
        model.eval()(torch.zeros(*input_shape))
    for handle in handles:
        handle.remove()
    return total


def plain_full_resolution():
    return nn.Sequential(nn.Conv2d(3, 16, 3, padding=1), nn.ReLU(),
                         *[m for _ in range(9) for m in (nn.Conv2d(16, 16, 3, padding=1),
                                                         nn.ReLU())],
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(16, 10))


# key -> (wrong answer, the kind of problem the hint must name)
WRONG = {
    "00.params_fc_224": (lambda: reference("00.params_fc_224") - 1000, "value"),
    "00.params_conv_224": (lambda: 64 * 27, "value"),
    "00.output_size": (lambda: 16, "value"),
    "00.receptive_field": (lambda: 8, "value"),
    "00.conv2d_unfold": (lambda: conv2d_without_bias, "value"),
    "00.train_step": (lambda: train_step_without_zero_grad, "value"),
    "00.small_cnn": (lambda: fully_connected_digits, "design"),
    "01.c3_params": (lambda: 1500, "value"),
    "01.c3_connections": (lambda: 150_000, "value"),
    "01.c3_mask": (lambda: reference("01.c3_mask").t(), "shape"),
    "01.subsampling": (lambda: subsample_by_average, "value"),
    "01.rbf": (lambda: rbf_with_distances, "value"),
    "01.c3_design": (full_c3_table, "design"),
    "02.params_one_tower": (lambda: two_tower_parameters(), "value"),
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
    "04.receptive_field_a": (lambda: 134, "value"),          # before the last pooling
    "04.fc_as_conv": (lambda: fc_to_conv_wrong_order, "value"),
    "04.vgg_block": (lambda: vgg_block_unpadded, "shape"),
    "04.vgg_budget": (lambda: vgg_with_5x5, "design"),
    "05.he_std": (lambda: math.sqrt(2 / 256), "value"),                       # n without 3·3
    "05.batch_norm": (lambda: batch_norm_unbiased, "value"),
    "05.batch_norm_eval": (lambda: lambda x, g, b, m, v, eps=1e-5: F.batch_norm(
        x, None, None, g, b, training=True, eps=eps), "value"),                 # the batch's own
    "05.staged_he": (lambda: lambda channels: 9 * channels * 1e-2, "value"),   # no 1/2
    "06.inception_params": (lambda: reference("06.inception_params") - 368, "value"),
    "06.naive_3a_channels": (lambda: 224, "value"),
    "06.inception_module": (lambda: inception_other_order, "value"),
    "06.bn_inception": (lambda: BNInceptionWith5x5, "parameters"),
    "06.inception_macs": (lambda: macs_without_reductions, "value"),
    "06.inception_budget": (lambda: real_3b_on_256, "design"),
    "07.bottleneck_params": (lambda: reference("07.bottleneck_params") + 3072, "value"),
    "07.option_b_extra_params": (lambda: 16 * 32 + 32 * 64, "value"),
    "07.basic_block": (lambda: BlockWithoutShortcut, "parameters"),
    "07.bottleneck": (lambda: bottleneck_stride_on_3x3, "value"),
    "07.option_a_shortcut": (lambda: shortcut_padded_both_sides, "value"),
    "07.preact_block": (lambda: PostActivationBlock, "value"),
    "07.deep_budget": (lambda: __import__("cnnlit.models",
                                          fromlist=["get_model"]).get_model("resnet32"),
                       "design"),
    # the first FC layer alone
    "09.fc_share": (lambda: (25088 * 4096 + 4096) / 143_667_240, "value"),
    # their parameters' ratio
    "09.macs_ratio": (lambda: 143_667_240 / 25_557_032, "value"),
    "09.count_macs": (lambda: macs_ignoring_groups, "value"),
    "09.efficient_design": (lambda: plain_full_resolution, "design"),
}
# chapters that test their exercises in their own file (tests/test_exercises_NN.py) may bring their
# wrong answers (WRONG) and right ones (ACCEPTED) from there; chapter 05 keeps its slips above
OWN_ACCEPTED = {}
for _path in sorted(Path(__file__).parent.glob("test_exercises_[0-9][0-9].py")):
    _own = importlib.import_module(_path.stem)
    WRONG.update(getattr(_own, "WRONG", {}))
    OWN_ACCEPTED.update(getattr(_own, "ACCEPTED", {}))


def two_tower_parameters():
    from cnnlit.analysis import count_parameters
    from cnnlit.models.alexnet import AlexNet
    from cnnlit.module_tools import on_meta

    return count_parameters(on_meta(AlexNet))


def train_step_with_the_package(model, optimizer, images, labels):
    from cnnlit.train.loop import training_step

    return training_step(model, images, labels, F.cross_entropy, optimizer)[1].item()


def small_cnn():
    return nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.AdaptiveAvgPool2d(2), nn.Flatten(), nn.Linear(16 * 4, 10))


def two_tower_net():
    return nn.Sequential(nn.Conv2d(3, 32, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(32, 64, 5, padding=2, groups=2), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(64, 64, 3, padding=1), nn.ReLU(),
                         nn.Conv2d(64, 64, 3, padding=1, groups=2), nn.ReLU(),
                         nn.Conv2d(64, 64, 3, padding=1, groups=2), nn.ReLU(),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, 10))


def zf_design():
    return nn.Sequential(nn.Conv2d(1, 16, 7, stride=2, padding=3), nn.ReLU(), nn.MaxPool2d(2),
                         *[m for _ in range(4) for m in (nn.Conv2d(16, 16, 3, padding=1),
                                                         nn.ReLU())],
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(16, 10))


def vgg_budget():
    return nn.Sequential(*[m for i in range(6) for m in (nn.Conv2d(1 if i == 0 else 16, 16, 3,
                                                                   padding=1),
                                                         nn.ReLU())],
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(16, 10))


def efficient_design():
    def conv(cin, cout, stride=1):
        return [nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU()]
    return nn.Sequential(*conv(3, 16, 2), *conv(16, 16), *conv(16, 16), *conv(16, 16),
                         *conv(16, 32, 2),
                         *conv(32, 32), *conv(32, 32), *conv(32, 64, 2), *conv(64, 64),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, 10))


def accepted(key):
    """A right answer: the reference where the checker compares with one, else a design or function
    that meets the exercise's constraints (the package's own where there is one)."""
    from cnnlit.layers import Inception
    from cnnlit.models import get_model
    from cnnlit.models.lenet import C3_TABLE

    examples = {"00.train_step": train_step_with_the_package, "00.small_cnn": small_cnn,
                "01.c3_design": torch.tensor(C3_TABLE), "02.inverted_dropout": F.dropout,
                "02.two_tower_design": two_tower_net, "03.zf_design": zf_design,
                "04.vgg_budget": vgg_budget,
                "06.inception_budget": lambda: Inception(256, 128, 64, 192, 16, 96, 64),
                "07.deep_budget": lambda: get_model("resnet_cifar", depth=20),
                "09.efficient_design": efficient_design, **OWN_ACCEPTED}
    return examples[key] if key in examples else reference(key)


def test_every_exercise_has_a_wrong_answer_in_this_test():
    assert sorted(WRONG) == sorted(KEYS)


@pytest.mark.parametrize("key", KEYS)
def test_the_reference_solution_is_accepted(key, capsys):
    assert E.check(key, accepted(key)) is True
    assert "✓" in capsys.readouterr().out


def _number_forms(value) -> list:
    if isinstance(value, int):
        return [str(value), f"{value:,}", f"{value:_}"]
    return [f"{value:.{digits}f}" for digits in (2, 3, 4)] + [f"{value:.3g}", f"{value:.0%}",
                                                              f"{value:.1%}"]


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
        assert not re.search(r"\d\.\d{3,}",
                             problem.message), f"{key}: the hint prints values: {problem.message}"


# ----------------------------------------------------------------------------- hints: slips and the
# method
NUMBER_KEYS = [key for key in KEYS if E.get(key).kind == "number"]
SLIP_KEYS = [key for key in KEYS if E.get(key).options.get("slips")]
DIRECTION = re.compile(r"too "
                       r"(large|small|big|high|low|many|few)|\b(larger|smaller|bigger|higher|lower|more|"
                       r"less|fewer|greater|increase\w*|decrease\w*|closer|further|nearer|overestimat\w*|"
                       r"underestimat\w*|over by|under by|off by)\b", re.IGNORECASE)


def _slip_value(key, slip):
    return slip.answer(reference(key)) if callable(slip.answer) else slip.answer


def test_every_number_and_most_functions_register_slips():
    assert NUMBER_KEYS and all(len(E.get(key).options["slips"]) >= 2 for key in NUMBER_KEYS)
    assert {"05.batch_norm", "07.option_a_shortcut", "02.lrn", "03.unpool"} <= set(SLIP_KEYS)


@pytest.mark.parametrize("key", NUMBER_KEYS)
def test_a_wrong_number_that_is_no_slip_gets_the_method_without_a_direction(key):
    exercise = E.get(key)
    right = reference(key)
    slips = [_slip_value(key, slip) for slip in exercise.options["slips"]]
    hints = {slip.hint for slip in exercise.options["slips"]}
    messages = set()
    for factor, shift in [(1.37, 11), (0.61, -3), (3.3, 0), (0.2, 1)]:
        wrong = right * factor + shift
        wrong = round(wrong) if isinstance(right, int) else wrong
        assert all(not math.isclose(wrong, value, rel_tol=1e-3) for value in slips)
        problem = E.diagnose(key, wrong)
        assert problem.kind == "value" and exercise.options["method"] in problem.message, problem
        assert not DIRECTION.search(problem.message), f"{key}: a direction in {problem.message!r}"
        assert not any(hint in problem.message for hint in hints)
        messages.add(problem.message)
    assert len(messages) == 1          # above or below the answer, near or far: the same words


@pytest.mark.parametrize("key", SLIP_KEYS)
def test_every_registered_slip_gets_its_own_hint(key):
    exercise = E.get(key)
    seen = set()
    for slip in exercise.options["slips"]:
        assert not DIRECTION.search(slip.hint), f"{key}: a direction in {slip.hint!r}"
        answer = _slip_value(key, slip) if exercise.kind == "number" else slip.answer
        problem = E.diagnose(key, answer)
        assert problem is not None and problem.kind == "value", (key, slip.hint, problem)
        assert problem.message.endswith(slip.hint), (key, slip.hint, problem.message)
        if exercise.kind == "number":
            for form in _number_forms(reference(key)):
                assert not re.search(rf"(?<![\d.,_]){re.escape(form)}(?![\d])",
                                     slip.hint), (key, form)
        seen.add(slip.hint)
    assert len(seen) == len(exercise.options["slips"])
    if exercise.kind == "number":
        assert exercise.options["method"] not in seen


def test_the_commonest_slips_are_named():
    assert "bias" in E.diagnose("01.c3_params", 1500).message
    assert "not fully connected" in E.diagnose("01.c3_params", 6 * 16 * 25 + 16).message
    assert E.diagnose("01.c3_params", 2000).message == E.diagnose("01.c3_params", 1000).message
    assert E.diagnose("01.c3_params", "1516").kind == "type"
    assert "biased variance" in E.diagnose("05.batch_norm", batch_norm_unbiased).message
    prepended = E.diagnose("07.option_a_shortcut",
                           lambda x, out, stride: F.pad(x[:, :, ::stride, ::stride],
                                                        (0, 0, 0, 0, out - x.shape[1], 0)))
    assert "after the old ones (appended)" in prepended.message
    assert "none before" in E.diagnose("07.option_a_shortcut", shortcut_padded_both_sides).message
    assert "groups" in E.diagnose("09.count_macs", macs_ignoring_groups).message


def test_slips_need_their_own_hints_and_numbers_a_method():
    from cnnlit.exercises.core import add_exercise

    with pytest.raises(ValueError, match="method"):
        add_exercise("09.no_method", 1, "?", "number", lambda: 1)
    with pytest.raises(ValueError, match="its own hint"):
        add_exercise("09.same_hints", 1, "?", "number", lambda: 1, method="count",
                     slips=[Slip(2, "a hint"), Slip(3, "a hint")])


def test_unknown_keys_list_the_valid_ones():
    with pytest.raises(KeyError) as error:
        E.check("01.c3_maks", None)
    message = str(error.value)
    assert "Did you mean '01.c3_mask'" in message and all(key in message for key in KEYS)
    assert isinstance(error.value, ValueError)
    with pytest.raises(ValueError, match="Valid keys: 00"):
        E.diagnose("lenet", 1)


def test_every_architecture_chapter_has_two_implementations_and_an_experiment():
    for chapter in (1, 2, 3, 4, 5, 6, 7):      # LeNet-5 ... ResNet, and 05 (normalisation)
        tiers = [entry.tier for entry in E.catalogue(chapter)]
        assert tiers.count(2) >= 2 and tiers.count(3) >= 1 and tiers.count(1) >= 1, (chapter, tiers)
        assert tiers == sorted(tiers)                       # ★ first, then ★★, then ★★★
    rows = E.catalogue()
    assert [r.key for r in rows] == KEYS and all(
        r.statement and r.stars == "★" * r.tier for r in rows
    )
    text = E.markdown(4)
    assert all(f'check("{r.key}", answer)' in text for r in E.catalogue(4)) and "05." not in text


def test_chapters_0_and_7_have_every_tier_in_order():
    for chapter in (0, 7):
        tiers = [entry.tier for entry in E.catalogue(chapter)]
        assert set(tiers) == {1, 2, 3} and tiers == sorted(tiers), (chapter, tiers)


def test_checking_leaves_the_random_state_alone():
    from cnnlit.layers import BasicBlock

    torch.manual_seed(123)
    state = torch.random.get_rng_state()
    E.diagnose("02.inverted_dropout", F.dropout)
    E.diagnose("07.basic_block", BasicBlock)
    assert torch.equal(torch.random.get_rng_state(), state)


def test_gradients_are_checked():
    def detached(x, weight, bias=None, stride=1, padding=0):
        return F.conv2d(x.detach(), weight.detach(), bias.detach(), stride, padding)

    def wrong_backward(x, weight, bias=None, stride=1, padding=0):
        out = F.conv2d(x, weight, bias, stride, padding)
        # same values, extra gradient on weight
        return out + (out.detach() - out) * 0 + (x.sum() - x.sum().detach()) * 0 + \
            (weight * 0.5).sum() - (weight * 0.5).sum().detach()
    assert E.diagnose("00.conv2d_unfold", detached).kind == "gradient"
    assert E.diagnose("00.conv2d_unfold", wrong_backward).kind == "gradient"


def test_errors_in_the_answer_are_reported_not_raised():
    def broken(*args, **kwargs):
        raise RuntimeError("not written yet")
    problem = E.diagnose("05.batch_norm", broken)
    assert problem.kind == "error" and "not written yet" in problem.message
    assert E.diagnose("07.preact_block", 42).kind == "type"
    assert E.diagnose("07.preact_block", lambda channels: nn.Identity()).kind == "parameters"


# ----------------------------------------------------------------------------- the references are
# right: PyTorch's versions, and formulas written out here, pass the same checks as the package's
def test_pytorch_and_written_out_versions_pass_the_function_checks():
    def conv2d_by_unfold(x, weight, bias=None, stride=1, padding=0):
        n, _, height, width = x.shape
        out_channels, _, kernel, _ = weight.shape
        out = weight.reshape(out_channels, -1) @ F.unfold(x, kernel, padding=padding, stride=stride)
        out = out + bias[:, None] if bias is not None else out
        sides = [(side + 2 * padding - kernel) // stride + 1 for side in (height, width)]
        return out.reshape(n, out_channels, *sides)

    def lrn_by_loop(a, n, alpha, beta, k):
        energy = torch.stack([(a[:, max(0, i - n // 2):i + (n - 1) // 2 + 1] ** 2).sum(1)
                              for i in range(a.shape[1])], 1)
        return a / (k + alpha * energy) ** beta

    def unbiased_free_batch_norm(x, g, b, eps=1e-5):
        mean = x.mean(dim=(0, 2, 3), keepdim=True)
        variance = ((x - mean) ** 2).mean(dim=(0, 2, 3), keepdim=True)
        return g[None, :, None,
                 None] * (x - mean) / torch.sqrt(variance + eps) + b[None, :, None, None]

    def inception_macs_by_formula(cin, columns, side):
        n1, r3, n3, r5, n5, proj = columns
        macs = cin * n1 + (cin * r3 + r3 * 9 * n3 if r3 else cin * 9 * n3)
        macs += (cin * r5 + r5 * 25 * n5 if r5 else cin * 25 * n5) + (cin * proj if proj else 0)
        return side * side * macs

    accepted_answers = {
        "00.conv2d_unfold": conv2d_by_unfold,
        "01.subsampling": lambda x, c, b: F.avg_pool2d(x,
                                                       2) * 4 * c[:, None, None] + b[:, None, None],
        "01.rbf": lambda x, codes: ((x[:, None] - codes[None]) ** 2).sum(-1),
        "02.lrn": lrn_by_loop,
        "02.towers": lambda x, w, b, padding: F.conv2d(x, w, b, padding=padding, groups=2),
        "05.batch_norm": unbiased_free_batch_norm,
        "07.option_a_shortcut": lambda x, out, stride: torch.cat(
            [x[:, :, ::stride, ::stride], x.new_zeros(x.shape[0], out - x.shape[1],
                                                      *x[:, :, ::stride, ::stride].shape[2:])], 1),
        "06.inception_macs": inception_macs_by_formula,
    }
    for key, answer in accepted_answers.items():
        assert E.diagnose(key, answer) is None, key


def test_package_modules_pass_the_module_checks():
    from cnnlit.layers import BasicBlock, Bottleneck, Inception

    assert E.diagnose("06.inception_module", Inception) is None
    assert E.diagnose("07.basic_block", BasicBlock) is None                 # option B by default
    # stride on the 1x1, as the paper
    assert E.diagnose("07.bottleneck", Bottleneck) is None
    assert E.diagnose("07.bottleneck",
                      lambda i, c, s: Bottleneck(i, c, s, stride_on="3x3")).kind == "value"
    assert E.diagnose("07.basic_block",
                      lambda i, o, s: BasicBlock(i, o, s, shortcut="A")).kind == "parameters"
    block = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 8, 3, padding=1),
                          nn.ReLU(),
                          nn.MaxPool2d(2, 2))
    assert E.diagnose("04.vgg_block", lambda i, o, n: block) is None


def test_inception_macs_reference_matches_table_1():
    from cnnlit.models.googlenet import COLUMNS

    macs = reference("06.inception_macs")
    # Table 1: 73M
    assert macs(480, COLUMNS["inception4a"], 14) == pytest.approx(73e6, rel=0.01)
    # Table 1: 128M
    assert macs(192, COLUMNS["inception3a"], 28) == pytest.approx(128e6, rel=0.01)


def test_number_references_equal_the_papers():
    assert reference("00.params_fc_224") == 224 * 224 * 3 * 1000 + 1000
    assert reference("00.params_conv_224") == 64 * (3 * 3 * 3 + 1)
    assert reference("01.c3_params") == 1516                                 # LeCun et al., II-B
    assert reference("01.c3_connections") == 151_600                         # LeCun et al., II-B
    assert reference("01.c3_mask").sum() == 60 and reference("01.c3_mask")[:, 15].all()
    from cnnlit.models.lenet import C3_TABLE
    # 0/1 lists too
    assert E.diagnose("01.c3_mask", [[int(v) for v in row] for row in C3_TABLE]) is None
    # conv2, conv4, conv5's halves
    towers_save = 256 * 48 * 5 * 5 + 384 * 192 * 3 * 3 + 256 * 192 * 3 * 3
    assert reference("02.params_one_tower") - two_tower_parameters() == towers_save
    assert reference("04.params_c_vs_d") == 8 * (256 ** 2 + 2 * 512 ** 2)
    assert reference("06.inception_params") == (
        64 * 192 + 96 * 192 + 128 * 96 * 9 + 16 * 192 + 32 * 16 * 25 + 32 * 192 + 368
    )
    assert reference("06.naive_3a_channels") == 64 + 128 + 32 + 192
    assert reference("07.bottleneck_params") == 1024 * 256 + 9 * 256 * 256 + 256 * 1024
    assert reference("07.option_b_extra_params") == 16 * 32 + 2 * 32 + 32 * 64 + 2 * 64
    # Fig. 3: 110
    assert reference("00.output_size") == 15 and reference("03.conv1_output") == 110
    assert reference("00.receptive_field") == 10 and reference("04.receptive_field_3x3_stack") == 7
    assert reference("04.receptive_field_a") == 150        # VGG-11's last pooling (chapter 04)
    assert reference("05.staged_he")(64) == 0.5 * 9 * 64 * 0.01       # (1/2) n Var[w], n = 9 * 64


def test_flat_spectrum_share_agrees_with_a_discrete_spectrum():
    side = 400                                   # frequencies on a fine grid over [-1/2, 1/2)^2
    f = torch.arange(side) / side - 0.5
    radius = torch.sqrt(f[:, None] ** 2 + f[None, :] ** 2)
    share = float((radius > 1 / 8).double().mean())
    assert share == pytest.approx(reference("03.flat_spectrum_aliasing"), abs=2e-3)


def test_designs_are_checked_against_their_constraints():
    from cnnlit.exercises.bank import BNInception, PreActBlock

    shallow = nn.Sequential(nn.Conv2d(3, 8, 3), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                            nn.Linear(8, 10))
    assert E.diagnose("07.deep_budget", shallow).kind == "design"
    assert E.diagnose("07.deep_budget", lambda: nn.Linear(3, 10)).kind == "error"
    assert E.diagnose("04.vgg_budget", lambda: nn.Sequential(nn.Flatten(),
                                                             nn.Linear(784, 5))).kind == "shape"
    preact = PreActBlock(4)
    x = torch.randn(2, 4, 5, 5)
    with torch.no_grad():
        for conv in (preact.conv1, preact.conv2):
            conv.weight.zero_()
    assert torch.equal(preact(x), x)             # the shortcut path is a pure identity
    assert copy.deepcopy(BNInception(16, 8, 6, 10, 3, 5,
                                     4))(torch.randn(2, 16, 6, 6)).shape == (2, 27, 6, 6)


def test_chapter_7_references_equal_the_papers():
    # Simonyan and Zisserman, Table 2
    vgg19 = 143_667_240
    first, second, third = 25088 * 4096 + 4096, 4096 * 4096 + 4096, 4096 * 1000 + 1000
    assert reference("09.fc_share") == pytest.approx((first + second + third) / vgg19)
    # He et al., Table 1 and Sec. 3.3
    assert reference("09.macs_ratio") == pytest.approx(19.6 / 3.8, rel=0.02)
    assert E.diagnose("09.fc_share",
                      100 * reference("09.fc_share")).message.endswith("not a percentage")
    from cnnlit.analysis import summary, totals
    assert E.diagnose("09.count_macs",
                      lambda model, shape: totals(summary(model, shape))["macs"]) is None


def test_no_optimiser_step_and_no_solutions_module_in_the_exercises():
    import pathlib

    import cnnlit.exercises as package
    folder = pathlib.Path(package.__file__).parent
    assert not (folder / "solutions.py").exists()
    for path in folder.glob("*.py"):
        code = [
            line
            for line in path.read_text().splitlines()
            if not line.lstrip().startswith(("#", '"'))
        ]
        assert not any(re.search(r"\w+\.step\(\)",
                                 line) and "Problem(" not in line for line in code), path


@pytest.mark.parametrize("kind", ["function", "module", "design"])
def test_a_stub_that_still_raises_not_implemented_is_not_an_attempt(kind):
    """The answer cells hand students a stub that raises NotImplementedError: checking it says the
    stub is still there (kind ``stub``), which the grader counts as not attempted, never failed."""
    from cnnlit.exercises.checking import diagnose
    from cnnlit.exercises.core import EXERCISES, STUB

    def stub(*args, **kwargs):
        raise NotImplementedError

    keys = [key for key, exercise in EXERCISES.items() if exercise.kind == kind]
    assert keys, kind
    for key in keys:
        problem = diagnose(key, stub)
        assert problem is not None and problem.kind == STUB, (key, problem)
        assert "stub" in problem.message and "NotImplementedError" in problem.message

    def broken(*args, **kwargs):
        raise ZeroDivisionError("division by zero")

    assert diagnose(keys[0], broken).kind in ("error", "design", "type")
