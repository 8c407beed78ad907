"""ZF Net (Zeiler & Fergus 2013, Fig. 3), its small chapter version, occlusion maps and the filter
inspector.
"""
import matplotlib
import pytest
import torch
from torch import nn

matplotlib.use("Agg")

from cnnlit import analysis, deconvnet, occlusion  # noqa: E402
from cnnlit.layers import LocalResponseNorm  # noqa: E402
from cnnlit.models import InputShapeError, get_model  # noqa: E402
from cnnlit.models.zfnet import zfnet, zfnet_small  # noqa: E402


@pytest.fixture(scope="module")
def table():
    return analysis.summary(zfnet(), (1, 3, 224, 224)).set_index("layer")


def test_fig3_feature_map_sizes(table):
    shapes = table["output_shape"]
    assert shapes["features.0"] == (1, 96, 110, 110)      # 7x7 stride 2: 110x110 before pooling
    # "96 different 55 by 55 element feature maps"
    assert shapes["features.2"] == (1, 96, 55, 55)
    assert shapes["features.4"] == (1, 256, 26, 26)       # 5x5 stride 2
    assert shapes["features.6"] == (1, 256, 13, 13)
    assert shapes["features.8"] == (1, 384, 13, 13)
    assert shapes["features.10"] == (1, 384, 13, 13)
    assert shapes["features.12"] == (1, 256, 13, 13)
    assert shapes["features.14"] == (1, 256, 6, 6)
    assert shapes["classifier.0"] == (1, 6 * 6 * 256) == (1, 9216)
    assert shapes["classifier.2"] == (1, 4096) and shapes["classifier.5"] == (1, 4096)
    assert shapes["classifier.7"] == (1, 1000)


def test_fig3_layers(table):
    model = zfnet()
    convs = [m for m in model.features if isinstance(m, nn.Conv2d)]
    assert [(c.out_channels, c.kernel_size, c.stride, c.groups) for c in convs] == [
        (96, (7, 7), (2, 2), 1), (256, (5, 5), (2, 2), 1), (384, (3, 3), (1, 1), 1),
        # dense, not AlexNet's 2 groups
        (384, (3, 3), (1, 1), 1), (256, (3, 3), (1, 1), 1)]
    # after layers 1 and 2
    assert sum(isinstance(m, LocalResponseNorm) for m in model.features) == 2
    assert sum(isinstance(m, nn.Dropout) and m.p == 0.5 for m in model.classifier) == 2
    # parameters from the layer sizes: conv weights + biases, then the three fc layers
    conv = (
        (96 * 3 * 49 + 96)
        + (256 * 96 * 25 + 256)
        + (384 * 256 * 9 + 384)
        + (384 * 384 * 9 + 384)
        + (256 * 384 * 9 + 256)
    )
    fc = (9216 * 4096 + 4096) + (4096 * 4096 + 4096) + (4096 * 1000 + 1000)
    assert analysis.count_parameters(model) == conv + fc == int(table["params"].sum())


def test_registry_and_forward():
    model = get_model("zfnet", num_classes=7).eval()
    assert model(torch.rand(2, 3, 224, 224)).shape == (2, 7)


def test_wrong_input_is_named():
    model = zfnet()
    with pytest.raises(InputShapeError, match=r"zfnet expects \(N, 3, 224, 224\), got \(1, 1, 224, "
                                              r"224\)"):
        model(torch.rand(1, 1, 224, 224))
    with pytest.raises(InputShapeError, match=r"got \(1, 3, 64, 64\)"):
        model(torch.rand(1, 3, 64, 64))


@pytest.mark.parametrize("kernel,stride,size", [(7, 2, 64), (11, 4, 64), (7, 2, 32), (11, 4, 32)])
def test_zfnet_small_sizes(kernel, stride, size):
    model = zfnet_small(1, 10, image_size=size, first_kernel=kernel, first_stride=stride).eval()
    first = model.features[0]
    assert (first.kernel_size, first.stride) == ((kernel, kernel), (stride, stride))
    assert model(torch.rand(2, 1, size, size)).shape == (2, 10)
    with pytest.raises(InputShapeError, match="zfnet_small"):
        model(torch.rand(2, 3, size, size))


# ----------------------------------------------------------------------------- occlusion (Fig. 7)

class Spot(nn.Module):
    """Class 1 when the centre pixel is bright, else class 0: only occluding the centre matters."""

    def forward(self, x):
        centre = x[:, 0, 4, 4]
        return torch.stack([torch.zeros_like(centre), 20 * (centre - 0.6)], 1)


