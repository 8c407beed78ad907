"""cnnlit: the companion package of the cnnlit textbook on the classic convolutional networks.

>>> import cnnlit
>>> cnnlit.about()                      # device, profile, versions
>>> p = cnnlit.profile()                # sizes for this machine (smoke / cpu / full)
>>> digits = cnnlit.data.load("mnist", "train", subset=p.train_size)
>>> model = cnnlit.models.get_model("lenet5")   # LeNet-5 reads 32x32 images, the paper's scale:
>>> train = digits.map(cnnlit.models.lenet.paper_input)  # 28x28 digits padded, -0.1 to 1.175
>>> history = cnnlit.train.fit(model, train, epochs=p.epochs)

Submodules are imported on first use (``cnnlit.data``, ``cnnlit.train``...), so ``import cnnlit`` is
cheap:

- ``models`` (one module per paper and the registry), ``layers`` (the historical layers PyTorch
  lacks), ``train`` (``fit``, ``evaluate`` and ``python -m cnnlit.train``), ``data`` (datasets);
- ``analysis`` and ``costs`` (per-layer tables: shapes, parameters, connections, multiply-adds),
  ``deconvnet`` and ``occlusion`` (looking inside a network), ``augment`` (the papers' data
  augmentation);
- ``chapters`` (each chapter's own figures and tables), ``viz`` (shared figures), ``widgets``
  (controls), ``paper`` (ours-against-the-paper tables), ``alt_text`` (each figure's sentence
  for the site's alt text);
- ``profiles`` and ``runtime`` (run sizes, device, seeds, switches), ``checkpoints``, ``files``,
  ``module_tools`` (hooks, eval mode, shapes), ``imagenet`` (ImageNet's mean and spread).
"""
import importlib
import pkgutil

from . import threads as _threads

_threads.prefer_short_spin()         # GOMP_SPINCOUNT, which only works before torch loads

from . import alt_text as _alt_text  # noqa: E402
from .profiles import PROFILES, Profile, profile  # noqa: E402 - torch loads here, after the line above
from .runtime import device, seed_everything  # noqa: E402

_alt_text.install()                  # in a kernel: each figure carries its alt sentence

__version__ = "0.1.0"
SUBMODULES = tuple(sorted(module.name for module in pkgutil.iter_modules(__path__)
                          if not module.name.startswith("_")))
__all__ = ["about", "device", "profile", "Profile", "PROFILES", "seed_everything", *SUBMODULES]


def __getattr__(name: str):
    if name in SUBMODULES:
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'cnnlit' has no attribute {name!r}")


def about() -> None:
    """Print where this notebook runs: device (a GPU by name), profile, versions; then the CPU's
    thread settings and fast path; on Colab without a GPU, where to ask for one."""
    import platform
    import sys

    import torch

    from . import fastpath

    where = device()
    named = f"{where} ({torch.cuda.get_device_name(where)})" if where.type == "cuda" else f"{where}"
    line = (f"cnnlit {__version__} | torch {torch.__version__} | device: {named} | {profile()} | "
            f"python {platform.python_version()}")
    print(line)
    print(f"CPU: {_threads.thread_settings()}; {fastpath.fast_path_settings()}")
    if "google.colab" in sys.modules and not torch.cuda.is_available():
        print("Colab: no GPU in this runtime (Runtime > Change runtime type gives one, "
              "and the full profile)")
