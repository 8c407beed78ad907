"""Chapter 2 (AlexNet): the paper's network, torchvision's, LRN, dropout, augmentation and the
widgets.
"""
import matplotlib

matplotlib.use("Agg")

import math  # noqa: E402

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
import torchvision  # noqa: E402
from torch import nn  # noqa: E402

from cnnlit import augment  # noqa: E402
from cnnlit.analysis import summary, totals  # noqa: E402
from cnnlit.chapters import alexnet as chapter  # noqa: E402
from cnnlit.layers import ClassicDropout, LocalResponseNorm  # noqa: E402
from cnnlit.models import InputShapeError, get_model  # noqa: E402
from cnnlit.models.alexnet import alexnet  # noqa: E402


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


# --------------------------------------------------------------------------- the paper's network

# (kernels x fan-in + biases), fan-in halved where the layer stays in its tower
PAPER_PARAMETERS = {
    "features.conv1": 96 * 11 * 11 * 3 + 96,
    "features.conv2": 256 * 5 * 5 * 48 + 256,
    "features.conv3": 384 * 3 * 3 * 256 + 384,
    "features.conv4": 384 * 3 * 3 * 192 + 384,
    "features.conv5": 256 * 3 * 3 * 192 + 256,
    "classifier.fc6": 4096 * 9216 + 4096,
    "classifier.fc7": 4096 * 4096 + 4096,
    "classifier.fc8": 1000 * 4096 + 1000,
}


@pytest.fixture(scope="module")
def paper_summary():
    return summary(alexnet(), (1, 3, 227, 227))


def test_paper_variant_parameters_per_layer_and_total(paper_summary):
    counted = paper_summary[paper_summary.params > 0].set_index("layer").params.to_dict()
    assert counted == PAPER_PARAMETERS
    assert totals(paper_summary)["params"] == 60_965_224
    assert abs(60_965_224 / 60e6 - 1) < 0.02        # the paper's "60 million parameters"


def test_paper_variant_neurons_match_section_3_5(paper_summary):
    # Section 3.5 lists 253,440-186,624-64,896-64,896-43,264-4096-4096-1000 neurons. Layers 2-8
    # agree; the first number is not 55 * 55 * 96 = 290,400 (a known slip in the paper).
    convs = paper_summary[paper_summary.type.isin(["Conv2d", "Linear"])]
    neurons = [int(torch.Size(shape[1:]).numel()) for shape in convs.output_shape]
    assert neurons == [290_400, 186_624, 64_896, 64_896, 43_264, 4096, 4096, 1000]


def test_paper_variant_towers():
    model = alexnet()
    groups = {name: m.groups for name, m in model.named_modules() if isinstance(m, nn.Conv2d)}
    assert groups == {"features.conv1": 1, "features.conv2": 2, "features.conv3": 1,
                      "features.conv4": 2, "features.conv5": 2}
    lrn = [m for m in model.modules() if isinstance(m, LocalResponseNorm)]
    assert [(m.size, m.alpha, m.beta, m.k) for m in lrn] == [(5, 1e-4, 0.75, 2.0)] * 2
    pools = [m for m in model.modules() if isinstance(m, nn.MaxPool2d)]
    assert [(m.kernel_size, m.stride) for m in pools] == [(3, 2)] * 3
    assert [m.p for m in model.modules() if isinstance(m, ClassicDropout)] == [0.5, 0.5]


def test_paper_variant_rejects_224_with_a_clear_message():
    model = alexnet()
    with pytest.raises(InputShapeError, match=r"alexnet \(paper\) expects \(N, 3, 227, 227\), got "
                                              r"\(1, 3, 224, 224\)"):
        model(torch.zeros(1, 3, 224, 224))
    with pytest.raises(InputShapeError, match=r"got \(2, 1, 227, 227\)"):
        model(torch.zeros(2, 1, 227, 227))


def test_grouped_convolution_is_two_towers():
    torch.manual_seed(0)
    grouped = nn.Conv2d(96, 256, 5, padding=2, groups=2)
    x = torch.randn(1, 96, 13, 13)
    towers = []
    for half in range(2):
        tower = nn.Conv2d(48, 128, 5, padding=2)
        tower.weight.data = grouped.weight[128 * half:128 * (half + 1)].detach().clone()
        tower.bias.data = grouped.bias[128 * half:128 * (half + 1)].detach().clone()
        towers.append(tower(x[:, 48 * half:48 * (half + 1)]))
    assert torch.allclose(grouped(x), torch.cat(towers, 1), atol=1e-5)


