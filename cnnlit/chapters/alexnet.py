"""Chapter 2 (AlexNet): a dropout explorer and a local-response-normalisation explorer. (The
ReLU-against-tanh experiment, its optimiser and the callback that records its error curve, is
written in the notebook.)

- :func:`dropout_explorer` and :func:`lrn_explorer`: plain plotting functions returning a matplotlib
  Figure; out-of-range values are clamped (and the clamp is said in the figure's title), unknown
  choices are refused with a message drawn in the figure.
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import torch

from ..layers.dropout import ClassicDropout
from ..layers.normalization import ALEXNET_LRN, LocalResponseNorm
from ..module_tools import evaluating
from ..widgets import clamp

__all__ = ["MAX_P", "MODES", "dropout_explorer", "dropout_moments", "lrn_explorer"]

DROPOUT_KINDS = ("classic", "inverted")
MODES = ("train", "eval")
MAX_P = 0.95


def _message_figure(text: str):
    figure, axis = plt.subplots(figsize=(6, 1.2))
    axis.axis("off")
    axis.text(0.5, 0.5, text, ha="center", va="center", wrap=True)
    return figure


def dropout_layer(kind: str, p: float) -> torch.nn.Module:
    """The 2012 dropout (scale at test time) or PyTorch's inverted dropout (scale while training).
    """
    return ClassicDropout(p) if kind == "classic" else torch.nn.Dropout(p)


def dropout_moments(p: float, kind: str, a: torch.Tensor, w: torch.Tensor) -> tuple[float, float]:
    """Mean and standard deviation, over training-mode dropout masks, of the next unit's input
    z = sum_j w_j d_j(a_j): each unit kept with probability q = 1 - p, scaled by s = 1 (classic) or
    1/q (inverted), so E[z] = s q sum_j w_j a_j and Var[z] = s^2 q p sum_j (w_j a_j)^2."""
    q = 1.0 - p
    s = 1.0 if kind == "classic" else 1.0 / q
    return s * q * float(w @ a), s * (q * p) ** 0.5 * float((w * a).pow(2).sum().sqrt())


def dropout_explorer(p: float = 0.5, mode: str = "train", kind: str = "classic", units: int = 64,
                     samples: int = 2000, seed: int = 0):
    """What dropout does to a layer's output and to the next unit's input z = w . d(a).
    Left: the layer's activations a and one pass through dropout (in ``mode``). Middle: z over
    ``samples`` passes, its mean against the eval-mode value. Right: the spread of z against p for
    both kinds (the formula of :func:`dropout_moments`), with this run's measurement."""
    if kind not in DROPOUT_KINDS or mode not in MODES:
        return _message_figure(f"kind must be one of {DROPOUT_KINDS} and mode one of {MODES}; "
                               f"got kind={kind!r}, mode={mode!r}")
    notes = []
    if not 0.0 <= p <= MAX_P:
        notes.append(f"p clamped from {p:g}")
        p = clamp(float(p), 0.0, MAX_P)
    units = int(clamp(units, 8, 512))
    samples = int(clamp(samples, 10, 20000))
    generator = torch.Generator().manual_seed(seed)
    # a hidden layer's ReLU outputs
    a = torch.rand(units, generator=generator) * 2
    w = torch.randn(units, generator=generator).abs() / units ** 0.5    # one unit of the next layer
    layer = dropout_layer(kind, p).train(mode == "train")
    torch.manual_seed(seed)
    with torch.no_grad():
        passes = torch.stack([layer(a) for _ in range(samples)])       # (samples, units)
        # the next unit's input, per pass
        z = passes @ w
        with evaluating(layer):
            z_eval = float(w @ layer(a))                                # the eval-mode value
    z_mean, z_std = float(z.mean()), float(z.std()) if samples > 1 else 0.0

    figure, axes = plt.subplots(1, 3, figsize=(12, 3.5), gridspec_kw={"width_ratios": [1.3, 1, 1]})
    shown = min(units, 24)
    index = torch.arange(shown).numpy()
    axes[0].bar(index, a[:shown].numpy(), color="none", edgecolor="gray", label="a (no dropout)")
    axes[0].bar(index, passes[0, :shown].numpy(), width=0.5, color="C0", label=f"one pass ({mode})")
    dropped = int((passes[0] == 0).sum())
    axes[0].set_title(f"{kind} dropout, {mode} mode: {dropped} of {units} units dropped",
                      fontsize=9)
    axes[0].set_xlabel(f"unit (first {shown} of {units})")
    axes[0].legend(fontsize=8)

    full = float(w @ a)                                                 # z without dropout
    axes[1].hist(z.numpy(), bins=torch.linspace(0, 3 * full, 61).numpy(), color="C0", alpha=0.8)
    axes[1].set_xlim(0, 3 * full)
    axes[1].axvline(z_mean, color="k", lw=1.5, label=f"mean {z_mean:.2f}")
    axes[1].axvline(z_eval, color="C3", ls="--", lw=1.5, label=f"eval-mode value {z_eval:.2f}")
    relative = f" = {z_std / abs(z_mean):.0%} of the mean" if z_mean else ""
    axes[1].set_title(f"z = w·d(a) over {samples} passes: std {z_std:.2f}{relative}", fontsize=9)
    axes[1].set_xlabel("next unit's input z")
    axes[1].legend(fontsize=8)

    grid = torch.linspace(0, MAX_P, 96)
    for name, colour in zip(DROPOUT_KINDS, ("C1", "C2")):
        spread = [dropout_moments(float(q), name, a, w)[1] for q in grid]
        axes[2].plot(grid.numpy(), spread, color=colour, label=f"{name}, training (formula)")
    axes[2].axhline(0, color="gray", lw=1, label="either kind, eval mode")
    axes[2].plot([p], [z_std], "ko", label="this run")
    axes[2].set_xlabel("p (probability of dropping a unit)")
    axes[2].set_ylabel("std of z")
    axes[2].set_title("spread of z against p", fontsize=9)
    axes[2].set_ylim(bottom=-0.05)
    axes[2].legend(fontsize=7)
    title = f"dropout p = {p:g}"
    if notes:
        title += f"  ({'; '.join(notes)}, allowed 0 to {MAX_P})"
    figure.suptitle(title)
    figure.tight_layout()
    figure.dropout_values = {"p": p, "mode": mode, "kind": kind, "mean": z_mean, "std": z_std,
                             "eval": z_eval, "formula": dropout_moments(p, kind, a, w)}
    return figure


