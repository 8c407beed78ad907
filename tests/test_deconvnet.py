"""The deconvnet (Zeiler & Fergus 2014, Section 2.1) against hand-made cases and an autograd
formulation.
"""
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from cnnlit import deconvnet
from cnnlit.layers import LocalResponseNorm


def small_network(seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Conv2d(3, 6, 5, stride=2, padding=1), nn.ReLU(inplace=True),
        nn.MaxPool2d(3, 2, ceil_mode=True), LocalResponseNorm(size=5, alpha=1e-4, beta=0.75, k=2.0),
        nn.Conv2d(6, 8, 3, padding=1), nn.ReLU(inplace=True),
        nn.MaxPool2d(2, 2),
    )


# ----------------------------------------------------------------------------- unpooling

def test_unpool_puts_values_at_switch_positions():
    x = torch.tensor([[[[1., 5., 0., 2.],
                        [3., 0., 7., 1.],
                        [0., 4., 0., 0.],
                        [9., 1., 2., 8.]]]])
    pooled, switches = F.max_pool2d(x, 2, 2, return_indices=True)
    assert pooled.flatten().tolist() == [5., 7., 9., 8.]
    back = deconvnet.unpool(torch.tensor([[[[10., 20.], [30., 40.]]]]), switches, (4, 4))
    expected = torch.zeros(4, 4)
    expected[0, 1], expected[1, 2], expected[3, 0], expected[3, 3] = 10., 20., 30., 40.
    assert torch.equal(back[0, 0], expected)


def test_unpool_adds_values_of_overlapping_windows_sharing_a_switch():
    x = torch.zeros(1, 1, 5, 5)
    x[0, 0, 2, 2] = 1.0                        # the maximum of all four overlapping 3x3 windows
    _, switches = F.max_pool2d(x, 3, 2, return_indices=True)
    assert (switches == 12).all()
    back = deconvnet.unpool(torch.ones(1, 1, 2, 2), switches, (5, 5))
    assert back[0, 0, 2, 2] == 4.0 and back.sum() == 4.0


# ----------------------------------------------------------------------------- one layer

def test_one_layer_projection_is_the_transposed_convolution_of_the_rectified_map():
    torch.manual_seed(1)
    model = nn.Sequential(nn.Conv2d(3, 4, 5, stride=2, padding=2), nn.ReLU())
    images = torch.rand(2, 3, 17, 17)
    pixels = deconvnet.project(model, images, "1", channel=2)
    rectified = torch.zeros(2, 4, 9, 9)
    rectified[:, 2] = F.relu(model[0](images))[:, 2]
    expected = F.conv_transpose2d(rectified, model[0].weight, stride=2, padding=2)   # no bias
    assert pixels.shape == images.shape
    assert torch.allclose(pixels, expected, atol=1e-6)


def test_position_keeps_one_activation():
    torch.manual_seed(2)
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU())
    image = torch.rand(1, 8, 8)
    maps = F.relu(model[0](image[None]))
    row, col = divmod(int(maps[0, 1].argmax()), 6)
    strongest = deconvnet.project(model, image, "1", 1, position="max")
    at = deconvnet.project(model, image, "1", 1, position=(row, col))
    assert strongest.shape == image.shape and torch.allclose(strongest, at)
    # one activation through a 3x3 filter reaches exactly its 3x3 receptive field
    support = strongest.abs().sum(0) > 0
    assert support.sum() <= 9 and not support[:row].any() and not support[row + 3:].any()
    assert deconvnet.receptive_box(model, "1", (row, col), (8, 8)) == (row, col, row + 3, col + 3)


# ----------------------------------------------------------------------------- against autograd

class DeconvReLU(torch.autograd.Function):
    """ReLU forward; backward passes only the positive part of the signal coming back (the deconvnet
    rule), whatever the forward activation was."""

    @staticmethod
    def forward(ctx, x):
        return F.relu(x)

    @staticmethod
    def backward(ctx, grad):
        return F.relu(grad)


def autograd_projection(model, images, stop, channel):
    """Independent formulation: the gradient of <chosen map, layer output> with respect to the
    input, with every ReLU's backward replaced by the deconvnet's rectification."""
    x = images.clone().requires_grad_(True)
    h = x
    for index, module in enumerate(model):
        if isinstance(module, nn.ReLU):
            h = DeconvReLU.apply(h)
        elif isinstance(module, LocalResponseNorm):
            h = h + (module(h) - h).detach()         # normalised going up, passed over coming back
        else:
            h = module(h)
        if index == stop:
            break
    chosen = torch.zeros_like(h)
    chosen[:, channel] = h[:, channel].detach()
    (h * chosen).sum().backward()
    return x.grad


@pytest.mark.parametrize("stop,channel", [(1, 3), (2, 0), (5, 7), (6, 4)])
def test_projection_agrees_with_autograd_with_the_deconvnet_relu_rule(stop, channel):
    model = small_network()
    images = torch.rand(3, 3, 30, 30)
    ours = deconvnet.project(model, images, str(stop), channel)
    reference = autograd_projection(model, images, stop, channel)
    assert ours.abs().sum() > 0
    assert torch.allclose(ours, reference, atol=1e-5)


