"""GoogLeNet (Szegedy et al. 2015): the Inception module, Table 1's numbers, the auxiliary
classifiers and their loss, equality with torchvision's googlenet, and the chapter's figures."""
import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
import torchvision  # noqa: E402
from torch import nn  # noqa: E402

from cnnlit.analysis import summary  # noqa: E402
from cnnlit.chapters import googlenet as chapter  # noqa: E402
from cnnlit.data import TensorData  # noqa: E402
from cnnlit.layers import Inception, LocalResponseNorm  # noqa: E402
from cnnlit.models import InputShapeError, get_model  # noqa: E402
from cnnlit.models.googlenet import COLUMNS, TABLE_1, GoogLeNet, InceptionOutputs, auxiliary_loss  # noqa: E402
from cnnlit.train import (  # noqa: E402
    fit,
    main_output,  # noqa: E402
    model_loss,
)

INCEPTIONS = ("3a", "3b", "4a", "4b", "4c", "4d", "4e", "5a", "5b")


def weights_only(module):
    """Table 1 counts weights, not biases."""
    return sum(p.numel() for p in module.parameters() if p.ndim > 1)


@pytest.fixture(scope="module")
def paper():
    torch.manual_seed(0)
    return get_model("googlenet").eval()


@pytest.fixture(scope="module")
def paper_table(paper):
    frame = summary(paper, (1, 3, 224, 224))
    frame["module"] = frame.layer.str.split(".").str[0]
    return frame


# --------------------------------------------------------------------------- the Inception module

def test_inception_3a_is_built_from_table_1_columns():
    module = Inception(192, 64, 96, 128, 16, 32, 32)
    assert module.out_channels == 64 + 128 + 32 + 32 == 256
    # a real 5x5 in the paper's module
    assert module.branch3[1].conv.kernel_size == (5, 5)
    assert module.branch4[0].kernel_size == 3 and module.branch4[0].stride == 1
    # 192·64 + 192·96 + 9·96·128 + 192·16 + 25·16·32 + 192·32 weights: Table 1 prints 159K (K =
    # 1024)
    assert weights_only(module) == 163_328
    assert sum(p.numel() for p in module.parameters()) == 163_328 + 64 + 96 + 128 + 16 + 32 + 32
    assert module.depth == 2


def test_inception_output_is_the_concatenation_of_its_branches():
    torch.manual_seed(0)
    module = Inception(32, 8, 4, 16, 2, 4, 4)
    x = torch.randn(2, 32, 9, 9)
    branches = module.branches(x)
    assert [b.shape[1] for b in branches] == [8, 16, 4, 4] == list(module.branch_channels)
    assert all(b.shape[-2:] == (9, 9) for b in branches)           # every branch keeps the map size
    assert torch.equal(module(x), torch.cat(branches, dim=1))


def test_naive_module_without_reductions_costs_what_section_4_says():
    naive = Inception(192, 64, None, 128, None, 32, None)           # Figure 2(a)
    reduced = Inception(192, 64, 96, 128, 16, 32, 32)              # Figure 2(b)
    assert naive.out_channels == 64 + 128 + 32 + 192               # the pooled input passes through
    assert naive.depth == 1
    naive_macs = int(summary(naive, (1, 192, 28, 28)).macs.sum())
    reduced_macs = int(summary(reduced, (1, 192, 28, 28)).macs.sum())
    assert naive_macs == 28 * 28 * (192 * 64 + 9 * 192 * 128 + 25 * 192 * 32) == 303_464_448
    assert reduced_macs == 28 * 28 * 163_328 == 128_049_152        # Table 1: 128M


def test_inception_is_one_summary_row_whose_cost_is_the_sum_of_its_branches():
    module = Inception(48, 16, 24, 32, 4, 8, 8)
    row = summary(module, (1, 48, 14, 14))
    assert len(row) == 1 and row.output_shape[0] == (1, 64, 14, 14)
    assert row.receptive_field[0] == 5                              # the widest branch: 5x5
    branches = [summary(b, (1, 48, 14, 14)) for b in (module.branch1, module.branch2,
                                                      module.branch3,
                                                       module.branch4)]
    for column in ("params", "macs", "connections"):
        assert int(row[column].sum()) == sum(int(b[column].sum()) for b in branches), column


