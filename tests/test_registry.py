"""Every registered network: built by name from its own defaults, and a wrong input gets an error
that names the model, what it expects and what it received (never a bare shape mismatch from deep
inside)."""
import gc
import inspect
import re

import pytest
import torch

from cnnlit.models import InputShapeError, available_models, get_builder, get_model

NAMES = available_models()
# The networks the chapters train on small images, registered as <paper>_small (one convention),
# with the arguments a chapter gives them.
SMALL = {"alexnet_small": dict(image_size=28), "zfnet_small": dict(image_size=32),
         "googlenet_small": {}}


def test_every_name_builds_from_its_own_defaults():
    """A registered name needs no argument (a family that needs one, say a depth, is registered per
    value).
    """
    for name in NAMES:
        required = [p.name for p in inspect.signature(get_builder(name)).parameters.values()
                    if p.default is p.empty and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
        assert not required, f"{name} cannot be built without {required}"


def test_every_name_is_a_def_of_that_name_in_its_models_module():
    """As in torchvision, a reader finds ``def resnet18`` in cnnlit/models/resnet.py: no builder is
    a ``partial`` or a lambda registered in a loop."""
    for name in NAMES:
        builder = get_builder(name)
        assert inspect.isfunction(builder), f"{name} is built by {builder!r}"
        assert builder.__name__ == name, f"{name} is built by {builder.__name__}"
        module = inspect.getmodule(builder)
        assert module.__name__.startswith("cnnlit.models.") and getattr(module, name) is builder
        assert re.search(rf"^def {name}\(", inspect.getsource(module), re.MULTILINE), name


def test_small_networks_follow_one_convention():
    for name, sizes in SMALL.items():
        model = get_model(name, in_channels=1, num_classes=7, **sizes).eval()
        side = sizes.get("image_size", 28)
        assert model(torch.zeros(2, 1, side, side)).shape == (2, 7), name
    assert not [name for name in NAMES if name.startswith("small")], (
        "small networks are named <paper>_small"
    )


def test_the_six_papers_are_registered():
    for name in ("lenet5", "lenet5_modern", "alexnet", "zfnet", "vgg11", "vgg13", "vgg16", "vgg19",
                 "googlenet", "resnet18", "resnet34", "resnet50", "resnet101", "resnet152"):
        assert name in NAMES


def test_unknown_model_lists_the_valid_ones():
    with pytest.raises(ValueError, match=r"unknown model 'lenet6'; available models: "
                                         r".*lenet5.*resnet50"):
        get_model("lenet6")


@pytest.mark.parametrize("name", NAMES)
def test_wrong_channels_and_tiny_inputs_are_explained(name):
    model = get_model(name).eval()
    expected = getattr(model, "expected_input", None)
    assert expected, f"{name} has no input check (cnnlit.models.expect_input)"
    channels = int(re.match(r"\(N, (\d+)", expected).group(1))
    with torch.no_grad():
        with pytest.raises(InputShapeError) as wrong_channels:
            model(torch.zeros(1, channels + 1, 64, 64))
        message = str(wrong_channels.value)
        assert re.match(r"\S.* expects ", message), (f"the message should start with the model's "
                                                     f"name: {message}")
        assert expected in message and f"(1, {channels + 1}, 64, 64)" in message
        with pytest.raises(InputShapeError, match=re.escape("(1, %d, 2, 2)" % channels)):
            model(torch.zeros(1, channels, 2, 2))
        with pytest.raises(InputShapeError, match="4-d batch"):
            model(torch.zeros(channels, 64, 64))
    del model
    gc.collect()