def test_occlusion_drops_the_true_class_probability_only_over_the_evidence():
    image = torch.zeros(1, 9, 9)
    image[0, 4, 4] = 1.0
    result = occlusion.occlusion_sensitivity(Spot(), image, 1, size=3, stride=1, fill=0.5)
    assert result.probability.shape == (9, 9) == result.predicted.shape
    covered = torch.zeros(9, 9, dtype=torch.bool)
    covered[3:6, 3:6] = True                     # square centres within 1 pixel of the centre
    assert torch.allclose(result.probability[covered],
                          torch.sigmoid(torch.tensor(20 * (0.5 - 0.6))))
    assert torch.allclose(result.probability[~covered], torch.sigmoid(torch.tensor(20 * 0.4)))
    assert (result.predicted[covered] == 0).all() and (result.predicted[~covered] == 1).all()
    assert result.unoccluded == pytest.approx(float(torch.sigmoid(torch.tensor(8.0))))


def test_occlusion_checks_its_arguments():
    with pytest.raises(ValueError, match="class 5"):
        occlusion.occlusion_sensitivity(Spot(), torch.zeros(1, 9, 9), 5, size=3)
    with pytest.raises(ValueError, match="size"):
        occlusion.occlusion_sensitivity(Spot(), torch.zeros(1, 9, 9), 1, size=0)


# ----------------------------------------------------------------------------- the filter inspector

def test_filter_inspector_draws_and_clamps():
    from cnnlit.chapters.zfnet import FilterInspector

    torch.manual_seed(0)
    model = zfnet_small(1, 10, image_size=32).eval()
    images = torch.rand(6, 1, 32, 32)
    inspector = FilterInspector({"ZF-style": model}, images)
    assert inspector.layers("ZF-style") == ["features.1", "features.5", "features.9", "features.11",
                                            "features.13"]
    figure = inspector.plot("ZF-style", layer=1, filter=3, image=0)
    assert len(figure.axes) >= 4
    # out-of-range filter, image and layer are clamped; an unknown model falls back to the first
    figure = inspector.plot("nope", layer=99, filter=10_000, image=-5)
    assert "layer 5" in figure.texts[0].get_text() and "filter 63" in figure.texts[0].get_text()
    gallery = inspector.gallery("ZF-style", filters=1, k=4)
    assert len(gallery.axes) == 5 * 2                 # five layers, projections and patches


def test_strongest_filters_and_likeness():
    from cnnlit.chapters.zfnet import FilterInspector, likeness, strongest_filters

    torch.manual_seed(0)
    model = zfnet_small(1, 10, image_size=32).eval()
    images = torch.rand(8, 1, 32, 32)
    chosen = strongest_filters(model, images, "features.1", count=3)
    peaks = deconvnet.feature_maps(model, images, "features.1").amax((0, 2, 3))
    assert chosen == peaks.topk(3).indices.tolist()
    # likeness: 1 for copies (any scale and offset), -1 for a sign flip, about 0 for noise
    pattern = torch.randn(1, 1, 6, 6)
    assert likeness(torch.cat([pattern, 3 * pattern + 1])) == pytest.approx(1.0)
    assert likeness(torch.cat([pattern, -pattern])) == pytest.approx(-1.0)
    assert abs(likeness(torch.randn(200, 1, 6, 6))) < 0.02
    with pytest.raises(ValueError, match="at least two"):
        likeness(pattern)
    inspector = FilterInspector({"ZF-style": model}, images, k=4)
    numbers = inspector.gallery_numbers("ZF-style", filters=2)
    assert list(numbers["layer"]) == [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]
    sides = numbers.groupby("layer")["patch side"].first().tolist()
    assert sides == sorted(sides) and sides[0] == 7          # the receptive fields grow with depth


def test_filter_inspector_lays_out_the_search_it_is_given():
    from cnnlit.chapters.zfnet import FilterInspector

    torch.manual_seed(0)
    model = zfnet_small(1, 10, image_size=32).eval()
    images = torch.rand(6, 1, 32, 32)
    asked = []

    def search(network, pool, layer, channel, k=9):       # the notebook's own top-k search
        asked.append((layer, channel, k))
        return deconvnet.top_activations(network, pool, layer, channel, k=k)

    inspector = FilterInspector({"ZF-style": model}, images, k=3, search=search)
    numbers = inspector.gallery_numbers("ZF-style", filters=1)
    assert len(asked) == 5 and all(k == 3 for _, _, k in asked)     # one search per layer
    assert [layer for layer, _, _ in asked] == inspector.layers("ZF-style")
    assert list(numbers["layer"]) == [1, 2, 3, 4, 5]
    inspector.gallery("ZF-style", filters=1)                         # reuses what was found
    assert len(asked) == 5


# --------------------------------------------------------------------------- the chapter's figures

