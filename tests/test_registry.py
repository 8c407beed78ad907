"""Every registered network: built by name, and a wrong input gets an error that names the model,
what it expects and what it received (never a bare shape mismatch from deep inside)."""
import gc
import re

import pytest
import torch

from cnnlit.models import InputShapeError, available_models, get_model

NAMES = available_models()


def build(name):
    try:
        return get_model(name)
    except TypeError as error:            # a family entry that needs an argument ("vgg" needs a config)
        pytest.skip(f"{name} needs arguments: {error}")


def test_the_six_papers_are_registered():
    for name in ("lenet5", "lenet5_modern", "alexnet", "zfnet", "vgg11", "vgg13", "vgg16", "vgg19",
                 "googlenet", "resnet18", "resnet34", "resnet50", "resnet101", "resnet152"):
        assert name in NAMES


def test_unknown_model_lists_the_valid_ones():
    with pytest.raises(ValueError, match=r"unknown model 'lenet6'; available models: .*lenet5.*resnet50"):
        get_model("lenet6")


@pytest.mark.parametrize("name", NAMES)
def test_wrong_channels_and_tiny_inputs_are_explained(name):
    model = build(name).eval()
    expected = getattr(model, "expected_input", None)
    assert expected, f"{name} has no input check (cnnlit.models.expect_input)"
    channels = int(re.match(r"\(N, (\d+)", expected).group(1))
    with torch.no_grad():
        with pytest.raises(InputShapeError) as wrong_channels:
            model(torch.zeros(1, channels + 1, 64, 64))
        message = str(wrong_channels.value)
        assert re.match(r"\S.* expects ", message), f"the message should start with the model's name: {message}"
        assert expected in message and f"(1, {channels + 1}, 64, 64)" in message
        with pytest.raises(InputShapeError, match=re.escape("(1, %d, 2, 2)" % channels)):
            model(torch.zeros(1, channels, 2, 2))
        with pytest.raises(InputShapeError, match="4-d batch"):
            model(torch.zeros(channels, 64, 64))
    del model
    gc.collect()