def test_inception_refuses_an_even_wide_kernel():
    with pytest.raises(ValueError, match="odd"):
        Inception(8, 4, 4, 4, 4, 4, 4, wide_kernel=4)


# --------------------------------------------------------------------------- Table 1

def test_table_1_as_stored():
    assert len(TABLE_1) == 19 and list(COLUMNS) == [f"inception{k}" for k in INCEPTIONS]
    assert COLUMNS["inception5b"] == (384, 192, 384, 48, 128, 128)
    # "about 6.8 million"
    assert round(sum(r.params_k for r in TABLE_1 if r.params_k), 1) == 6797.7
    assert sum(r.ops_m for r in TABLE_1 if r.ops_m) == 1502                      # "1.5 billion"
    assert sum(r.depth for r in TABLE_1) == 22


def test_paper_output_sizes_and_depths_match_table_1(paper, paper_table):
    for row in TABLE_1:
        if not row.modules:
            continue
        shape = paper_table[paper_table.module.isin(row.modules)].output_shape.iloc[-1]
        c, h, w = (shape[1], 1, 1) if len(shape) == 2 else shape[1:]
        assert f"{h}×{w}×{c}" == row.output, row
        depth = sum(getattr(getattr(paper, n), "depth", int(weights_only(getattr(paper, n)) > 0))
                    for n in row.modules)
        assert depth == row.depth, row


def test_paper_ops_and_params_match_table_1(paper, paper_table):
    for row in TABLE_1:
        # conv1's printed row is a misprint
        if row.ops_m is None or row.modules == ("conv1",):
            continue
        ops = paper_table[paper_table.module.isin(row.modules)].macs.sum() / 1e6
        params = sum(weights_only(getattr(paper, n)) for n in row.modules) / 1024
        # printed 54M/1072K: the row's own
        if row.name == "inception (5a)":
            # columns give 51M/1018K
            assert ops == pytest.approx(51.08, abs=0.01) and params == 1018
            continue
        assert abs(ops - row.ops_m) <= 1, row                      # within one printed unit (M)
        if row.name != "inception (4c)":                           # 4c's 463K contradicts its 100M
            assert params == pytest.approx(row.params_k, rel=0.02), row
    conv1 = paper_table[paper_table.module == "conv1"]
    assert int(conv1.macs.sum()) == 112 * 112 * 7 * 7 * 3 * 64 == 118_013_952


def test_paper_totals(paper, paper_table):
    # eval mode: no auxiliary classifiers
    assert int(paper_table.params.sum()) == 6_998_552
    assert sum(weights_only(getattr(paper, n)) for r in TABLE_1 for n in r.modules) == 6_990_272
    assert int(paper_table.macs.sum()) == pytest.approx(1.5e9, rel=0.06)
    assert int(paper_table.macs.sum()) - (118_013_952 - 34_000_000) == pytest.approx(
        1.5e9, rel=0.001
    )


# --------------------------------------------------------------------------- the paper's network

def test_paper_variant_has_no_batch_norm_real_5x5_and_lrn_where_figure_3_has_it(paper):
    assert not any(isinstance(m, nn.BatchNorm2d) for m in paper.modules())
    assert [n for n, m in paper.named_modules() if isinstance(m, LocalResponseNorm)] == [
        "lrn1",
        "lrn2",
    ]
    for key in INCEPTIONS:
        module = getattr(paper, f"inception{key}")
        assert module.columns == COLUMNS[f"inception{key}"]
        assert module.branch3[1].conv.kernel_size == (5, 5)
    assert paper.maxpool4.kernel_size == 3 and paper.dropout.p == 0.4
    assert isinstance(paper.avgpool, nn.AvgPool2d) and paper.avgpool.kernel_size == 7