def test_unpooling_figure_puts_each_maximum_back_at_its_switch():
    import matplotlib.pyplot as plt

    from cnnlit.chapters.zfnet import UNPOOLING_EXAMPLE, plot_unpooling

    figure = plot_unpooling()
    shown, pooled, unpooled = figure.axes
    assert [a.get_xlabel() for a in figure.axes] == ["column"] * 3
    assert all(a.get_title() for a in figure.axes) and figure._suptitle.get_text()

    def numbers(axis):                       # the values written in the cells, not the switches
        return [t.get_text() for t in axis.texts if not t.get_text().startswith("sw")]

    assert numbers(shown) == [f"{v:g}" for v in UNPOOLING_EXAMPLE.flatten().tolist()]
    # each 2x2 window's maximum of the example, in reading order, and where it was
    assert numbers(pooled) == ["4", "5", "7", "6"]
    assert [t.get_text() for t in pooled.texts if t.get_text().startswith("sw")] == [
        "switch (1, 0)", "switch (1, 3)", "switch (3, 1)", "switch (2, 2)"]
    expected = torch.zeros(4, 4)
    expected[1, 0], expected[1, 3], expected[3, 1], expected[2, 2] = 4, 5, 7, 6
    assert numbers(unpooled) == [f"{v:g}" for v in expected.flatten().tolist()]
    assert unpooled.images[0].get_array().shape == (4, 4)
    plt.close(figure)
    with pytest.raises(ValueError, match="divide by 2"):
        plot_unpooling(torch.ones(3, 4))


@pytest.mark.parametrize("frequency, stride, alias", [(0.2, 4, 0.05), (0.1, 4, 0.1),
                                                      (0.3, 4, 0.05), (0.4, 2, 0.1),
                                                      (0.125, 4, 0.125)])
def test_alias_frequency_folds_into_the_nyquist_band(frequency, stride, alias):
    from cnnlit.chapters.zfnet import alias_frequency

    assert alias_frequency(frequency, stride) == pytest.approx(alias)
    assert 0 <= alias_frequency(frequency, stride) <= 1 / (2 * stride)
    # the samples of both sinusoids are the same numbers: the grid cannot tell them apart
    grid = torch.arange(0, 64, stride, dtype=torch.float64)
    assert torch.allclose(torch.cos(2 * torch.pi * frequency * grid),
                          torch.cos(2 * torch.pi * alias * grid), atol=1e-9)


def test_aliasing_figure_draws_the_signal_its_samples_and_the_alias():
    import matplotlib.pyplot as plt

    from cnnlit.chapters.zfnet import plot_aliasing

    figure = plot_aliasing(0.2, stride=4, length=48)
    axis = figure.axes[0]
    signal, alias, samples = axis.lines
    assert len(samples.get_xdata()) == 48 // 4 + 1
    assert list(samples.get_xdata()[:3]) == [0, 4, 8]
    assert "0.05" in alias.get_label() and "0.2" in signal.get_label()
    assert "Nyquist" in axis.get_title() and "0.125" in axis.get_title()
    assert axis.get_xlabel() == "position (pixels)" and axis.get_ylabel() == "value"
    plt.close(figure)


def test_filter_spectrum_is_the_fft_magnitude_with_both_nyquist_circles():
    import matplotlib.pyplot as plt

    from cnnlit.chapters.zfnet import plot_filter_spectrum, spectrum

    impulse = torch.zeros(3, 11, 11)
    impulse[:, 5, 5] = 1.0                 # an impulse: a flat spectrum, sqrt(3) with 3 channels
    magnitude, frequencies = spectrum(impulse, n=32)
    assert magnitude.shape == (32, 32) and torch.allclose(magnitude, torch.full((32, 32), 3 ** .5))
    assert frequencies[0] == -0.5 and frequencies[16] == 0       # centred, cycles/pixel
    with pytest.raises(ValueError, match="one filter"):
        spectrum(torch.ones(2, 3, 7, 7))
    figure = plot_filter_spectrum(torch.randn(1, 11, 11), strides=(4, 2), title="filter 0")
    weights, spectrum_axis = figure.axes[:2]
    assert spectrum_axis.images[0].get_array().shape == (64, 64)
    circles = spectrum_axis.lines
    radii = [float(max(line.get_xdata())) for line in circles]
    assert radii == pytest.approx([1 / 8, 1 / 4], abs=1e-4)
    assert [line.get_label() for line in circles] == ["stride 4: Nyquist 0.125 c/px",
                                                      "stride 2: Nyquist 0.25 c/px"]
    assert spectrum_axis.get_xlabel() == "horizontal frequency (cycles/pixel)"
    assert spectrum_axis.get_ylabel() == "vertical frequency (cycles/pixel)"
    assert weights.get_title().startswith("filter 0") and weights.get_xlabel() == "column"
    plt.close(figure)
