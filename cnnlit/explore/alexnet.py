"""Chapter 2 (AlexNet) widgets: a dropout explorer and a local-response-normalisation explorer.

Both are plain plotting functions returning a matplotlib Figure; out-of-range values are clamped (and
the clamp is said in the figure's title), unknown choices are refused with a message drawn in the figure.
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import torch

from ..layers.dropout import ClassicDropout
from ..layers.normalization import LocalResponseNorm
from ..widgets import clamp

DROPOUT_KINDS = ("classic", "inverted")
MODES = ("train", "eval")
MAX_P = 0.95


def _message_figure(text: str):
    figure, axis = plt.subplots(figsize=(6, 1.2))
    axis.axis("off")
    axis.text(0.5, 0.5, text, ha="center", va="center", wrap=True)
    return figure


def dropout_layer(kind: str, p: float) -> torch.nn.Module:
    """The 2012 dropout (scale at test time) or PyTorch's inverted dropout (scale while training)."""
    return ClassicDropout(p) if kind == "classic" else torch.nn.Dropout(p)


def dropout_explorer(p: float = 0.5, mode: str = "train", kind: str = "classic", units: int = 64,
                     samples: int = 2000, seed: int = 0):
    """Left: one layer's activations, which units a dropout pass zeroes (in ``mode``) and what comes out.
    Right: for every unit, the mean training-mode output over ``samples`` passes against the eval-mode
    output: they lie on the diagonal for both kinds, so the expected output is preserved."""
    if kind not in DROPOUT_KINDS or mode not in MODES:
        return _message_figure(f"kind must be one of {DROPOUT_KINDS} and mode one of {MODES}; "
                               f"got kind={kind!r}, mode={mode!r}")
    notes = []
    if not 0.0 <= p <= MAX_P:
        notes.append(f"p clamped from {p:g}")
        p = clamp(float(p), 0.0, MAX_P)
    side = int(clamp(round(units ** 0.5), 2, 16))
    samples = int(clamp(samples, 10, 20000))
    generator = torch.Generator().manual_seed(seed)
    activations = torch.rand(side * side, generator=generator) * 2         # a hidden layer's ReLU outputs
    layer = dropout_layer(kind, p)

    torch.manual_seed(seed)
    layer.train(mode == "train")
    with torch.no_grad():
        once = layer(activations)
        layer.train(True)
        mean_train = torch.stack([layer(activations) for _ in range(samples)]).mean(0)
        layer.eval()
        test = layer(activations)

    figure, axes = plt.subplots(1, 3, figsize=(11, 3.4), gridspec_kw={"width_ratios": [1, 1, 1.3]})
    top = float(max(activations.max(), once.max()))
    axes[0].imshow(activations.reshape(side, side).numpy(), cmap="viridis", vmin=0, vmax=top)
    axes[0].set_title("activations a", fontsize=9)
    axes[1].imshow(once.reshape(side, side).numpy(), cmap="viridis", vmin=0, vmax=top)
    dropped = int((once == 0).sum()) if mode == "train" else 0
    axes[1].set_title(f"{kind} dropout, {mode} mode: {dropped} of {side * side} dropped", fontsize=9)
    for axis in axes[:2]:
        axis.set_xticks([])
        axis.set_yticks([])
    axes[2].scatter(test.numpy(), mean_train.numpy(), s=10)
    line = [0, float(max(test.max(), mean_train.max()))]
    axes[2].plot(line, line, "k--", lw=1, label="equal")
    axes[2].set_xlabel("eval-mode output")
    axes[2].set_ylabel(f"mean train-mode output ({samples} passes)")
    scale = "x (1 - p) at test time" if kind == "classic" else "x 1/(1 - p) while training"
    axes[2].set_title(f"expectation preserved ({scale})", fontsize=9)
    axes[2].legend(fontsize=8)
    title = f"dropout p = {p:g}"
    if notes:
        title += f"  ({'; '.join(notes)}, allowed 0 to {MAX_P})"
    figure.suptitle(title)
    figure.tight_layout()
    return figure