def test_auxiliary_classifiers_follow_section_5(paper):
    for name, channels in (("aux1", 512), ("aux2", 528)):
        aux = getattr(paper, name)
        assert (aux.pool.kernel_size, aux.pool.stride) == (5, 3)
        assert aux.pool(torch.zeros(1, channels, 14, 14)).shape == (1, channels, 4, 4)
        assert aux.conv.conv.in_channels == channels and aux.conv.conv.out_channels == 128
        assert (aux.fc1.in_features, aux.fc1.out_features) == (4 * 4 * 128, 1024)
        assert aux.dropout.p == 0.7 and aux.fc2.out_features == 1000


def test_training_mode_returns_main_and_auxiliary_outputs(paper):
    paper.train()
    try:
        with torch.no_grad():
            outputs = paper(torch.randn(1, 3, 224, 224))
    finally:
        paper.eval()
    assert isinstance(outputs, InceptionOutputs)
    assert [tuple(o.shape) for o in outputs] == [(1, 1000)] * 3
    assert torch.equal(main_output(outputs), outputs.logits)      # what fit() reads for accuracy
    without = get_model("googlenet_small", in_channels=1, num_classes=10, aux_logits=False).train()
    assert torch.is_tensor(without(torch.zeros(2, 1, 16, 16)))


def test_auxiliary_loss_weights_the_auxiliary_losses_by_0_3():
    torch.manual_seed(0)
    main, aux1, aux2 = torch.randn(3, 4, 10).unbind(0)
    labels = torch.tensor([1, 2, 3, 4])
    expected = F.cross_entropy(main, labels) + 0.3 * (
        F.cross_entropy(aux1, labels) + F.cross_entropy(aux2, labels)
    )
    assert torch.allclose(auxiliary_loss(InceptionOutputs(main, aux1, aux2), labels), expected)
    assert torch.allclose(auxiliary_loss(InceptionOutputs(main, aux1, None), labels),
                          F.cross_entropy(main, labels) + 0.3 * F.cross_entropy(aux1, labels))
    # eval-mode logits
    assert torch.equal(auxiliary_loss(main, labels), F.cross_entropy(main, labels))


def test_fit_trains_the_small_network_with_its_own_auxiliary_loss():
    torch.manual_seed(0)
    images = torch.rand(64, 1, 16, 16)
    labels = (images.mean(dim=(1, 2, 3)) > images.mean()).long()
    data = TensorData(images, labels, ["dark", "bright"])
    model = get_model("googlenet_small", in_channels=1, num_classes=2)
    history = fit(model, data, epochs=2, optimizer=torch.optim.Adam(model.parameters(), 2e-3),
                  batch_size=32, val_data=data, progress=False, device="cpu")
    assert len(history) == 2 and all(torch.isfinite(torch.tensor(history.loss)))
    assert 0 <= history.val_accuracy[-1] <= 1 and not model.training


def test_the_trainer_uses_the_model_s_training_loss():
    """fit (and the command line) call a model's training_loss: for GoogLeNet, main + 0.3 x
    auxiliary, the same loss (and the same training run) as passing auxiliary_loss by hand."""
    torch.manual_seed(0)
    model = get_model("googlenet_small", in_channels=1, num_classes=3).train()
    outputs = model(torch.rand(5, 1, 16, 16))
    labels = torch.tensor([0, 1, 2, 0, 1])
    assert torch.equal(model_loss(model, outputs, labels, nn.CrossEntropyLoss()),
                       auxiliary_loss(outputs, labels))
    assert model_loss(model, outputs, labels,
                      nn.CrossEntropyLoss()) > F.cross_entropy(outputs.logits, labels)
    data = TensorData(torch.rand(48, 1, 16, 16), torch.arange(48) % 3, ["a", "b", "c"])
    runs = []
    for loss_fn in (None, auxiliary_loss):
        torch.manual_seed(1)
        net = get_model("googlenet_small", in_channels=1, num_classes=3)
        runs.append(fit(net, data, epochs=1, batch_size=16, loss_fn=loss_fn, progress=False,
                        device="cpu").loss)
    assert runs[0] == runs[1]
    # no training_loss: loss_fn alone
    plain = nn.Sequential(nn.Flatten(), nn.Linear(16 * 16, 3))
    scores = plain(torch.rand(5, 1, 16, 16))
    assert torch.equal(model_loss(plain, scores, labels, F.cross_entropy),
                       F.cross_entropy(scores, labels))