def test_in_place_relus_and_batches_do_not_leak_between_images():
    model = small_network()
    images = torch.rand(4, 3, 30, 30)
    together = deconvnet.project(model, images, "6", 5)
    alone = torch.stack([deconvnet.project(model, image, "6", 5) for image in images])
    assert torch.allclose(together, alone, atol=1e-6)


# ----------------------------------------------------------------------------- top activations

def test_top_activations_finds_the_strongest_images_and_their_patches():
    model = small_network()
    data = torch.rand(20, 3, 30, 30)
    # brighter images excite positive filters more
    data[7] *= 3.0
    best = deconvnet.top_activations(model, data, "5", channel=1, k=4)
    maps = (
        F.relu(model[4](model[3](model[2](F.relu(model[0](data))))))[:, 1].flatten(1).max(1).values
    )
    assert torch.equal(best.indices, maps.topk(4).indices)
    assert torch.allclose(best.activations, maps.topk(4).values)
    assert best.images.shape == (4, 3, 30, 30) and best.projections.shape == (4, 3, 30, 30)
    size = best.boxes[0][2] - best.boxes[0][0]
    assert best.patches.shape == (4, 3, size, size) == best.projection_patches.shape
    # the projection of the strongest activation stays inside its receptive field
    for projection, (top, left, bottom, right) in zip(best.projections, best.boxes):
        outside = projection.clone()
        outside[:, max(top, 0):bottom, max(left, 0):right] = 0
        assert outside.abs().sum() == 0


def test_crop_pads_boxes_that_reach_past_the_border():
    image = torch.arange(16.).reshape(1, 4, 4)
    patch = deconvnet.crop(image, (-1, -1, 2, 2))
    assert patch.shape == (1, 3, 3)
    assert patch[0, 0].tolist() == [0, 0, 0] and patch[0, 1:,
                                                       1:].flatten().tolist() == [0., 1., 4., 5.]


# ----------------------------------------------------------------------------- other networks and
# errors

def test_works_on_torchvision_alexnet_and_vgg_layers():
    import torchvision

    torch.manual_seed(0)
    # torchvision's VGG-A layers under torchvision's names, without its big fc layers
    vgg_a = nn.Sequential()
    vgg_a.features = torchvision.models.vgg.make_layers(torchvision.models.vgg.cfgs["A"])
    for model, layer in [(torchvision.models.alexnet(), "features.12"), (vgg_a, "features.5")]:
        valid = deconvnet.projectable_layers(model)
        assert layer in valid and not any(name.startswith("classifier") for name in valid)
        image = torch.rand(1, 3, 64, 64)
        channel = int(deconvnet.feature_maps(model, image, layer)[0].flatten(1).amax(1).argmax())
        pixels = deconvnet.project(model, image, layer, channel, position="max")
        assert pixels.shape == image.shape and pixels.abs().sum() > 0


def test_unknown_layer_lists_the_valid_layers():
    model = small_network()
    with pytest.raises(ValueError,
                       match=r"no layer of that name.*Valid layers: 0, 1, 2, 3, 4, 5, 6"):
        deconvnet.project(model, torch.rand(1, 3, 30, 30), "conv9", 0)


def test_layers_the_deconvnet_cannot_invert_are_refused():
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.Flatten(), nn.Linear(8, 2), nn.ReLU())
    with pytest.raises(ValueError, match="it is a Linear.*Valid layers: 0, 1$"):
        deconvnet.project(model, torch.rand(1, 1, 4, 4), "3", 0)
    with pytest.raises(ValueError, match="comes after a layer the deconvnet cannot invert"):
        deconvnet.project(model, torch.rand(1, 1, 4, 4), "4", 0)


def test_missing_channel_gives_the_channel_range():
    model = small_network()
    with pytest.raises(ValueError, match=r"channel 8 does not exist in layer '4'.*8 channels, "
                                         r"numbered 0 to 7"):
        deconvnet.project(model, torch.rand(1, 3, 30, 30), "4", 8)
    with pytest.raises(ValueError, match="channel -1 does not exist"):
        deconvnet.top_activations(model, torch.rand(5, 3, 30, 30), "4", -1)
    with pytest.raises(ValueError, match="position must be None"):
        deconvnet.project(model, torch.rand(1, 3, 30, 30), "4", 0, position="min")


def test_skip_connections_are_refused():
    class Residual(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1, self.conv2 = nn.Conv2d(2, 2, 3, padding=1), nn.Conv2d(2, 2, 3, padding=1)

        def forward(self, x):
            return self.conv2(self.conv1(x) + x)

    with pytest.raises(ValueError, match="plain chain"):
        deconvnet.project(Residual(), torch.rand(1, 2, 6, 6), "conv2", 0)