# --------------------------------------------------------------------------- torchvision's network

def test_torchvision_variant_loads_state_dict_and_gives_identical_outputs():
    torch.manual_seed(0)
    reference = torchvision.models.alexnet(weights=None).eval()
    ours = alexnet(variant="torchvision").eval()
    assert list(ours.state_dict()) == list(reference.state_dict())
    ours.load_state_dict(reference.state_dict())
    x = torch.randn(2, 3, 224, 224)
    with torch.no_grad():
        assert torch.equal(ours(x), reference(x))
    assert sum(p.numel() for p in ours.parameters()) == 61_100_840


def test_torchvision_variant_minimum_size():
    model = alexnet(variant="torchvision", num_classes=10).eval()
    with torch.no_grad():
        assert model(torch.zeros(1, 3, 63, 63)).shape == (1, 10)
    with pytest.raises(InputShapeError, match=r"alexnet \(torchvision\) expects .*>= 63, got \(1, "
                                              r"3, 62, 62\)"):
        model(torch.zeros(1, 3, 62, 62))


def test_unknown_variant_lists_choices():
    with pytest.raises(ValueError, match="'paper' or 'torchvision'"):
        alexnet(variant="caffe")


def test_alexnet_small_switches_keep_shapes():
    base = dict(in_channels=1, image_size=28)
    overlapping = get_model("alexnet_small", **base)
    plain = get_model("alexnet_small", pooling="non-overlapping", **base)
    assert sum(p.numel() for p in overlapping.parameters()) == sum(
        p.numel() for p in plain.parameters()
    )
    assert overlapping(torch.zeros(2, 1, 28,
                                   28)).shape == plain(torch.zeros(2, 1, 28, 28)).shape == (2, 10)
    four = get_model("alexnet_small", hidden=0, lrn=False, dropout=0, activation="tanh", **base)
    weighted = [m for m in four.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    assert len(weighted) == 4 and not any(isinstance(m, (LocalResponseNorm,
                                                         ClassicDropout)) for m in four.modules())
    assert any(isinstance(m, nn.Tanh) for m in four.modules())
    with pytest.raises(InputShapeError, match=r"alexnet_small expects \(N, 1, 28, 28\), got \(1, "
                                              r"3, 32, 32\)"):
        overlapping(torch.zeros(1, 3, 32, 32))
    with pytest.raises(ValueError, match="activation must be one of"):
        get_model("alexnet_small", activation="sigmoid")


# --------------------------------------------------------------------------- LRN

def lrn_by_formula(a, n, alpha, beta, k):
    """The paper's formula, one channel at a time (odd n)."""
    out = torch.empty_like(a)
    channels = a.shape[1]
    for i in range(channels):
        low, high = max(0, i - n // 2), min(channels - 1, i + n // 2)
        out[:, i] = a[:, i] / (k + alpha * a[:, low:high + 1].pow(2).sum(1)) ** beta
    return out


@pytest.mark.parametrize("n, alpha, beta, k", [(5, 1e-4, 0.75, 2.0), (3, 0.01, 0.5, 1.0),
                                               (1, 1.0, 1.0, 0.5)])
def test_lrn_equals_formula_and_torch(n, alpha, beta, k):
    a = torch.rand(2, 12, 4, 4, dtype=torch.float64) * 50
    layer = LocalResponseNorm(n, alpha, beta, k)
    assert torch.allclose(layer(a), lrn_by_formula(a, n, alpha, beta, k), rtol=1e-12)
    assert torch.allclose(layer(a), nn.LocalResponseNorm(n, alpha * n, beta, k)(a), rtol=1e-10)
    assert torch.allclose(layer(a), layer.to_torch()(a), rtol=1e-10)
    # without converting alpha the layers differ
    assert not torch.allclose(layer(a), nn.LocalResponseNorm(n, alpha, beta, k)(a),
                              rtol=1e-6) or n == 1


def test_lrn_even_size_agrees_with_torch():
    a = torch.rand(1, 7, 3, 3, dtype=torch.float64) * 10
    assert torch.allclose(LocalResponseNorm(4, 1e-2, 0.75, 2)(a),
                          nn.LocalResponseNorm(4, 4e-2, 0.75, 2)(a))


@pytest.mark.parametrize("n", [2, 5, 6])
def test_lrn_in_channels_last_and_its_gradient_match_torch(n):
    """The channel sum is a band-matrix product: the same values and gradients in either memory
    layout.
    """
    a = (torch.rand(3, 9, 5, 4, dtype=torch.float64) * 20).requires_grad_()
    ours, theirs = LocalResponseNorm(n, 1e-2, 0.75, 2), nn.LocalResponseNorm(n, 1e-2 * n, 0.75, 2)
    last = a.detach().contiguous(memory_format=torch.channels_last).requires_grad_()
    out = ours(last)
    assert torch.allclose(out, theirs(a), rtol=1e-10)
    (grad_ours,) = torch.autograd.grad(out.sum(), last)
    (grad_torch,) = torch.autograd.grad(theirs(a).sum(), a)
    assert torch.allclose(grad_ours, grad_torch, rtol=1e-10)


def test_lrn_silent_neighbours_divide_by_k_to_the_beta():
    a = torch.zeros(1, 5, 1, 1)
    a[0, 2] = 1e-3
    assert torch.isclose(LocalResponseNorm()(a)[0, 2, 0, 0], torch.tensor(1e-3 / 2 ** 0.75),
                         rtol=1e-5)


def test_lrn_refuses_bad_arguments():
    with pytest.raises(ValueError, match="positive int"):
        LocalResponseNorm(0)
    with pytest.raises(ValueError, match="divisor is 0"):
        LocalResponseNorm(5, alpha=0, k=0)
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        LocalResponseNorm()(torch.zeros(3, 4))


# --------------------------------------------------------------------------- dropout

@pytest.mark.parametrize("p", [0.5, 0.2])
def test_classic_and_inverted_dropout_expectations(p):
    torch.manual_seed(0)
    a = torch.rand(1000) + 0.5
    classic, inverted = ClassicDropout(p), nn.Dropout(p)
    classic_train = torch.stack([classic.train()(a) for _ in range(4000)]).mean(0)
    inverted_train = torch.stack([inverted.train()(a) for _ in range(4000)]).mean(0)
    # the 2012 layer: test output = (1 - p) a = its expected training output
    assert torch.equal(classic.eval()(a), a * (1 - p))
    # 4,000 passes: a unit's mean is within about 2% (one standard error) of its expectation
    assert torch.allclose(classic_train, (1 - p) * a, rtol=0.1)
    assert abs(float((classic_train / a).mean()) - (1 - p)) < 0.005
    # inverted: test output = a = its expected training output
    assert torch.equal(inverted.eval()(a), a)
    assert torch.allclose(inverted_train, a, rtol=0.1)
    assert abs(float((inverted_train / a).mean()) - 1) < 0.005
    # the two differ by the constant factor 1 - p in both modes
    assert abs(float((classic_train / inverted_train).mean()) - (1 - p)) < 0.01


def test_classic_dropout_drops_about_p_and_refuses_p_one():
    torch.manual_seed(0)
    out = ClassicDropout(0.5).train()(torch.ones(100_000))
    assert abs(float((out == 0).float().mean()) - 0.5) < 0.01
    # kept units are not rescaled in training
    assert set(out.unique().tolist()) == {0.0, 1.0}
    with pytest.raises(ValueError, match=r"in \[0, 1\)"):
        ClassicDropout(1.0)


# --------------------------------------------------------------------------- augmentation

def test_photo_and_crops():
    photo = augment.sample_photo("chelsea")
    assert photo.shape == (3, 300, 451) and 0 <= float(photo.min()) and float(photo.max()) <= 1
    square = augment.rescale_and_center_crop(photo, 256)
    assert square.shape == (3, 256, 256)
    generator = torch.Generator().manual_seed(0)
    crop = augment.random_crop(square, 224, generator)
    assert crop.shape == (3, 224, 224)
    assert torch.equal(augment.horizontal_flip(crop)[..., 0], crop[..., -1])
    # the crop is a sub-window of the square
    windows = square.unfold(1, 224, 1).unfold(2, 224, 1)            # (3, 33, 33, 224, 224)
    hits = (windows == crop[:, None, None]).flatten(3).all(-1).all(0)
    assert hits.any()
    with pytest.raises(ValueError, match="unknown photo 'dog'; bundled photos: astronaut"):
        augment.sample_photo("dog")
    with pytest.raises(ValueError, match="larger than the image"):
        augment.random_crop(square, 300)


def test_pca_colour_augmentation():
    photo = augment.rescale_and_center_crop(augment.sample_photo("coffee"), 64)
    values, vectors = augment.pca_colour_basis(photo)
    covariance = torch.cov(photo.reshape(3, -1).double()).float()
    assert values[0] >= values[1] >= values[2] >= 0
    assert torch.allclose(covariance @ vectors, vectors * values, atol=1e-5)     # eigenpairs
    assert torch.allclose(vectors.T @ vectors, torch.eye(3), atol=1e-5)
    generator = torch.Generator().manual_seed(0)
    shifted = augment.pca_colour(photo, values, vectors, std=0.1, generator=generator, clamp=False)
    shift = (shifted - photo).reshape(3, -1)
    assert torch.allclose(shift, shift[:, :1].expand_as(shift), atol=1e-6)     # one shift per image
    # back to a_i ~ N(0, 0.1)
    alphas = vectors.T @ shift[:, 0] / values
    assert float(alphas.abs().max()) < 0.5
    many = augment.pca_colour_shift(values, vectors, count=20000, std=0.1, generator=generator)
    along = many @ vectors                                                      # a_i * lambda_i
    assert torch.allclose(along.std(0), 0.1 * values, rtol=0.05)


# --------------------------------------------------------------------------- widgets

def test_dropout_explorer_shows_mean_and_spread_of_the_next_input():
    classic = chapter.dropout_explorer(p=0.5, mode="train", kind="classic", samples=4000)
    values = classic.dropout_values
    mean, spread = values["formula"]
    assert "dropped" in classic.axes[0].get_title() and "0 of" not in classic.axes[0].get_title()
    # test output = expected training output
    assert math.isclose(values["eval"], mean, rel_tol=1e-5)
    assert abs(values["mean"] - mean) < 4 * spread / 4000 ** 0.5      # the measured mean agrees
    # and the spread: sqrt(p(1-p) sum (wa)^2)
    assert math.isclose(values["std"], spread, rel_tol=0.1)
    inverted = chapter.dropout_explorer(p=0.5, mode="train", kind="inverted",
                                        samples=4000).dropout_values
    # 1 vs (1 - p) at test time
    assert math.isclose(inverted["eval"], 2 * values["eval"], rel_tol=1e-5)
    assert math.isclose(inverted["std"] / inverted["mean"], values["std"] / values["mean"],
                        rel_tol=0.15)
    evaluating = chapter.dropout_explorer(p=0.5, mode="eval").dropout_values
    assert evaluating["std"] == 0 and evaluating["mean"] == pytest.approx(values["eval"])
    none = chapter.dropout_explorer(p=0.0).dropout_values
    assert none["std"] == 0 and none["formula"][1] == 0
    # the spread grows with p (inverted) and peaks at p = 0.5 (classic)
    assert chapter.dropout_moments(0.9, "inverted", torch.ones(4), torch.ones(4))[1] > \
        chapter.dropout_moments(0.5, "inverted", torch.ones(4), torch.ones(4))[1]
    assert chapter.dropout_moments(0.5, "classic", torch.ones(4),
                                   torch.ones(4))[1] == pytest.approx(1.0)


def test_dropout_explorer_clamps_and_refuses():
    clamped = chapter.dropout_explorer(p=3.0, mode="eval", kind="inverted")
    assert "p clamped from 3" in clamped._suptitle.get_text()
    assert clamped.dropout_values["p"] == chapter.MAX_P
    refused = chapter.dropout_explorer(kind="gaussian")
    assert "kind must be one of" in refused.axes[0].texts[0].get_text()


def test_lrn_explorer_values_and_clamping():
    figure = chapter.lrn_explorer()
    assert "k = 2, n = 5, alpha = 0.0001, beta = 0.75" in figure._suptitle.get_text()
    clamped = chapter.lrn_explorer(k=-1, n=40, alpha=0, beta=9)
    title = clamped._suptitle.get_text()
    for note in ("k clamped from -1", "n clamped from 40", "beta clamped from 9",
                 "k raised to 0.01"):
        assert note in title
    # the divisor curve never drops below k^beta
    axis = next(axis for axis in figure.axes if axis.get_title() == "the divisor at that pixel")
    divisor = axis.lines[0].get_ydata()
    assert min(divisor) >= 2 ** 0.75 - 1e-6
