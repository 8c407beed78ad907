"""The six papers' networks, one file each, and the registry that names them.

    from cnnlit.models import get_model, available_models
    get_model("vgg16", variant="torchvision")
"""
from .alexnet import alexnet
from .googlenet import googlenet
from .lenet import lenet5, lenet5_modern
from .registry import InputShapeError, available_models, expect_input, get_model, register
from .resnet import resnet, resnet_cifar
from .vgg import vgg
from .zfnet import zfnet

__all__ = ["InputShapeError", "alexnet", "available_models", "expect_input", "get_model", "googlenet",
           "lenet5", "lenet5_modern", "register", "resnet", "resnet_cifar", "vgg", "zfnet"]