# --------------------------------------------------------------------------- torchvision

@pytest.mark.parametrize("aux_logits", [True, False])
def test_torchvision_variant_equals_torchvision(aux_logits):
    torch.manual_seed(0)
    reference = torchvision.models.googlenet(weights=None, init_weights=True, aux_logits=aux_logits)
    ours = get_model("googlenet", variant="torchvision", aux_logits=aux_logits)
    assert set(ours.state_dict()) == set(reference.state_dict())
    ours.load_state_dict(reference.state_dict())
    x = torch.randn(2, 3, 64, 64)
    reference.eval(), ours.eval()
    with torch.no_grad():
        assert torch.equal(ours(x), reference(x))
    reference.train(), ours.train()                               # batch statistics and dropout
    with torch.no_grad():
        torch.manual_seed(1)
        theirs = reference(x)
        torch.manual_seed(1)
        mine = ours(x)
    if aux_logits:
        assert torch.equal(mine.logits, theirs.logits)
        assert torch.equal(mine.aux1,
                           theirs.aux_logits1) and torch.equal(mine.aux2, theirs.aux_logits2)
    else:
        assert torch.equal(mine, theirs)


def test_torchvision_variant_with_transform_input():
    torch.manual_seed(0)
    reference = torchvision.models.googlenet(weights=None, init_weights=True, aux_logits=False,
                                             transform_input=True).eval()
    ours = get_model("googlenet", variant="torchvision", aux_logits=False,
                     transform_input=True).eval()
    ours.load_state_dict(reference.state_dict())
    x = torch.randn(2, 3, 96, 96)
    with torch.no_grad():
        assert torch.allclose(ours(x), reference(x), atol=1e-6)
    # torchvision's GoogLeNet_Weights meta
    assert sum(p.numel() for p in ours.parameters()) == 6_624_904


def test_torchvision_departures_are_there():
    model = get_model("googlenet", variant="torchvision")
    assert model.inception3a.branch3[1].conv.kernel_size == (3, 3)
    assert isinstance(model.inception3a.branch1.bn,
                      nn.BatchNorm2d) and model.conv1.conv.bias is None
    assert model.lrn1 is None and model.lrn2 is None
    assert model.maxpool4.kernel_size == 2 and model.dropout.p == 0.2
    assert isinstance(model.aux1.pool, nn.AdaptiveAvgPool2d)


# --------------------------------------------------------------------------- inputs and names

def test_wrong_inputs_get_clear_errors(paper):
    with pytest.raises(InputShapeError, match=r"googlenet \(paper\) expects \(N, 3, 224, 224\), "
                                              r"got \(1, 3, 32, 32\)"):
        paper(torch.zeros(1, 3, 32, 32))
    with pytest.raises(InputShapeError, match=r"got \(1, 1, 224, 224\)"):
        paper(torch.zeros(1, 1, 224, 224))
    with pytest.raises(InputShapeError, match=r"googlenet \(torchvision\) expects .* >= 15, got "
                                              r"\(1, 3, 14, 14\)"):
        get_model("googlenet", variant="torchvision")(torch.zeros(1, 3, 14, 14))
    small = get_model("googlenet_small", in_channels=1, num_classes=10).eval()
    with pytest.raises(InputShapeError, match=r"googlenet_small expects \(N, 1, H, W\) with H, W "
                                              r">= 8"):
        small(torch.zeros(1, 1, 7, 7))
    assert small(torch.zeros(1, 1, 8, 8)).shape == (1, 10)
    with pytest.raises(ValueError, match="choose one of paper, torchvision"):
        get_model("googlenet", variant="inception-v3")
    with pytest.raises(ValueError, match="use googlenet_small for 1-channel images"):
        get_model("googlenet", in_channels=1)
    with pytest.raises(ValueError, match=r"\(0, 1\]"):
        get_model("googlenet_small", width=2)