def lrn_activations(channels: int = 16, size: int = 48, seed: int = 0) -> torch.Tensor:
    """Made-up first-layer responses, (1, channels, size, size): a bundled photo's pixels on the
    paper's 0-255 scale, convolved with random zero-mean 5 x 5 filters, then ReLU. Their magnitudes
    (tens to hundreds) are where alpha = 1e-4 matters, as in AlexNet's conv1."""
    from ..augment import sample_photo

    photo = sample_photo("chelsea").mean(0, keepdim=True)[None] * 255          # grey, 0-255
    photo = torch.nn.functional.interpolate(photo, size=(size + 4, size + 4), mode="area")
    generator = torch.Generator().manual_seed(seed)
    filters = torch.randn(channels, 1, 5, 5, generator=generator)
    filters = (filters - filters.mean((2, 3), keepdim=True)) / 2
    return torch.relu(torch.nn.functional.conv2d(photo, filters))


LRN_LIMITS = {"k": (0.0, 10.0), "n": (1, 15), "alpha": (0.0, 0.01), "beta": (0.0, 2.0)}


def lrn_explorer(k: float = ALEXNET_LRN.k, n: int = ALEXNET_LRN.size,
                 alpha: float = ALEXNET_LRN.alpha,
                 beta: float = ALEXNET_LRN.beta, channel: int = 4):
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
    divisor = layer.divisor(a)
    b = a / divisor                                                   # the layer's output
    channels = a.shape[1]
    channel = int(clamp(channel, 0, channels - 2))

    figure, axes = plt.subplots(2, 4, figsize=(13, 6.2),
                                gridspec_kw={"width_ratios": [1, 1, 1, 1.6]})
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
    axes[1, 3].axhline(k ** beta, color="gray", ls="--", lw=1,
                       label=f"k^beta = {k ** beta:.3g} (silent neighbours)")
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