def lrn_activations(channels: int = 16, size: int = 48, seed: int = 0) -> torch.Tensor:
    """Made-up first-layer responses, (1, channels, size, size): a bundled photo's pixels on the paper's
    0-255 scale, convolved with random zero-mean 5 x 5 filters, then ReLU. Their magnitudes (tens to
    hundreds) are where alpha = 1e-4 matters, as in AlexNet's conv1."""
    from ..augment import sample_photo

    photo = sample_photo("chelsea").mean(0, keepdim=True)[None] * 255          # grey, 0-255
    photo = torch.nn.functional.interpolate(photo, size=(size + 4, size + 4), mode="area")
    generator = torch.Generator().manual_seed(seed)
    filters = torch.randn(channels, 1, 5, 5, generator=generator)
    filters = (filters - filters.mean((2, 3), keepdim=True)) / 2
    return torch.relu(torch.nn.functional.conv2d(photo, filters))


LRN_LIMITS = {"k": (0.0, 10.0), "n": (1, 15), "alpha": (0.0, 0.01), "beta": (0.0, 2.0)}


def lrn_explorer(k: float = 2.0, n: int = 5, alpha: float = 1e-4, beta: float = 0.75, channel: int = 4):
    """Feature maps before and after the paper's LRN, and the response across channels at the most
    active pixel. Defaults are the paper's (k = 2, n = 5, alpha = 1e-4, beta = 0.75)."""
    values, notes = {"k": k, "n": n, "alpha": alpha, "beta": beta}, []
    for name, (low, high) in LRN_LIMITS.items():
        if not low <= values[name] <= high:
            notes.append(f"{name} clamped from {values[name]:g}")
            values[name] = clamp(values[name], low, high)
    n = int(round(values["n"]))
    k, alpha, beta = values["k"], values["alpha"], values["beta"]
    if k == 0 and alpha == 0:
        notes.append("k raised to 0.01 (k = alpha = 0 divides by zero)")
        k = 0.01
    a = lrn_activations()
    layer = LocalResponseNorm(n, alpha, beta, k)
    b = layer(a)
    divisor = (k + alpha * layer.channel_energy(a)).pow(beta)         # b = a / divisor
    channels = a.shape[1]
    channel = int(clamp(channel, 0, channels - 2))

    figure, axes = plt.subplots(2, 4, figsize=(13, 6.2), gridspec_kw={"width_ratios": [1, 1, 1, 1.6]})
    for row, c in enumerate((channel, channel + 1)):
        panels = [(a[0, c], f"before: channel {c} (max {float(a[0, c].max()):.0f})"),
                  (b[0, c], f"after LRN (max {float(b[0, c].max()):.3g})"),
                  (1 / divisor[0, c], "gain 1 / divisor")]
        for axis, (image, text) in zip(axes[row, :3], panels):
            shown = axis.imshow(image.numpy(), cmap="viridis")
            axis.set_title(text, fontsize=9)
            axis.set_xticks([])
            axis.set_yticks([])
        figure.colorbar(shown, ax=axes[row, 2], fraction=0.046)
    energy = a.pow(2).sum(1)[0]
    y, x = divmod(int(energy.argmax()), energy.shape[1])
    before, after = a[0, :, y, x].numpy(), b[0, :, y, x].numpy()
    index = torch.arange(channels).numpy()
    axes[0, 3].bar(index - 0.2, before / before.max(), width=0.4, label="before")
    axes[0, 3].bar(index + 0.2, after / max(after.max(), 1e-12), width=0.4, label="after")
    axes[0, 3].set_title(f"across channels at pixel ({y}, {x}), each scaled to max 1", fontsize=9)
    axes[0, 3].set_xlabel("channel")
    axes[0, 3].legend(fontsize=8)
    axes[1, 3].plot(index, divisor[0, :, y, x].numpy(), "o-")
    axes[1, 3].axhline(k ** beta, color="gray", ls="--", lw=1, label=f"k^beta = {k ** beta:.3g} (silent neighbours)")
    axes[1, 3].set_xlabel("channel")
    axes[1, 3].set_ylabel("divisor (k + alpha sum a^2)^beta")
    axes[1, 3].set_title("the divisor at that pixel", fontsize=9)
    axes[1, 3].legend(fontsize=8)
    title = f"LRN: k = {k:g}, n = {n}, alpha = {alpha:g}, beta = {beta:g}"
    if notes:
        title += "\n(" + "; ".join(notes) + ")"
    figure.suptitle(title)
    figure.tight_layout()
    return figure