def test_registry_builds_the_paper_network_by_default():
    assert isinstance(get_model("googlenet"), GoogLeNet)


# --------------------------------------------------------------------------- figures

@pytest.fixture(scope="module")
def small_and_inputs():
    torch.manual_seed(0)
    small = get_model("googlenet_small", in_channels=3, num_classes=10)
    return small, chapter.module_inputs(small, torch.rand(1, 3, 32, 32))


def test_module_inputs_captures_every_inception_module(small_and_inputs):
    small, inputs = small_and_inputs
    assert list(inputs) == ["inception3a", "inception3b", "inception4a", "inception4b"]
    assert inputs["inception3a"].shape == (1, small.inception3a.in_channels, 16, 16)
    assert inputs["inception4a"].shape == (1, small.inception3b.out_channels, 8, 8)
    with pytest.raises(ValueError, match="one image"):
        chapter.module_inputs(small, torch.rand(2, 3, 32, 32))


def test_branch_figure_clamps_the_number_of_maps_and_names_valid_modules(small_and_inputs):
    small, inputs = small_and_inputs
    for maps, rows in ((3, 3), (0, 1), (100, chapter.MAX_MAPS)):
        figure = chapter.plot_module_branches(inputs, small, module="inception4a", maps=maps)
        assert len(figure.axes) == 4 * rows + 1
        concatenation = figure.axes[-1]
        assert len(concatenation.patches) == small.inception4a.out_channels   # one bar per channel
        plt.close(figure)
    with pytest.raises(ValueError, match="choose one of inception3a, inception3b, inception4a, "
                                         "inception4b"):
        chapter.plot_module_branches(inputs, small, module="inception5b")
    with pytest.raises(TypeError, match="Inception module"):
        chapter.plot_branches(nn.Conv2d(3, 3, 1), torch.zeros(1, 3, 4, 4))


def test_cost_figures():
    figure = chapter.plot_row_costs(["a", "b"], {"ops (M)": [1.0, 2.0]}, {"ops (M)": [1.0, None]})
    assert len(figure.axes) == 1 and len(figure.axes[0].patches) == 4
    plt.close(figure)
    figure = chapter.plot_reduction(["1×1", "5×5"], [10.0, 12.4], [10.0, 120.4])
    assert [round(p.get_height(), 1) for p in figure.axes[0].patches] == [10.0, 120.4, 10.0, 12.4]
    plt.close(figure)
    with pytest.raises(ValueError, match="same length"):
        chapter.plot_reduction(["a"], [1.0, 2.0], [1.0])


def test_auxiliary_classifier_figure_draws_the_line_and_the_two_heads():
    line = [r for r in TABLE_1 if r.depth or "pool" in r.name]
    names = [r.name.replace("inception ", "") for r in line]
    depths = [sum(r.depth for r in line[:i + 1]) for i in range(len(line))]
    assert depths[names.index("(4a)")] == 9 and depths[names.index("(4d)")] == 15
    assert depths[-1] == 22                                       # the paper's 22 layers
    figure = chapter.plot_auxiliary_classifiers(names, depths, {"(4a)": "aux1", "(4d)": "aux2"})
    axis = figure.axes[0]
    assert len(axis.patches) == len(names) + 2                    # one block per stage, two heads
    texts = [t.get_text() for t in axis.texts]
    assert "aux1" in texts and "aux2" in texts and texts.count("loss × 0.3") == 2
    assert "input → output" in axis.get_xlabel() and axis.get_ylabel() and axis.get_title()
    plt.close(figure)
    with pytest.raises(ValueError, match="not drawn"):
        chapter.plot_auxiliary_classifiers(["a"], [1], {"b": "head"})
    with pytest.raises(ValueError, match="same length"):
        chapter.plot_auxiliary_classifiers(["a", "b"], [1], {})
