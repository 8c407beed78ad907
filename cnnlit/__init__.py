"""cnnlit: the companion package of the cnnlit textbook on the classic convolutional networks.

    import cnnlit
    cnnlit.about()                      # device, profile, versions
    p = cnnlit.profile()                # sizes for this machine (smoke / cpu / full)
    train = cnnlit.data.load("mnist", "train", subset=p.train_size)
    model = cnnlit.models.get_model("lenet5")
    history = cnnlit.train.fit(model, train, epochs=p.epochs)

Submodules are imported on first use (``cnnlit.data``, ``cnnlit.train``...), so ``import cnnlit`` is cheap.
"""
import importlib

from .profiles import PROFILES, Profile, profile
from .runtime import device, seed_everything

__version__ = "0.1.0"
SUBMODULES = ("analysis", "augment", "checkpoints", "data", "deconvnet", "explore", "layers", "models",
              "occlusion", "paper", "recipes", "scale", "train", "viz", "widgets")
__all__ = ["about", "device", "profile", "Profile", "PROFILES", "seed_everything", *SUBMODULES]


def __getattr__(name: str):
    if name in SUBMODULES:
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'cnnlit' has no attribute {name!r}")


def about() -> None:
    """Print one line on where this notebook runs: device, profile, versions."""
    import platform

    import torch

    line = (f"cnnlit {__version__} | torch {torch.__version__} | device: {device()} | {profile()} | "
            f"python {platform.python_version()}")
    print(line)
