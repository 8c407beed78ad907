"""The six papers' networks, one module each, and the registry that names them.

>>> from cnnlit.models import available_models, get_model
>>> model = get_model("resnet18", variant="torchvision")  # torchvision's names: its weights load
>>> "vgg16" in available_models() and "googlenet_small" in available_models()
True

Each paper's module holds its tables and builders: ``cnnlit.models.vgg.TABLE_1``,
``cnnlit.models.vgg.vgg``. Importing this package registers every network.
"""
from . import alexnet, googlenet, lenet, resnet, vgg, zfnet
from .registry import (
    InputShapeError,
    available_models,
    expect_input,
    get_builder,
    get_model,
    register,
)

__all__ = ["InputShapeError", "alexnet", "available_models", "expect_input", "get_builder",
           "get_model",
           "googlenet", "lenet", "register", "resnet", "vgg", "zfnet"]
